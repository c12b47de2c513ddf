import Drivers
import Foundation
import SQL
import Testing

/// A database the conformance suite runs against: SQLite always; PostgreSQL and MariaDB/MySQL
/// when `BREAKOUT_TEST_POSTGRES_URL` / `BREAKOUT_TEST_MYSQL_URL` are set (scripts/run-tests.sh
/// starts both). Under `CI=true` a missing URL is a failure (see `ServerAvailabilityTests`).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgresql
    case mysql

    var testDescription: String { rawValue }

    var urlVariable: String? {
        switch self {
        case .sqlite: nil
        case .postgresql: "BREAKOUT_TEST_POSTGRES_URL"
        case .mysql: "BREAKOUT_TEST_MYSQL_URL"
        }
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Backends to run: SQLite, plus each server whose URL is set (all of them under CI).
    static var available: [Backend] {
        allCases.filter { backend in
            guard let variable = backend.urlVariable else { return true }
            return isCI || ProcessInfo.processInfo.environment[variable] != nil
        }
    }

    /// The configuration to connect with; a fresh database file for SQLite.
    func config(options: [String: String] = [:]) throws -> ConnectionConfig {
        var config: ConnectionConfig
        if let variable = urlVariable {
            guard let url = ProcessInfo.processInfo.environment[variable] else {
                throw DatabaseError(
                    .configuration, engine: nil, "\(variable) is not set: run the tests through `make test`, which starts the servers")
            }
            config = try ConnectionConfig.parse(url: url)
        } else {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-test-\(UUID().uuidString).db").path
            config = ConnectionConfig(engine: .sqlite, database: path)
        }
        config.options.merge(options) { $1 }
        // The driver tests exercise bulk loads (LOAD DATA LOCAL INFILE on MySQL).
        config.bulkLoad = true
        return config
    }

    func connect(options: [String: String] = [:]) throws -> any DatabaseConnection {
        try Databases.connect(config(options: options))
    }
}

/// A table name no other test (or parallel run) uses.
func uniqueTable(_ stem: String) -> QualifiedName {
    QualifiedName("bt_\(stem)_\(UInt32.random(in: 0...UInt32.max))")
}

/// Drops the table, ignoring errors (used in `defer`).
func dropQuietly(_ connection: any DatabaseConnection, _ table: QualifiedName) {
    _ = try? connection.execute(.dropTable(table, ifExists: true))
}

/// Connects to `backend`, creates a table no other test uses, runs `body` with both, then drops
/// the table and closes the connection.
func withScratchTable<T>(
    _ backend: Backend, _ stem: String, options: [String: String] = [:], columns: [ColumnDefinition],
    primaryKey: [String] = [], _ body: (any DatabaseConnection, QualifiedName) throws -> T
) throws -> T {
    let connection = try backend.connect(options: options)
    defer { connection.close() }
    let table = uniqueTable(stem)
    defer { dropQuietly(connection, table) }
    try connection.execute(.createTable(TableDefinition(table, columns: columns, primaryKey: primaryKey)))
    return try body(connection, table)
}

/// The columns of the bulk-load rows (`BulkRows`).
let bulkColumns = [
    ColumnDefinition("id", .bigint, nullable: false), ColumnDefinition("n", .integer),
    ColumnDefinition("d", .decimal(precision: 12, scale: 3)), ColumnDefinition("s", .varchar(64)), ColumnDefinition("t", .text),
]
