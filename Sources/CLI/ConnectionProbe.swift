import Drivers
import Foundation
import SQL

/// What `breakout db test` measures on a connection.
enum ConnectionProbe {
    struct Report {
        var target: String
        var server: String
        var roundTripMilliseconds: Double
        var canCreateTables: Bool
        var createProblem: String?

        var text: String {
            var lines = [
                "Connected to \(target)",
                "  server:        \(server)",
                "  round trip:    \(String(format: "%.3f", roundTripMilliseconds)) ms (median of 5 queries)",
                "  create tables: \(canCreateTables ? "yes" : "no")",
            ]
            if let createProblem { lines.append("                 \(createProblem)") }
            return lines.joined(separator: "\n")
        }
    }

    /// Connects, reads the version, times five trivial queries and creates then drops a scratch table.
    static func run(_ config: ConnectionConfig) throws -> Report {
        let connection = try Databases.connect(config)
        defer { connection.close() }
        let server = try connection.serverVersion()
        var samples: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try connection.query("SELECT 1")
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        }
        samples.sort()
        let scratch = QualifiedName("breakout_db_test_\(UInt32.random(in: 0...UInt32.max))")
        var problem: String?
        do {
            try connection.execute(.createTable(TableDefinition(scratch, columns: [ColumnDefinition("id", .integer)], ifNotExists: false)))
            try connection.execute(.dropTable(scratch, ifExists: true))
        } catch let error as DatabaseError {
            problem = error.description
        }
        return Report(
            target: config.description, server: server, roundTripMilliseconds: samples[2],
            canCreateTables: problem == nil, createProblem: problem)
    }

    /// A next step for the person reading the error.
    static func hint(for error: DatabaseError, config: ConnectionConfig) -> String? {
        switch error.kind {
        case .authentication:
            return "check --user and the BREAKOUT_DB_PASSWORD environment variable\(config.password == nil ? " (it is not set)" : "")"
        case .connection where !config.engine.isEmbedded:
            return
                "check that the server runs and accepts TCP connections on \(config.host ?? "localhost"):\(config.port.map(String.init) ?? "default port")"
        case .connection:
            return "check that the file's folder exists and is writable"
        default:
            return nil
        }
    }
}
