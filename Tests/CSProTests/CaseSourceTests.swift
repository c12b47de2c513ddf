import DatabaseDriver
import Foundation
import SQL
import SQLiteDriver
import Testing

@testable import CSPro
@testable import CaseSources

@Suite struct CSDBTests {
    /// The broken-out tables of ThreeLevelTest.csdb read back give the same case as CSPro's JSON of it.
    @Test func csdbTablesReadBackEqualTheSyncJSON() throws {
        let file = try CSDBFile(path: Fixtures.path("cspro/ThreeLevelTest.csdb"))
        let cases = try file.cases()
        try #require(cases.count == 1)
        let json = try JSONCaseDecoder.decodeCase(
            try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json"))),
            layout: file.layout)
        #expect(cases[0].id == json.id)
        #expect(treeDifferences(cases[0].root, json.root) == [])
        #expect(file.dictionary.name == "HOUSEHOLD_DICT")
    }

    /// The CAPI Census and LFS sample files: every case, keys rebuilt from the ids match CSPro's.
    @Test(arguments: [
        "cspro-examples/data/1_Data_Entry__CAPI_Census__Data__Household.csdb",
        "cspro-examples/data/1_Data_Entry__Labor_Force_Survey__Menu__Sample.csdb",
    ])
    func exampleFilesReadWithKeysRebuiltFromIds(path: String) throws {
        let file = try CSDBFile(path: Fixtures.path(path))
        let cases = try file.cases()
        #expect(cases.count == 4)
        for c in cases {
            let ids = file.dictionary.levels[0].ids.map { TextCaseCodec.text(c.root.ids[$0.name] ?? .blank, $0) }.joined()
            #expect(ids == c.key)
        }
        if path.contains("Household") {
            #expect(cases.flatMap { $0.root.records["POPULATION_RECORD"] ?? [] }.count == 7)
            #expect(cases[0].root.records["POPULATION_RECORD"]?.first?["HH_NAME"] == .text("LINCOLN DAVIS"))
            #expect(cases[3].partialSave?.field == "HH_GPS_READING")
            #expect(try file.cases(key: "1109037A0002").map(\.key) == ["1109037A0002"])
        }
    }

    @Test func notACSDBIsAClearError() throws {
        #expect(throws: (any Error).self) { try CSDBFile(path: Fixtures.path("csweb/popstan_census_postman.dcf")) }
    }
}

@Suite struct CSWebSourceTests {
    /// A CSWeb-shaped SQLite database (the same tables as CSWeb's MySQL) with the postman case as a
    /// 7.4 text blob and the ThreeLevelTest case as a JSON blob.
    @Test func readsDictionariesAndDecodesStoredCases() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("csweb-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try SQLiteConnection(path: path)
        defer { db.close() }
        try db.execute(
            "CREATE TABLE cspro_dictionaries (id INTEGER PRIMARY KEY, dictionary_name TEXT, dictionary_label TEXT, dictionary_full_content TEXT)"
        )
        let dcf = try String(contentsOfFile: Fixtures.path("csweb/popstan_census_postman.dcf"), encoding: .utf8)
        let dictionary = try CSProDictionary.parse(Data(dcf.utf8), file: "x")
        try db.execute(
            "INSERT INTO cspro_dictionaries (dictionary_name, dictionary_label, dictionary_full_content) VALUES (?, ?, ?)",
            [.text(dictionary.name), "Popstan", .text(dcf)])
        try db.execute(
            "CREATE TABLE \"\(dictionary.name)\" (id INTEGER PRIMARY KEY, guid BLOB, caseids TEXT, label TEXT, questionnaire BLOB, revision INTEGER, deleted INTEGER, verified INTEGER)"
        )
        let text = try String(contentsOfFile: Fixtures.path("csweb/popstan_census_postman_case.dat"), encoding: .utf8)
        let blob = try CaseBlob.encode(Array(text.utf8))
        let guid: [UInt8] = Array(0..<16)
        try db.execute(
            "INSERT INTO \"\(dictionary.name)\" (guid, caseids, label, questionnaire, revision, deleted, verified) VALUES (?, ?, '', ?, 3, 0, 0)",
            [.blob(guid), "031105600310450311", .blob(blob)])
        try db.execute(
            "INSERT INTO \"\(dictionary.name)\" (guid, caseids, label, questionnaire, revision, deleted, verified) VALUES (?, 'bad', '', ?, 4, 0, 0)",
            [.blob(guid), .blob([1, 2, 3, 4, 5, 6])])
        let source = CSWebSource(connection: db)
        #expect(try source.dictionaryNames() == [dictionary.name])
        let layout = CaseLayout(try source.dictionary(named: dictionary.name))
        let stored = try source.storedCases(dictionary: dictionary.name)
        #expect(stored.map(\.revision) == [3, 4])
        let c = try CSWebSource.decode(stored[0], layout: layout)
        #expect(c.id == "00010203-0405-0607-0809-0a0b0c0d0e0f")
        #expect(TextCaseCodec.encode(c, layout: layout) == TextCaseCodec.lines(of: Data(text.utf8)))
        let error = #expect(throws: CaseDecodingError.self) { try CSWebSource.decode(stored[1], layout: layout) }
        #expect(error?.message.hasPrefix("questionnaire blob:") == true)
        #expect(throws: UnknownDictionaryError.self) { try source.dictionary(named: "NOPE") }
        #expect(try source.storedCases(dictionary: dictionary.name, afterRevision: 3).count == 1)
    }
}

/// Readable differences between two case trees (empty when equal).
func treeDifferences(_ a: CaseNode, _ b: CaseNode, path: String = "level-1") -> [String] {
    var out: [String] = []
    for key in Set(a.ids.keys).union(b.ids.keys).sorted() where a.ids[key] != b.ids[key] {
        out.append("\(path).id.\(key): \(String(describing: a.ids[key])) ≠ \(String(describing: b.ids[key]))")
    }
    for record in Set(a.records.keys).union(b.records.keys).sorted() {
        let x = a.records[record] ?? [], y = b.records[record] ?? []
        if x.count != y.count { out.append("\(path).\(record): \(x.count) ≠ \(y.count) occurrences"); continue }
        for (i, (r, s)) in zip(x, y).enumerated() {
            for item in Set(r.values.keys).union(s.values.keys).sorted() where r.values[item] != s.values[item] {
                out.append("\(path).\(record)[\(i)].\(item): \(String(describing: r.values[item])) ≠ \(String(describing: s.values[item]))")
            }
        }
    }
    if a.children.count != b.children.count { out.append("\(path): \(a.children.count) ≠ \(b.children.count) children") }
    for (i, (x, y)) in zip(a.children, b.children).enumerated() { out += treeDifferences(x, y, path: "\(path)/\(i)") }
    return out
}
