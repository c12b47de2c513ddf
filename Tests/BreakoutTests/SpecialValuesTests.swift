import CSPro
import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import SQLiteDriver
import Testing
import Verification

@testable import Breakout

/// `specials:` (issue 20, point 3): the three modes against CSPro's own breakout of the
/// ThreeLevelTest case (which holds REFUSED and MISSING as mapped codes, DEFAULT as 1e52 and
/// NOTAPPL as NULL) and against the generated survey on every destination engine.
@Suite struct SpecialValuesTests {
    static let destinations: [Destination] = [.sqlite] + Destination.servers

    /// What CSPro's `.csdb` holds for a special value that no value set maps to a code.
    /// (CSPro computes them: DEFAULT is stored as 9.999999999999999e+51.)
    static func special(ofCSProDouble d: Double) -> Special? {
        let specials: [(Double, Special)] = [(1e50, .missing), (1e51, .notApplicable), (1e52, .default), (1e55, .refused)]
        return specials.first { abs(d / $0.0 - 1) < 1e-9 }?.1
    }

    /// A numeric cell of CSPro's own table: the special value it means, if any (NULL is
    /// NOTAPPL; a code the item's first value set maps to a special value means that one).
    static func special(_ cell: SQLValue, _ item: Item) -> Special? {
        if cell.isNull { return .notApplicable }
        let d: Double? =
            switch cell {
            case .integer(let i): Double(i)
            case .double(let x): x
            case .text(let t): Double(t.trimmingCharacters(in: .whitespaces))
            default: nil
            }
        // Text that is no number in a numeric item (`12*4`) is what CSPro reads as DEFAULT.
        guard let d else { return .default }
        if let s = special(ofCSProDouble: d) { return s }
        for value in item.valueSets.first?.values ?? [] where value.special != nil {
            if value.pieces.contains(where: { Double($0.from) == d }) { return value.special }
        }
        return nil
    }

    /// The code the item's first value set gives a special value.
    static func code(_ s: Special, _ item: Item) -> String? {
        item.valueSets.first?.values.first { $0.special == s }?.pieces.first?.from
    }

    func breakOutThreeLevel(_ specials: SpecialValues) throws -> (BreakoutSchema, any DatabaseConnection) {
        let dictionary = try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf"))
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json")))
        let c = try JSONCaseDecoder.decodeCase(json, layout: CaseLayout(dictionary))
        let config = ConnectionConfig(engine: .sqlite, database: temporaryPath("three.db"))
        let engine = try BreakoutEngine(
            feed: SnapshotFeed(dictionary: dictionary, cases: [c], fingerprint: "x", description: "json"),
            dialect: config.engine.dialect, options: SchemaOptions(specials: specials), connect: { try Databases.connect(config) })
        _ = try engine.run(RunOptions())
        return (engine.schema, try Databases.connect(config))
    }

    @Test(arguments: [SpecialValues.codes, .columns])
    func theThreeLevelCaseAgainstCSProsOwnTables(_ mode: SpecialValues) throws {
        let (schema, ours) = try breakOutThreeLevel(mode)
        defer { ours.close() }
        let csdb = try SQLiteConnection(path: Fixtures.path("cspro/ThreeLevelTest.csdb"), readOnly: true)
        defer { csdb.close() }
        var seen: [Special: Int] = [:]
        for record in schema.records {
            let theirs = try csdb.query("SELECT * FROM \"\(record.recordName.lowercased())\" ORDER BY \"\(record.idColumn)\"")
            let mine = try ours.query(.select(Select(from: record.table.name, orderBy: [SortKey(record.idColumn)])))
            #expect(mine.count == theirs.count)
            for (a, b) in zip(mine, theirs) {
                for column in record.columns where column.item.contentType == .numeric && !column.holdsSpecial {
                    let cell = b[column.name] ?? .null
                    let special = Self.special(cell, column.item)
                    if let special { seen[special, default: 0] += 1 }
                    let value = normalized(a[column.name] ?? .null)
                    switch mode {
                    case .columns:
                        let flag = a[column.name + "-special"] ?? .null
                        #expect(flag.string == special?.rawValue, "\(column.name): \(flag) for \(cell)")
                        #expect(value == (special == nil ? OracleTests.fromCSPro(cell) : normalized(.null)), "\(column.name)")
                    case .codes:
                        let expected: String =
                            switch special {
                            case nil: OracleTests.fromCSPro(cell)
                            case .notApplicable: normalized(.null)
                            case let s?: Self.code(s, column.item) ?? normalized(.null)
                            }
                        #expect(value == expected, "\(column.name): \(value) for \(cell)")
                    case .null: break
                    }
                }
            }
        }
        // Each record's view, three levels deep, returns the record's rows (the case is current).
        for (record, view) in zip(schema.records, schema.views) {
            let rows = try ours.query(.select(.count(from: record.table.name))).first?[0].int64
            #expect(try ours.query(.select(.count(from: view.name))).first?[0].int64 == rows, "\(view.name)")
        }
        // The case really has each kind: REFUSED (8) and MISSING (99) as codes, DEFAULT, NOTAPPL.
        #expect(seen.count == 4, "\(seen)")
        #expect(seen[.refused] ?? 0 >= 1 && seen[.missing] ?? 0 >= 1 && seen[.default] ?? 0 >= 1 && seen[.notApplicable] ?? 0 >= 1)
    }

