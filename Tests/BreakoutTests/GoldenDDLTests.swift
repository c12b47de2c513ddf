import Breakout
import CSPro
import Foundation
import Generators
import SQL
import Testing
import Verification

/// The schema of the two-level survey in every dialect, compared with reviewed files in `Golden/`.
/// After an intended change: `BREAKOUT_UPDATE_GOLDEN=1 swift test --filter GoldenDDL`, then review the diff.
@Suite struct GoldenDDLTests {
    static let cases: [(file: String, engine: DatabaseEngine, naming: Naming)] = [
        ("postgresql.sql", .postgresql, .csweb), ("mysql.sql", .mysql, .csweb), ("sqlserver.sql", .sqlserver, .csweb),
        ("sqlite.sql", .sqlite, .csweb), ("postgresql-sql-naming.sql", .postgresql, .sql),
    ]

    static func ddl(_ engine: DatabaseEngine, _ naming: Naming) throws -> String {
        let schema = try BreakoutSchema(
            dictionary: SyntheticSurvey.dictionary(), dialect: engine.dialect, options: SchemaOptions(naming: naming))
        let renderer = SQLRenderer(engine.dialect, inlineValues: true)
        // The analyst views and the comments follow the tables (SQL Server's are verified by this file only).
        let statements =
            schema.createStatements() + schema.views.map { .dropView($0.name) } + schema.views.map { .createView($0) }
            + schema.commentStatements(views: true)
        return try statements.flatMap { try renderer.render($0) }.map { $0.sql + ";\n" }.joined()
    }

    @Test(arguments: 0..<5)
    func schemaMatchesGolden(_ index: Int) throws {
        let (file, engine, naming) = Self.cases[index]
        let actual = try Self.ddl(engine, naming)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(file)")
        if ProcessInfo.processInfo.environment["BREAKOUT_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == golden)
    }

    /// The statements that change existing tables: widening a column and swapping a rebuilt shadow in.
    static func migrations(_ engine: DatabaseEngine) throws -> String {
        let dialect = engine.dialect
        let live = try BreakoutSchema(dictionary: SyntheticSurvey.dictionary(), dialect: dialect)
        let shadow = try BreakoutSchema(dictionary: SyntheticSurvey.dictionary(), dialect: dialect, namespace: "census__next")
        let renderer = SQLRenderer(dialect, inlineValues: true)
        let statements: [SQLStatement] = [
            .alterColumnType(live.records[2].table.name, ColumnDefinition("p01_name", .varchar(45))),
            .alterColumnType(live.records[0].table.name, ColumnDefinition("h02_rooms", .bigint)),
            .swapTables(
                TableSwap(
                    live: live.allTables.map(\.name), shadow: shadow.allTables, target: live.allTables,
                    liveNamespace: "census", shadowNamespace: "census__next")),
        ]
        return try statements.flatMap { try renderer.render($0) }.map { $0.sql + ";\n" }.joined()
    }

    @Test(arguments: [DatabaseEngine.postgresql, .mysql, .sqlserver, .sqlite])
    func migrationsMatchGolden(_ engine: DatabaseEngine) throws {
        let actual = try Self.migrations(engine)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/\(engine.rawValue)-migrations.sql")
        if ProcessInfo.processInfo.environment["BREAKOUT_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(actual == (try String(contentsOf: url, encoding: .utf8)))
    }
}
