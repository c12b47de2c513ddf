import Breakout
import CSPro
import Foundation
import SQL
import Testing

/// The schema of the two-level survey in every dialect, compared with reviewed files in `Golden/`.
/// After an intended change: `BREAKOUT_UPDATE_GOLDEN=1 swift test --filter GoldenDDL`, then review the diff.
@Suite struct GoldenDDLTests {
    static let cases: [(file: String, engine: DatabaseEngine, naming: Naming)] = [
        ("postgresql.sql", .postgresql, .csweb), ("mysql.sql", .mysql, .csweb), ("sqlserver.sql", .sqlserver, .csweb),
        ("sqlite.sql", .sqlite, .csweb), ("postgresql-sql-naming.sql", .postgresql, .sql),
    ]

    static func ddl(_ engine: DatabaseEngine, _ naming: Naming) throws -> String {
        let schema = try BreakoutSchema(dictionary: SyntheticSurvey.dictionary(), dialect: engine.dialect, options: SchemaOptions(naming: naming))
        let renderer = SQLRenderer(engine.dialect, inlineValues: true)
        return try schema.createStatements().flatMap { try renderer.render($0) }.map { $0.sql + ";\n" }.joined()
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
}
