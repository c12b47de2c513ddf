import DatabaseDriver
import Drivers
import Foundation
import SQL
import Testing

@testable import State

@Suite struct MigrationDebug {
    @Test func sqliteMigratesFromScratch() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID().uuidString).db").path
        let c = try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))
        let store = StateStore(connection: c)
        #expect(try store.migrate() == [1, 2, 3])
        #expect(store.hasColumn(ControlTables.organizations, "managed_by"))
        #expect(!store.hasColumn(ControlTables.organizations, "nope"))
    }
}
