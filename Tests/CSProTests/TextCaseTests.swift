import Foundation
import Testing

@testable import CSPro

@Suite struct TextCaseTests {
    static let datFiles: [(data: String, dictionary: String, cases: Int)] = [
        (
            "cspro-examples/data/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__smallStan.dat",
            "cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__Popstan.dcf", 100
        ),
        (
            "cspro-examples/data/2_Edits___Batch_Programs__Writing_a_CSV_File__PopstanEx.dat",
            "cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Writing_a_CSV_File__Popstan2.dcf", 55
        ),
        ("csweb/popstan_census_postman_case.dat", "csweb/popstan_census_postman.dcf", 1),
    ]

    /// Every case of every .dat fixture decodes and re-encodes to the identical text, line by line.
    @Test(arguments: 0..<3)
    func datFilesRoundTripByteExact(index: Int) throws {
        let (dataPath, dictionaryPath, expectedCases) = Self.datFiles[index]
        let layout = CaseLayout(try CSProDictionary.load(path: Fixtures.path(dictionaryPath)))
        let lines = TextCaseCodec.lines(of: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(dataPath))))
        let (cases, warnings) = TextCaseCodec.decode(lines, layout: layout)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(cases.count == expectedCases)
        let encoded = cases.flatMap { TextCaseCodec.encode($0, layout: layout) }
        #expect(encoded.count == lines.count)
        for (i, (a, b)) in zip(lines, encoded).enumerated() where a != b {
            Issue.record("line \(i + 1):\n  read  \(a)\n  wrote \(b)")
            break
        }
    }

    @Test func numbersFollowCSProsNumberConverter() {
        func item(_ length: Int, decimals: Int = 0, mark: Bool = false) -> Item {
            Item(
                name: "X", labels: [], contentType: .numeric, start: 1, length: length, decimals: decimals, decimalMark: mark,
                zeroFill: false, occurrences: 1, parent: nil, valueSets: [])
        }
        #expect(TextCaseCodec.value("   ", item(3)) == .blank)
        #expect(TextCaseCodec.value(" 42", item(3)) == .number(42))
        #expect(TextCaseCodec.value("-07", item(3)) == .number(-7))
        #expect(TextCaseCodec.value("1234", item(4, decimals: 2)) == .number(12.34))
        #expect(TextCaseCodec.value("12.3", item(4, decimals: 1, mark: true)) == .number(12.3))
        #expect(TextCaseCodec.value("12,3", item(4, decimals: 1, mark: true)) == .number(12.3))
        #expect(TextCaseCodec.value("4 ", item(2)) == .invalid("4 "))
        #expect(TextCaseCodec.value("**", item(2)) == .invalid("**"))
        #expect(TextCaseCodec.text(.number(12.34), item(5, decimals: 2)) == " 1234")
        #expect(TextCaseCodec.text(.number(12.3), item(5, decimals: 2, mark: true)) == "12.30")
        #expect(TextCaseCodec.text(.number(123456), item(3)) == "***")
    }

    @Test func multiLevelTextBuildsTheTree() throws {
        let layout = CaseLayout(try CSProDictionary.load(path: Fixtures.path("cspro/ThreeLevelTest.embedded.dcf")))
        // Level ids: 1 → cols 2–14, 2 → 15–16, 3 → 17; record types 1 (level 1), 2 (level 2), 3 and 4 (level 3).
        let types = layout.records.map { "\($0.record.name)=\($0.record.typeValue)@\($0.level)" }
        #expect(types == ["COMPOUND_INFO_REC=2@0", "HOUSING_UNIT_REC=3@1", "HOUSEHOLD_REC=1@2", "PERSON_REC=4@2"])
        let key = "0101001001011"
        let lines = [
            "2\(key)", "3\(key) 1", "1\(key) 11", "4\(key) 11Awa", "4\(key) 11Moussa", "1\(key) 12", "3\(key) 2", "~4\(key) 2 1deleted",
        ]
        let (cases, warnings) = TextCaseCodec.decode(lines, layout: layout)
        #expect(warnings.isEmpty)
        try #require(cases.count == 1)
        let root = cases[0].root
        #expect(root.children.count == 2)
        #expect(root.children[0].children.count == 2)
        #expect(root.children[0].children[0].records["PERSON_REC"]?.map { $0["FIRST_NAME"] } == [.text("Awa"), .text("Moussa")])
        #expect(root.children[1].children.isEmpty)
        #expect(cases[0].key == key)
    }
}
