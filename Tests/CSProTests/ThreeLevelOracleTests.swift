import DatabaseDriver
import Foundation
import Generators
import SQL
import SQLiteDriver
import Testing

@testable import CSPro

/// `ThreeLevelTest.csdb` holds one case broken out by CSPro itself, and CSPro's test suite holds the
/// JSON its sync writer produces for that case. Decoding the JSON must give exactly the values in
/// CSPro's tables, every cell. Encoding differences, by design of CSPro's SQLite writer:
/// - `level-1`.`case-id` is the case UUID, not the key;
/// - alpha values keep their trailing blanks there (the JSON right-trims them) and an all-blank
///   alpha value is stored as blanks, not NULL;
/// - blank numeric values are NULL; DEFAULT is stored as the double 1e52 (MISSING 1e50, REFUSED 1e55);
/// - codes that a value set maps to a special value stay codes (P04_AGE 99, P03_SEX 8).
@Suite struct ThreeLevelOracleTests {
    static func csdbValue(_ value: CaseValue, _ item: Item) -> SQLValue {
        if item.contentType != .numeric {
            let text: String = if case .text(let s) = value { s } else { "" }
            return .text(text + String(repeating: " ", count: max(0, item.length - text.count)))
        }
        switch value {
        case .blank: return .null
        case .number(let v): return .double(v)
        case .invalid: return .double(1e52)
        case .special(let s):
            switch s {
            case .missing: return .double(1e50)
            case .refused: return .double(1e55)
            case .default: return .double(1e52)
            case .notApplicable: return .null
            }
        case .text(let s): return .text(s)
        }
    }

