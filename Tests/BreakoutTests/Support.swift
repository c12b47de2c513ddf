import CSPro
import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import Testing
import Verification

@testable import Breakout

/// The CSPro fixtures live with the CSPro tests (one copy in the repository); found from this file.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CSProTests/Fixtures")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Destinations the breakout is tested on: SQLite always; PostgreSQL and MariaDB when their URLs are
/// set (always under CI=true, where a missing server is a failure).
enum Destination: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgresql, mysql

    var testDescription: String { rawValue }

    var variable: String? {
        switch self {
        case .sqlite: nil
        case .postgresql: "BREAKOUT_TEST_POSTGRES_URL"
        case .mysql: "BREAKOUT_TEST_MYSQL_URL"
        }
    }

    static var servers: [Destination] {
        [.postgresql, .mysql].filter {
            ProcessInfo.processInfo.environment["CI"] == "true" || ProcessInfo.processInfo.environment[$0.variable!] != nil
        }
    }

    func config() throws -> ConnectionConfig {
        if let variable {
            guard let url = ProcessInfo.processInfo.environment[variable] else {
                throw DatabaseError(
                    .configuration, engine: nil, "\(variable) is not set: run the tests through `make test`, which starts the servers")
            }
            // Destinations load in bulk (LOAD DATA LOCAL INFILE from memory on MySQL).
            return try ConnectionConfig.parse(url: url).forBulkLoad
        }
        return ConnectionConfig(engine: .sqlite, database: temporaryPath("dest.db"))
    }
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("breakout-\(UUID().uuidString)-\(name)").path
}

/// A namespace no other test uses.
func uniqueNamespace() -> String { "t\(UInt32.random(in: 0...UInt32.max))" }

/// A generated CSWeb source in a new SQLite file.
struct GeneratedSource {
    let path: String
    let contents: SyntheticCSWebSource.Contents

    init(cases: Int) throws {
        path = temporaryPath("csweb.db")
        let connection = try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))
        defer { connection.close() }
        contents = try SyntheticCSWebSource.write(CSWebDatabaseWriter(connection: connection), cases: cases)
    }

    func feed() throws -> CSWebFeed {
        try CSWebFeed(
            source: CSWebSource(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))),
            dictionary: SyntheticSurvey.name)
    }

    func writer() throws -> CSWebDatabaseWriter {
        CSWebDatabaseWriter(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: path)))
    }
}

func normalized(_ v: SQLValue) -> String { TableLines.normalized(v) }