    /// The generated survey writes REFUSED as a JSON special value and, from CSPro 7.4 clients, as
    /// its code 999: each mode gives both the same meaning, row for row against `null`.
    @Test(arguments: destinations)
    func theModesAgreeRowForRow(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 400)
        let config = try destination.config()
        var schemas: [SpecialValues: BreakoutSchema] = [:]
        defer { for schema in schemas.values { dropNamespace(schema, config) } }
        var ages: [SpecialValues: [Int64: (value: SQLValue, flag: SQLValue)]] = [:]
        let c = try Databases.connect(config)
        defer { c.close() }
        for mode in SpecialValues.allCases {
            let engine = try BreakoutEngine(
                feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(specials: mode),
                namespace: uniqueNamespace(), connect: { try Databases.connect(config) })
            schemas[mode] = engine.schema
            _ = try engine.run(RunOptions(chunkSize: 90))
            let person = try #require(engine.schema.records.first { $0.recordName == "PERSON" })
            let flag = mode == .columns ? ["p03_age-special"] : []
            var rows: [Int64: (SQLValue, SQLValue)] = [:]
            for row in try c.query(.select(Select(from: person.table.name, columns: [person.idColumn, "p03_age"] + flag))) {
                rows[row[0].int64!] = (row[1], mode == .columns ? row[2] : .null)
            }
            ages[mode] = rows
        }
        let plain = try #require(ages[.null]), codes = try #require(ages[.codes]), columns = try #require(ages[.columns])
        #expect(plain.count == codes.count && plain.count == columns.count && plain.count > 1000)
        var asNull = 0, asCode = 0
        for (id, p) in plain {
            let code = codes[id]!.value, column = columns[id]!
            if p.value.int64 == 999 || (p.value.isNull && code.int64 == 999) {
                if p.value.isNull { asNull += 1 } else { asCode += 1 }
                #expect(code.int64 == 999)
                #expect(column.value.isNull && column.flag.string == "REFUSED", "\(id)")
            } else if p.value.isNull {
                #expect(code.isNull)
                #expect(column.value.isNull && column.flag.string == "NOTAPPL", "\(id)")
            } else {
                #expect(normalized(code) == normalized(p.value) && normalized(column.value) == normalized(p.value))
                #expect(column.flag.isNull)
            }
        }
        #expect(asNull > 0 && asCode > 0, "REFUSED arrives both as a special value (\(asNull)) and as its code (\(asCode))")

        // The view carries the flag; the label of the code in `codes`.
        let columnsView = try #require(schemas[.columns]?.views.first { $0.name.name.hasSuffix("person_view") })
        let refused = try c.query(.select(.count(from: columnsView.name, where: .equals("p03_age_special", .text("REFUSED")))))
        #expect((refused.first?[0].int64 ?? 0) > 0)
        let codesView = try #require(schemas[.codes]?.views.first { $0.name.name.hasSuffix("person_view") })
        let labelled = try c.query(.select(.count(from: codesView.name, where: .equals("p03_age_label", .text("Refused")))))
        #expect((labelled.first?[0].int64 ?? 0) > 0)
    }

    /// Changing `specials:` changes cells, not only columns: the plan says rebuild, and the run does.
    @Test func aChangeOfModeRebuilds() throws {
        let source = try GeneratedSource(cases: 40)
        let config = try Destination.sqlite.config()
        let namespace = uniqueNamespace()
        func engine(_ mode: SpecialValues) throws -> BreakoutEngine {
            try BreakoutEngine(
                feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(specials: mode), namespace: namespace,
                connect: { try Databases.connect(config) })
        }
        _ = try engine(.null).run(RunOptions())
        let report = try engine(.columns).dryRun(connection: try Databases.connect(config), chunkSize: 100)
        #expect(report.schemaAction == .rebuild)
        #expect(report.schemaChanges.contains("specials changes from null to columns"), "\(report.schemaChanges)")
        let summary = try engine(.columns).run(RunOptions())
        #expect(summary.schema.hasPrefix("rebuilt in"), "\(summary.schema)")
        #expect(summary.cases > 0)
    }
}