    static func same(_ a: SQLValue, _ b: SQLValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.text(let x), .text(let y)): return x == y
        case (.double(let x), .integer(let y)), (.integer(let y), .double(let x)): return x == Double(y)
        case (.double(let x), .double(let y)): return x == y || abs(x - y) <= abs(y) * 1e-12
        default: return a == b
        }
    }

    @Test func jsonCaseMatchesCSProsTablesCellByCell() throws {
        let dictionary = try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf"))
        let layout = CaseLayout(dictionary)
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json")))
        let c = try JSONCaseDecoder.decodeCase(json, layout: layout)
        #expect(c.id == "997f1b93-b3c7-468e-ba29-7c9b799a0281")
        #expect(c.key == "01010010011 1")

        let csdb = try SQLiteConnection(path: Fixtures.path("cspro/ThreeLevelTest.csdb"), readOnly: true)
        defer { csdb.close() }
        // The level tables: case-id, ids, and occ below level 1.
        var nodes: [[CaseNode]] = [[c.root]]
        while let last = nodes.last, !last.flatMap(\.children).isEmpty { nodes.append(last.flatMap(\.children)) }
        var cells = 0
        for (l, level) in dictionary.levels.enumerated() {
            let rows = try csdb.query(
                "SELECT * FROM \(try csdb.dialect.quote("level-\(l + 1)")) ORDER BY \(try csdb.dialect.quote("level-\(l + 1)-id"))")
            try #require(rows.count == nodes[l].count)
            for (row, node) in zip(rows, nodes[l]) {
                if l == 0 { #expect(row["case-id"] == .text(c.id!)); cells += 1 }
                for id in level.ids {
                    let expected = Self.csdbValue(node.ids[id.name] ?? .blank, id)
                    #expect(
                        Self.same(row[id.name.lowercased()] ?? .null, expected),
                        "level-\(l + 1).\(id.name): \(String(describing: row[id.name.lowercased()])) vs \(expected)")
                    cells += 1
                }
            }
        }
        // The record tables: one row per record occurrence, one column per item occurrence.
        for record in layout.records {
            let occurrences = nodes[record.level].flatMap { $0.records[record.record.name] ?? [] }
            let table = record.record.name.lowercased()
            let rows = try csdb.query("SELECT * FROM \(try csdb.dialect.quote(table)) ORDER BY \(try csdb.dialect.quote("\(table)-id"))")
            try #require(rows.count == occurrences.count, "\(table)")
            for (row, values) in zip(rows, occurrences) {
                for f in record.fields {
                    for k in 0..<f.occurrences {
                        let column = f.occurrences == 1 ? f.item.name.lowercased() : "\(f.item.name.lowercased())(\(k + 1))"
                        let expected = Self.csdbValue(values[f.item.name, k], f.item)
                        let actual = row[column]
                        #expect(actual != nil, "\(table).\(column) missing")
                        #expect(
                            Self.same(actual ?? .null, expected),
                            "\(table).\(column): CSPro \(String(describing: actual)) vs decoded \(expected)")
                        cells += 1
                    }
                }
            }
        }
        // Every data column of every CSPro table was compared (keys and occ aside).
        var columns = 0
        let tables = ["level-1", "level-2", "level-3"] + layout.records.map { $0.record.name.lowercased() }
        for table in tables {
            for column in try csdb.query("SELECT name FROM pragma_table_info('\(table)')") {
                let name = column[0].string ?? ""
                if !name.hasSuffix("-id") && name != "occ" { columns += 1 }
            }
        }
        #expect(cells == columns + 1)  // + case-id, which ends in "-id" too
        #expect(cells == 70)
    }

    @Test func blobsWithEitherHeaderDecodeToTheSameCase() throws {
        let layout = CaseLayout(try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf")))
        let json = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json")))
        let whole = try JSONCaseDecoder.decodeCase(json, layout: layout)
        // CSWeb stores only the level-1 object.
        let object = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        let level1 = try JSONSerialization.data(withJSONObject: object["level-1"]!)
        let lengthHeader = try CaseBlob.encode(Array(level1))
        let gzipHeader = [0x1F, 0x8B, 0x08, 0x00] + lengthHeader.dropFirst(4)
        for blob in [lengthHeader, Array(gzipHeader)] {
            let c = try CaseBlob.decode(blob, layout: layout, id: whole.id, key: whole.key)
            #expect(c.root == whole.root)
        }
        #expect(throws: CaseDecodingError.self) { try CaseBlob.decode([1, 2, 3], layout: layout) }
        #expect(throws: CaseDecodingError.self) { try CaseBlob.decode(Array(lengthHeader.prefix(lengthHeader.count - 10)), layout: layout) }
        var corrupt = lengthHeader
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(throws: CaseDecodingError.self) { try CaseBlob.decode(corrupt, layout: layout) }
    }

    /// The inflater (libdeflate) reads streams written by zlib itself, whatever the header claims.
    @Test func inflaterReadsZlibStreamsWithAnyHeader() throws {
        // zlib 1.2.13 `compress2("hello", level 6)`, as PHP's gzcompress writes it.
        let zlibHello: [UInt8] = [0x78, 0x9C, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x06, 0x2C, 0x02, 0x15]
        for header: [UInt8] in [[5, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0x7F], [0x1F, 0x8B, 0x08, 0x00]] {
            #expect(try CaseBlob.inflate(header + zlibHello) == Array("hello".utf8), "header \(header)")
            #expect(try CaseBlob.inflate(header + zlibHello + [0xAA, 0xBB]) == Array("hello".utf8), "trailing bytes ignored")
        }
        // A large case whose header is missing (gzip magic): the buffer grows until it fits.
        let big = Array(String(repeating: "{\"P04_AGE\":41,\"NAME\":\"Awa\"},", count: 20_000).utf8)
        let blob = try CaseBlob.encode(big)
        #expect(try CaseBlob.inflate([0x1F, 0x8B, 0x08, 0x00] + blob.dropFirst(4)) == big)
        #expect(try CaseBlob.inflate([9, 0, 0, 0] + blob.dropFirst(4)) == big)
        // Truncated, corrupt, and a bomb past the 64 MiB cap.
        let truncated = #expect(throws: CaseDecodingError.self) { try CaseBlob.inflate(Array(blob.prefix(blob.count / 2))) }
        #expect(truncated?.message == "questionnaire blob: corrupt or truncated zlib data")
        var corrupt = [5, 0, 0, 0] + zlibHello
        corrupt[corrupt.count - 1] ^= 0x01  // the Adler-32 checksum
        #expect(throws: CaseDecodingError.self) { try CaseBlob.inflate(corrupt) }
        let bomb = try CaseBlob.encode([UInt8](repeating: 0x20, count: ZlibInflater.maximumOutput + 1))
        let refused = #expect(throws: CaseDecodingError.self) { try CaseBlob.inflate(bomb) }
        #expect(refused?.message.contains("inflates to more than 64 MiB") == true)
    }

    /// The 7.4 `data` form and the 7.5+ `level-1` form of the same cases decode to the same values.
    @Test func bothSyncFormsOfTestDictAgree() throws {
        let layout = CaseLayout(try CSProDictionary.load(path: Fixtures.path("cspro/TestDict.dcf")))
        let modern = try JSONCaseDecoder.decodeCases(
            try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/TestDict.expected_sync_cases.json"))), layout: layout)
        let compat = try JSONCaseDecoder.decodeCases(
            try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cspro/TestDict.expected_sync_cases_74compat.json"))), layout: layout)
        try #require(modern.count == 2 && compat.count == 2)
        for (a, b) in zip(modern, compat) {
            #expect(a.id == b.id && a.key == b.key && a.label == b.label)
            #expect(a.root.records["TESTDICT_REC"]?.map { $0["TEST_ITEM"] } == b.root.records["TESTDICT_REC"]?.map { $0["TEST_ITEM"] })
            #expect(a.root.ids == b.root.ids)
            #expect(a.notes == b.notes)
            #expect(a.partialSave == b.partialSave)
        }
        #expect(modern[0].root.records["TESTDICT_REC"]?.first?["TEST_ITEM"] == .text("somedata"))
        #expect(modern[0].notes.first?.content == "Note 1")
        #expect(modern[1].partialSave?.mode == "add")
    }
}

@Suite struct JSONCaseEncoderTests {
    /// Decoding CSPro's JSON and writing it again gives CSPro's `level-1` text byte for byte.
    @Test func threeLevelCaseWritesBackToCSProsExactJSON() throws {
        let layout = CaseLayout(try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf")))
        let text = try String(contentsOfFile: Fixtures.path("cspro/ThreeLevelTest.expected_sync_case.json"), encoding: .utf8)
        let c = try JSONCaseDecoder.decodeCase(Data(text.utf8), layout: layout)
        let level1 = String(text[text.range(of: "\"level-1\":")!.upperBound...].dropLast(text.hasSuffix("\n") ? 2 : 1))
        #expect(JSONCaseEncoder.encode(c.root, layout: layout) == level1)
    }
}

@Suite struct FastParserTests {
    /// The byte-level parser on the hot path gives exactly what the reference decoder gives.
    @Test func fastParserAgreesWithTheReferenceDecoder() throws {
        let layout = CaseLayout(SyntheticCensus.dictionary())
        for n in 0..<300 {
            let json = JSONCaseEncoder.encode(SyntheticCensus.makeCase(n).root, layout: layout)
            let reference = try JSONCaseDecoder.decodeLevel(Data(json.utf8), layout: layout)
            let fast = try Array(json.utf8).withUnsafeBufferPointer { try layout.fastParser.parseLevel($0) }
            #expect(fast == reference, "case \(n)")
            #expect(fast == SyntheticCensus.makeCase(n).root, "case \(n)")
        }
        // Two levels, item occurrences, decimals.
        let survey = SyntheticSurvey.layout
        for n in 0..<100 {
            let json = JSONCaseEncoder.encode(SyntheticSurvey.makeCase(n).root, layout: survey)
            let fast = try Array(json.utf8).withUnsafeBufferPointer { try survey.fastParser.parseLevel($0) }
            #expect(fast == (try JSONCaseDecoder.decodeLevel(Data(json.utf8), layout: survey)), "survey case \(n)")
            #expect(fast == SyntheticSurvey.makeCase(n).root, "survey case \(n)")
        }
    }

    /// Keys out of dictionary order, escaped, missing or unknown; alpha values with trailing
    /// spaces; item occurrences given partly. Parsed values are compared with the reference.
    @Test func keysInAnyOrderAndForm() throws {
        let census = CaseLayout(SyntheticCensus.dictionary())
        let person =
            #"{"P19_PHONE":2,"LINE":3,"NAME":"Awa  ","P04_AGE":41,"P\u0030\u0033_SEX":2,"ZZZ":[1],"P02_REL":"","P05_MS":"DEFAULT"}"#
        let json = #"{"PERSON":["# + person + #",{"NAME":"   "}],"id":{"EA":7,"PROVINCE":"3"},"HOUSING":{"H13_DEATHS":1,"H01_TYPE":2}}"#
        let node = try Array(json.utf8).withUnsafeBufferPointer { try census.fastParser.parseLevel($0) }
        #expect(node == (try JSONCaseDecoder.decodeLevel(Data(json.utf8), layout: census)))
        let p = try #require(node.records["PERSON"]?.first)
        #expect(p["NAME"] == .text("Awa") && p["P04_AGE"] == .number(41) && p["P03_SEX"] == .number(2) && p["LINE"] == .number(3))
        #expect(p["P02_REL"] == .blank && p["P05_MS"] == .special(.default) && p["P19_PHONE"] == .number(2) && p["P06_MOTHER"] == .blank)
        #expect(node.records["PERSON"]?.last?["NAME"] == .blank)
        #expect(node.ids["PROVINCE"] == .number(3) && node.ids["EA"] == .number(7) && node.ids["DISTRICT"] == .blank)
        #expect(node.records["HOUSING"]?.first?["H13_DEATHS"] == .number(1) && node.records["HOUSING"]?.first?["H02_WALL"] == .blank)

        let survey = SyntheticSurvey.layout
        let withOccurrences = #"{"HOUSING":{"H04_ASSETS":[1,null,"3"],"H03_RENT":12.5}}"#
        let surveyNode = try Array(withOccurrences.utf8).withUnsafeBufferPointer { try survey.fastParser.parseLevel($0) }
        #expect(surveyNode == (try JSONCaseDecoder.decodeLevel(Data(withOccurrences.utf8), layout: survey)))
    }

    /// The fast paths (a key compared with its closing quote and colon at once, a space skipped
    /// only when there is one, integers without a division) against JSON that takes the slow
    /// ones: spaces and newlines everywhere, a key that is a prefix of the expected name or
    /// the expected name plus more, a key cut off at the end of the buffer, signed and decimal
    /// numbers, exponents and 16-digit integers.
    @Test func compactAndSpacedJSONParseTheSame() throws {
        let census = CaseLayout(SyntheticCensus.dictionary())
        let survey = SyntheticSurvey.layout
        let documents: [(CaseLayout, String)] = [
            (
                census,
                #"{ "id" : { "PROVINCE" : 1 , "DISTRICT":2 } ,"PERSON" :[ {"LINE" :1,"NAM":"x","NAME" : "Awa" ,"P04_AGE"  :  -0 } ]}"#
            ),
            (census, "{\n  \"PERSON\": [\n    {\n      \"LINE\": 1,\n      \"P04_AGE\": 7\n    }\n  ]\n}\n"),
            (census, #"{"PERSON":[{"LINE":1,"LINEX":4,"P04_AGE":-12,"P19_PHONE":1234567890123456}]}"#),
            (census, #"{"PERSON":[{"LINE":1,"P04_AGE":4.0e1,"P19_PHONE":-3.25}]}"#),
            (survey, #"{"HOUSING":{"H03_RENT":-12.5,"H04_ASSETS":[ 1 , -2 ,3.75 ]}}"#),
        ]
        for (layout, json) in documents {
            let fast = try Array(json.utf8).withUnsafeBufferPointer { try layout.fastParser.parseLevel($0) }
            #expect(fast == (try JSONCaseDecoder.decodeLevel(Data(json.utf8), layout: layout)), "\(json)")
        }
        let node = try Array(documents[0].1.utf8).withUnsafeBufferPointer { try census.fastParser.parseLevel($0) }
        #expect(node.records["PERSON"]?.first?["NAME"] == .text("Awa") && node.ids["DISTRICT"] == .number(2))
        let signed = try Array(documents[2].1.utf8).withUnsafeBufferPointer { try census.fastParser.parseLevel($0) }
        #expect(signed.records["PERSON"]?.first?["P04_AGE"] == .number(-12))
        #expect(signed.records["PERSON"]?.first?["P19_PHONE"] == .number(1_234_567_890_123_456))
        // A key cut off where the expected name would end: an error, not a read past the buffer.
        for cut in [#"{"PERSON":[{"LINE"#, #"{"PERSON":[{"LINE""#, #"{"PERSON":[{"LINE":"#, #"{"PERSON"#] {
            #expect(throws: CaseDecodingError.self, "\(cut)") {
                try Array(cut.utf8).withUnsafeBufferPointer { try census.fastParser.parseLevel($0) }
            }
        }
    }

    /// A key given twice: the last value wins, all occurrences of it (as PHP's json_decode, which
    /// CSWeb uses, reads it; Foundation's JSONSerialization keeps the first, so no comparison here).
    @Test func repeatedKeysKeepTheLastValue() throws {
        let json = #"{"PERSON":{"P04_AGE":1,"LINE":2,"P04_AGE":41},"HOUSING":{"H04_ASSETS":[1,null,"3"],"H03_RENT":12.5,"H04_ASSETS":[4]}}"#
        let census = CaseLayout(SyntheticCensus.dictionary())
        let node = try Array(json.utf8).withUnsafeBufferPointer { try census.fastParser.parseLevel($0) }
        #expect(node.records["PERSON"]?.first?["P04_AGE"] == .number(41) && node.records["PERSON"]?.first?["LINE"] == .number(2))
        let survey = try Array(json.utf8).withUnsafeBufferPointer { try SyntheticSurvey.layout.fastParser.parseLevel($0) }
        let housing = try #require(survey.records["HOUSING"]?.first)
        #expect(housing.values["H04_ASSETS"] == [.number(4), .blank, .blank, .blank, .blank])
        #expect(housing["H03_RENT"] == .number(12.5))
    }

    @Test func escapesUnknownKeysAndBadInput() throws {
        let layout = CaseLayout(SyntheticCensus.dictionary())
        let json =
            #"{"id":{"PROVINCE":1,"UNKNOWN":[1,{"a":null}]},"PERSON":[{"NAME":"A\"b\\c \u00e9\ud83c\udf0d","P04_AGE":"MISSING","LINE":1}],"extra":true}"#
        let node = try Array(json.utf8).withUnsafeBufferPointer { try layout.fastParser.parseLevel($0) }
        #expect(node.records["PERSON"]?.first?["NAME"] == .text("A\"b\\c é🌍"))
        #expect(node.records["PERSON"]?.first?["P04_AGE"] == .special(.missing))
        #expect(node == (try JSONCaseDecoder.decodeLevel(Data(json.utf8), layout: layout)))
        for bad in [#"{"id":{"PROVINCE":1}"#, #"{"PERSON":[{"LINE":}]}"#, #"{"PERSON":"#, "[]", #"{"id":{}} trailing"#] {
            #expect(throws: CaseDecodingError.self, "\(bad)") {
                try Array(bad.utf8).withUnsafeBufferPointer { try layout.fastParser.parseLevel($0) }
            }
        }
        let tooMany = "{\"PERSON\":[" + Array(repeating: "{\"LINE\":1}", count: 31).joined(separator: ",") + "]}"
        let error = #expect(throws: CaseDecodingError.self) {
            try Array(tooMany.utf8).withUnsafeBufferPointer { try layout.fastParser.parseLevel($0) }
        }
        #expect(error?.message == "record PERSON has 31 occurrences; the dictionary allows 30")
    }
}
