import Drivers
import Foundation
import Testing

/// Under CI=true the PostgreSQL and MariaDB servers must be there: a missing one fails the run.
@Suite struct ServerAvailabilityTests {
    @Test(.enabled(if: Backend.isCI), arguments: [Backend.postgresql, .mysql])
    func serverIsReachableInCI(backend: Backend) throws {
        let connection = try backend.connect()
        defer { connection.close() }
        let version = try connection.serverVersion()
        #expect(!version.isEmpty)
    }
}
