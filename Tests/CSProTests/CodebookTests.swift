import Foundation
import Generators
import Testing

@testable import CSPro

/// `breakout dictionary codebook` (issue 20, point 4): the codebook of real dictionaries from the
/// fixtures pinned by golden files, and checked against the dictionary file read independently
/// (JSONSerialization, not the model): every item and every value label is in it.
///
/// After an intended change: `BREAKOUT_UPDATE_GOLDEN=1 swift test --filter CodebookTests`, then
/// review the diff.
@Suite struct CodebookTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static let dictionaries = [
        ("simple-capi", "cspro-examples/dictionaries-json80/1_Data_Entry__Simple_CAPI__Simple_CAPI.dcf"),
        ("popstan", "cspro-examples/dictionaries-json80/1_Data_Entry__Controlling_Repeating_Forms__popstan.dcf"),
    ]

    static func check(_ actual: String, golden name: String) throws {
        let url = golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["BREAKOUT_UPDATE_GOLDEN"] == "1" {
            try Data(actual.utf8).write(to: url)
            return
        }
        #expect(actual == (try String(contentsOf: url, encoding: .utf8)), "codebook differs from \(name)")
    }

    @Test(arguments: dictionaries)
    func codebooksMatchGolden(_ name: String, _ path: String) throws {
        let codebook = try Codebook(try CSProDictionary.load(path: Fixtures.path(path)))
        try Self.check(codebook.markdown(), golden: "codebook-\(name).md")
        try Self.check(codebook.html(), golden: "codebook-\(name).html")
    }

    /// Every item name and every value label of the file, found by walking its JSON, is in the
    /// Markdown codebook; the number of value rows is the number of values in the file.
    @Test(arguments: dictionaries)
    func everyItemAndValueIsThere(_ name: String, _ path: String) throws {
        let markdown = try Codebook(try CSProDictionary.load(path: Fixtures.path(path))).markdown()
        var data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(path)))
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data = data.dropFirst(3) }
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var items: [String] = []
        var labels: [String] = []
        var values = 0
        func walk(_ item: [String: Any]) {
            items.append(item["name"] as? String ?? "")
            for set in item["valueSets"] as? [[String: Any]] ?? [] {
                for value in set["values"] as? [[String: Any]] ?? [] {
                    values += 1
                    let text = ((value["labels"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
                    labels.append(text.split(whereSeparator: \.isNewline).joined(separator: " "))
                }
            }
            for sub in item["subitems"] as? [[String: Any]] ?? [] { walk(sub) }
        }
        for level in root["levels"] as? [[String: Any]] ?? [] {
            for id in (level["ids"] as? [String: Any])?["items"] as? [[String: Any]] ?? [] { walk(id) }
            for record in level["records"] as? [[String: Any]] ?? [] {
                for item in record["items"] as? [[String: Any]] ?? [] { walk(item) }
            }
        }
        #expect(items.count > 5 && values > 5)
        for item in items { #expect(markdown.contains("| `\(item)"), "item \(item) missing") }
        for label in labels where !label.isEmpty {
            #expect(markdown.contains(label.replacingOccurrences(of: "|", with: "\\|")), "value label \(label) missing")
        }
        let valueRows = markdown.split(separator: "\n").filter { $0.hasPrefix("| `") && $0.split(separator: "|").count == 3 }
        #expect(valueRows.count == values, "\(valueRows.count) value rows for \(values) values")
    }

    /// Labels in the language asked for; an unknown one is an error that names those there are.
    @Test func labelsInTheLanguageAskedFor() throws {
        let dictionary = SyntheticSurvey.dictionary()
        let english = try Codebook(dictionary).markdown()
        let french = try Codebook(dictionary, language: "fr").markdown()
        #expect(english.contains("Household survey") && !english.contains("Enquête ménages"))
        #expect(french.contains("Enquête ménages") && french.contains("labels in FR"))
        #expect(throws: CodebookError.self) { try Codebook(dictionary, language: "DE") }
        do { _ = try Codebook(dictionary, language: "DE") } catch { #expect("\(error)".contains("it has: EN, FR")) }
    }

    /// Labels are text: markup in a label is escaped in HTML, pipes in Markdown tables.
    @Test func labelsAreEscaped() throws {
        var dictionary = SyntheticSurvey.dictionary()
        dictionary.levels[0].records[0].items[0].labels = [Label("<script>alert(1)</script> | \"x\"", language: "EN")]
        let html = try Codebook(dictionary).html()
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt; | &quot;x&quot;"))
        let markdown = try Codebook(dictionary).markdown()
        #expect(markdown.contains("<script>alert(1)</script> \\| \"x\""))
    }
}
