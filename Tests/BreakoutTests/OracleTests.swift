import CaseSources
import Drivers
import Foundation
import SQL
import SQLiteDriver
import Testing
import Verification

@testable import Breakout
@testable import CSPro

/// Breakouts checked against data CSPro itself wrote.
@Suite struct OracleTests {
    /// A CSPro table value as the breakout writes it: specials (stored as 1e50…1e55) and blanks
    /// are NULL, alpha values lose CSPro's trailing blank padding (all blank is NULL).
    static func fromCSPro(_ v: SQLValue) -> String {
        switch v {
        case .double(let d) where d >= 1e50: return "∅"
        case .text(let s):
            var t = Substring(s)
            while t.last == " " { t = t.dropLast() }
            return t.isEmpty ? "∅" : String(t)
        default: return normalized(v)
        }
    }

    /// `ThreeLevelTest.csdb` holds CSPro's own breakout of one three-level case whose sync JSON is in
    /// CSPro's test suite. Breaking out that JSON must give the same tables, cell by cell.
    @Test func threeLevelCaseMatchesCSProsOwnTables() throws {
        let dictionary = try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf"))
        let layout = CaseLayout(dictionary)
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json")))
        let c = try JSONCaseDecoder.decodeCase(json, layout: layout)
        let path = temporaryPath("three.db")
        let config = ConnectionConfig(engine: .sqlite, database: path)
        let engine = try BreakoutEngine(
            feed: SnapshotFeed(dictionary: dictionary, cases: [c], fingerprint: "x", description: "json"),
            dialect: config.engine.dialect, options: SchemaOptions(), connect: { try Databases.connect(config) })
        let summary = try engine.run(RunOptions())
        #expect(summary.newCases == 1)

        let ours = try Databases.connect(config)
        defer { ours.close() }
        let csdb = try SQLiteConnection(path: Fixtures.path("cspro/ThreeLevelTest.csdb"), readOnly: true)
        defer { csdb.close() }
        var cells = 0
        var ranks: [String: [Int64: Int]] = [:]  // id column → (id → rank) on each side
        var ourRanks: [String: [Int64: Int]] = [:]
        let tables =
            engine.schema.levels.map { ($0.table, "level-\($0.level + 1)", $0.idColumn) }
            + engine.schema.records.map { ($0.table, $0.recordName.lowercased(), $0.idColumn) }
        #expect(tables.count == 7)  // three levels, four records
        for (table, csproName, idColumn) in tables {
            let theirs = try csdb.query("SELECT * FROM \"\(csproName)\" ORDER BY \"\(idColumn)\"")
            let mine = try ours.query(.select(Select(from: table.name, orderBy: [SortKey(idColumn)])))
            #expect(mine.count == theirs.count, "\(csproName): \(mine.count) rows, CSPro has \(theirs.count)")
            guard let first = theirs.first, let mineFirst = mine.first else { continue }
            #expect(mineFirst.columns == first.columns, "\(csproName): columns differ")
            ranks[idColumn] = Dictionary(uniqueKeysWithValues: theirs.enumerated().map { ($1[idColumn]!.int64!, $0) })
            ourRanks[idColumn] = Dictionary(uniqueKeysWithValues: mine.enumerated().map { ($1[idColumn]!.int64!, $0) })
            for (a, b) in zip(mine, theirs) {
                for column in first.columns {
                    let x = a[column] ?? .null, y = b[column] ?? .null
                    if column.hasSuffix("-id") {
                        // Surrogate keys differ by design; the structure they encode must not.
                        #expect(ourRanks[column]?[x.int64 ?? -1] == ranks[column]?[y.int64 ?? -1], "\(csproName).\(column)")
                    } else {
                        #expect(
                            normalized(x) == Self.fromCSPro(y), "\(csproName).\(column): \(normalized(x)) vs CSPro \(Self.fromCSPro(y))")
                    }
                    cells += 1
                }
            }
        }
        #expect(cells >= 86)
        // The csdb's case row and our cases row name the same case.
        let caseRow = try ours.query(.select(Select(from: engine.schema.cases.name))).first
        #expect(caseRow?["id"]?.string == "997f1b93-b3c7-468e-ba29-7c9b799a0281")
        #expect(caseRow?["key"]?.string == (try csdb.query("SELECT \"key\" FROM cases").first?[0].string))
    }

    /// The `.csdb` source path (cases read back from CSPro's own tables) gives the same breakout.
    @Test func csdbSourceGivesTheSameTables() throws {
        let dictionary = try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf"))
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json")))
        let c = try JSONCaseDecoder.decodeCase(json, layout: CaseLayout(dictionary))
        func dump(_ feed: any CaseFeed) throws -> [String: [String]] {
            let config = ConnectionConfig(engine: .sqlite, database: temporaryPath("d.db"))
            let engine = try BreakoutEngine(
                feed: feed, dialect: config.engine.dialect, options: SchemaOptions(), connect: { try Databases.connect(config) })
            _ = try engine.run(RunOptions())
            let conn = try Databases.connect(config)
            defer { conn.close() }
            var d = try logicalDump(conn, engine.schema)
            d["cases"] = nil  // the csdb has no revision and keeps its own label
            return d
        }
        let fromCSDB = try dump(try SnapshotFeed.csdb(paths: [Fixtures.path("cspro/ThreeLevelTest.csdb")]))
        let fromJSON = try dump(SnapshotFeed(dictionary: dictionary, cases: [c], fingerprint: "x", description: "json"))
        // The csdb keeps alpha padding; the breakout trims it either way.
        #expect(differences(fromCSDB, fromJSON) == [])
    }

    static let datFiles: [(data: String, dictionary: String)] = [
        (
            "cspro-examples/data/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__smallStan.dat",
            "cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__Popstan.dcf"
        ),
        (
            "cspro-examples/data/2_Edits___Batch_Programs__Writing_a_CSV_File__PopstanEx.dat",
            "cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Writing_a_CSV_File__Popstan2.dcf"
        ),
        ("csweb/popstan_census_postman_case.dat", "csweb/popstan_census_postman.dcf"),
    ]

    /// Every `.dat` fixture breaks out with one row per record line, and every column holds what the
    /// line's text says at the item's position (read here from the raw line, not through the case model).
    @Test(arguments: 0..<3)
    func datFixturesBreakOutLineByLine(_ index: Int) throws {
        let (dataPath, dictionaryPath) = Self.datFiles[index]
        let dictionary = try CSProDictionary.load(path: Fixtures.path(dictionaryPath))
        let feed = try SnapshotFeed.dat(path: Fixtures.path(dataPath), dictionary: dictionary)
        let config = ConnectionConfig(engine: .sqlite, database: temporaryPath("dat.db"))
        let engine = try BreakoutEngine(
            feed: feed, dialect: config.engine.dialect, options: SchemaOptions(), connect: { try Databases.connect(config) })
        let summary = try engine.run(RunOptions(chunkSize: 16))
        #expect(summary.failedCases == 0)
        let conn = try Databases.connect(config)
        defer { conn.close() }

        var text = try String(contentsOfFile: Fixtures.path(dataPath), encoding: .utf8)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }.map(String.init).filter {
            !$0.hasPrefix("~")
        }
        func field(_ line: [Character], _ start: Int, _ length: Int) -> String {
            guard start - 1 < line.count else { return "" }
            return String(line[(start - 1)..<min(line.count, start - 1 + length)])
        }
        func expected(_ raw: String, _ item: Item) -> String {
            let t = raw.trimmingCharacters(in: .whitespaces)
            if item.contentType == .alpha {
                var s = Substring(raw)
                while s.last == " " { s = s.dropLast() }
                return s.isEmpty ? "∅" : String(s)
            }
            guard !t.isEmpty, var d = Double(t) else { return "∅" }
            if item.decimals > 0, !item.decimalMark { d /= pow(10, Double(item.decimals)) }
            return SQLDecimal.format(d)
        }
        var checked = 0
        for record in engine.schema.records {
            let r = dictionary.levels[record.level].records.first { $0.name == record.recordName }!
            let ofType = lines.filter { field(Array($0), dictionary.recordTypeStart, dictionary.recordTypeLength) == r.typeValue }
            let rows = try conn.query(.select(Select(from: record.table.name, orderBy: [SortKey(record.idColumn)])))
            #expect(rows.count == ofType.count, "\(record.recordName): \(rows.count) rows for \(ofType.count) lines")
            for (row, line) in zip(rows, ofType) {
                let chars = Array(line)
                for column in record.columns {
                    let item = column.item
                    var start = item.start + column.occurrence * item.length
                    if let parentName = item.parent, let parent = r.items.first(where: { $0.name == parentName }), parent.occurrences > 1 {
                        start = item.start + column.occurrence * parent.length
                    }
                    let want = expected(field(chars, start, item.length), item)
                    #expect(normalized(row[column.name] ?? .null) == want, "\(record.recordName).\(column.name) of line \(line)")
                    checked += 1
                }
            }
        }
        let cases = try conn.query(.select(.count(from: engine.schema.levels[0].table.name))).first?[0].int64 ?? 0
        #expect(Int(cases) == feed.all.count)
        #expect(checked > 0)
    }
}
