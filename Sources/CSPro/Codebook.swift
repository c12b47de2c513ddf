import Diagnostics
import Foundation

/// A dictionary as the codebook an analyst reads: its levels, records and items with their labels,
/// types and positions, and every value set with its codes, ranges and special values. Written as
/// Markdown or as one self-contained HTML page (no external assets), in one of the dictionary's
/// languages. Only reads the dictionary.
package struct Codebook: Sendable {
    package enum Format: String, Sendable, CaseIterable {
        case markdown, html
    }

    package let dictionary: CSProDictionary
    /// The language the labels are taken from: a name of `dictionary.languages`, or nil for the
    /// first label of each element (a single-language dictionary).
    package let language: String?

    /// - Throws: ``CodebookError`` when `language` is not one of the dictionary's languages.
    package init(_ dictionary: CSProDictionary, language: String? = nil) throws {
        self.dictionary = dictionary
        if let language {
            guard let found = dictionary.labelLanguage(named: language) else {
                let known = dictionary.labelLanguages
                throw CodebookError(
                    "dictionary \(dictionary.name) has no language \"\(language)\""
                        + (known.isEmpty ? " (it has a single, unnamed language)" : "; it has: \(known.joined(separator: ", "))"))
            }
            self.language = found
        } else {
            self.language = dictionary.labelLanguages.first
        }
    }

    /// The label in the codebook's language; the first label when it has none in that language.
    package func label(_ labels: [Label]) -> String {
        let text = (labels.first { $0.language == language } ?? labels.first)?.text ?? ""
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    // MARK: - The content, as rows

    struct ItemRow {
        var name: String
        var label: String
        var type: String
        var start: Int
        var length: Int
        var decimals: Int
        var occurrences: Int
        var valueSets: [String]
    }

    struct ValueSetTable {
        var name: String
        var label: String
        var item: String
        /// (code, label, special) per value; code `a–b` for a range, several pieces joined by `, `.
        var values: [(code: String, label: String, special: String)]
    }

    func itemRow(_ item: Item) -> ItemRow {
        let type: String
        switch item.contentType {
        case .numeric: type = item.decimals > 0 ? "numeric, \(item.decimals) decimal\(item.decimals == 1 ? "" : "s")" : "numeric"
        case .alpha: type = "alpha"
        default: type = item.contentType.rawValue + " (not broken out)"
        }
        return ItemRow(
            name: item.name + (item.parent.map { " (subitem of \($0))" } ?? ""), label: label(item.labels), type: type,
            start: item.start, length: item.length, decimals: item.decimals, occurrences: item.occurrences,
            valueSets: item.valueSets.map(\.name))
    }

    func valueSetTables(_ items: [Item]) -> [ValueSetTable] {
        items.flatMap { item in
            item.valueSets.map { set in
                ValueSetTable(
                    name: set.name, label: label(set.labels), item: item.name,
                    values: set.values.map { value in
                        let code = value.pieces.map { p in p.to.map { "\(p.from)–\($0)" } ?? p.from }.joined(separator: ", ")
                        return (code, label(value.labels), value.special?.rawValue ?? "")
                    })
            }
        }
    }

    var summary: String {
        let records = dictionary.allRecords.count
        let items = dictionary.levels.reduce(0) { $0 + $1.ids.count + $1.records.reduce(0) { $0 + $1.items.count } }
        let languages =
            dictionary.languages.isEmpty
            ? "one language" : "languages " + dictionary.languages.map { "\($0.name) (\($0.label))" }.joined(separator: ", ")
        return "\(dictionary.levels.count) level\(dictionary.levels.count == 1 ? "" : "s"), \(records) record"
            + "\(records == 1 ? "" : "s"), \(items) item\(items == 1 ? "" : "s"); \(languages)"
            + (language.map { "; labels in \($0)" } ?? "")
    }

    /// `record type 1, required, up to 30 occurrences`, the type value through `code`.
    func recordLine(_ record: Record, code: (String) -> String) -> String {
        "record type \(code(record.typeValue)), " + (record.required ? "required" : "optional") + ", "
            + (record.maxOccurrences == 1 ? "1 occurrence" : "up to \(record.maxOccurrences) occurrences")
    }

    // MARK: - Markdown

    package func markdown() -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|") }
        func items(_ list: [Item]) -> [String] {
            var out = ["| item | label | type | start | length | occurrences | value sets |", "|---|---|---|---|---|---|---|"]
            for row in list.map(itemRow) {
                out.append(
                    "| `\(row.name)` | \(cell(row.label)) | \(row.type) | \(row.start) | \(row.length) | \(row.occurrences) | "
                        + row.valueSets.map { "`\($0)`" }.joined(separator: ", ") + " |")
            }
            return out
        }
        func valueSets(_ list: [Item]) -> [String] {
            var out: [String] = []
            for table in valueSetTables(list) {
                out += ["", "**`\(table.name)`** \(cell(table.label)) (item `\(table.item)`)", ""]
                if table.values.isEmpty {
                    out.append("(no values)")
                    continue
                }
                out += ["| code | label | special |", "|---|---|---|"]
                for v in table.values { out.append("| `\(cell(v.code))` | \(cell(v.label)) | \(v.special) |") }
            }
            return out
        }
        var out = ["# Codebook: \(dictionary.name) — \(cell(label(dictionary.labels)))", "", summary + "."]
        for (l, level) in dictionary.levels.enumerated() {
            out += ["", "## Level \(l + 1): `\(level.name)` — \(cell(label(level.labels)))", "", "Id items:", ""]
            out += items(level.ids)
            out += valueSets(level.ids)
            for record in level.records {
                out += ["", "### Record `\(record.name)` — \(cell(label(record.labels)))", "", recordLine(record) { "`\($0)`" } + ".", ""]
                out += items(record.items)
                out += valueSets(record.items)
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - HTML

    package func html() -> String {
        func e(_ s: String) -> String { htmlEscaped(s) }
        func items(_ list: [Item]) -> String {
            var out = "<table><thead><tr><th>item</th><th>label</th><th>type</th><th>start</th><th>length</th>"
            out += "<th>occurrences</th><th>value sets</th></tr></thead><tbody>\n"
            for row in list.map(itemRow) {
                out += "<tr><td><code>\(e(row.name))</code></td><td>\(e(row.label))</td><td>\(e(row.type))</td>"
                out += "<td class=\"n\">\(row.start)</td><td class=\"n\">\(row.length)</td><td class=\"n\">\(row.occurrences)</td>"
                out += "<td>" + row.valueSets.map { "<a href=\"#vs-\(e($0))\"><code>\(e($0))</code></a>" }.joined(separator: ", ")
                out += "</td></tr>\n"
            }
            return out + "</tbody></table>\n"
        }
        func valueSets(_ list: [Item]) -> String {
            var out = ""
            for table in valueSetTables(list) {
                out += "<h4 id=\"vs-\(e(table.name))\"><code>\(e(table.name))</code> \(e(table.label)) "
                out += "<small>(item <code>\(e(table.item))</code>)</small></h4>\n"
                if table.values.isEmpty {
                    out += "<p>(no values)</p>\n"
                    continue
                }
                out += "<table class=\"vs\"><thead><tr><th>code</th><th>label</th><th>special</th></tr></thead><tbody>\n"
                for v in table.values {
                    out += "<tr><td><code>\(e(v.code))</code></td><td>\(e(v.label))</td><td>\(e(v.special))</td></tr>\n"
                }
                out += "</tbody></table>\n"
            }
            return out
        }
        var out = """
            <!DOCTYPE html>
            <html lang="\(e((language ?? "en").lowercased()))">
            <head>
            <meta charset="utf-8">
            <title>Codebook: \(e(dictionary.name))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #1b1f24; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #c8ccd1; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
            th { background: #eef1f4; }
            td.n { text-align: right; }
            h2 { border-bottom: 2px solid #1b1f24; padding-bottom: 0.2em; margin-top: 2em; }
            h4 { margin-bottom: 0.2em; }
            @media print { h2 { break-before: page; } table { break-inside: avoid; } }
            </style>
            </head>
            <body>
            <h1>Codebook: <code>\(e(dictionary.name))</code> — \(e(label(dictionary.labels)))</h1>
            <p>\(e(summary)).</p>

            """
        for (l, level) in dictionary.levels.enumerated() {
            out += "<h2>Level \(l + 1): <code>\(e(level.name))</code> — \(e(label(level.labels)))</h2>\n<p>Id items:</p>\n"
            out += items(level.ids) + valueSets(level.ids)
            for record in level.records {
                out += "<h3>Record <code>\(e(record.name))</code> — \(e(label(record.labels)))</h3>\n"
                out += "<p>\(recordLine(record) { "<code>\(e($0))</code>" }).</p>\n" + items(record.items) + valueSets(record.items)
            }
        }
        return out + "</body>\n</html>\n"
    }

    package func render(_ format: Format) -> String {
        switch format {
        case .markdown: markdown()
        case .html: html()
        }
    }
}

/// A codebook that cannot be written as asked (an unknown language).
package struct CodebookError: Error, Sendable, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
