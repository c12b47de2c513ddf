import ArgumentParser
import Breakout
import CSPro
import CaseSources
import Foundation
import SQL

/// `breakout dictionary …`.
struct DictionaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dictionary",
        abstract: "Look at CSPro dictionaries.",
        subcommands: [Inspect.self, DDL.self, CodebookCommand.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    /// `breakout dictionary ddl FILE --dialect D [--naming csweb|sql]`.
    struct DDL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ddl",
            abstract: "Print the tables a breakout creates for a dictionary, in one database's SQL; no connection needed."
        )

        @Argument(help: "A .dcf file (JSON or legacy text) or a .csdb file.")
        var file: String

        @Option(help: "postgresql, mysql, sqlserver or sqlite (aliases: pdo_pgsql, pdo_mysql, pdo_sqlsrv, sqlsrv, pdo_sqlite).")
        var dialect: String

        @Option(help: "csweb (level-1, item(1); the default) or sql (level_1, item_1).")
        var naming: String = "csweb"

        @Option(help: "Only these records or items (comma-separated).")
        var include: String?

        @Option(help: "Leave out these records or items (comma-separated).")
        var exclude: String?

        @Option(help: "The dictionary language of the view labels and comments (default: its first).")
        var labelsLanguage: String?

        @Option(help: "null (the default), codes or columns: what cells hold for special values.")
        var specials: String = "null"

        func run() throws {
            try reportingErrors {
                guard let specials = SpecialValues(rawValue: specials) else {
                    throw CLIError("unknown specials \"\(specials)\"", hint: "use null, codes or columns")
                }
                guard let engine = DatabaseEngine(name: dialect) else {
                    throw CLIError("unknown dialect \"\(dialect)\"", hint: "use \(DatabaseEngine.names)")
                }
                guard let naming = Naming(rawValue: naming) else {
                    throw CLIError("unknown naming \"\(naming)\"", hint: "use csweb or sql")
                }
                let dictionary = try loadDictionary(file)
                let schema: BreakoutSchema
                do {
                    schema = try BreakoutSchema(
                        dictionary: dictionary, dialect: engine.dialect,
                        options: SchemaOptions(
                            naming: naming,
                            selection: RecordSelection(include: ProcessCases.list(include), exclude: ProcessCases.list(exclude)),
                            labelsLanguage: labelsLanguage, specials: specials))
                } catch let error as SchemaError {
                    throw CLIError("\(file): \(error.message)")
                }
                print("-- breakout schema for dictionary \(dictionary.name) (\(engine.rawValue), naming \(naming.rawValue))")
                let renderer = SQLRenderer(engine.dialect, inlineValues: true)
                // The tables, then the analyst views and the labels as comments, as a first run creates them.
                let statements = schema.createStatements() + schema.views.map { .createView($0) } + schema.commentStatements(views: true)
                for statement in statements {
                    for rendered in try renderer.render(statement) { print(rendered.sql + ";") }
                }
            }
        }
    }

    /// `breakout dictionary codebook FILE [--format markdown|html] [--language L]`.
    struct CodebookCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codebook",
            abstract: "Print a dictionary's codebook: levels, records, items with their labels, value sets with their codes.",
            discussion: """
                Markdown (for a repository or a wiki) or one self-contained HTML page (to print or to send).
                Examples:
                  breakout dictionary codebook census.dcf > codebook.md
                  breakout dictionary codebook census.dcf --format html --language FR > codebook.html
                """
        )

        enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case markdown, html }

        @Argument(help: "A .dcf file (JSON or legacy text) or a .csdb file.")
        var file: String

        @Option(help: "markdown or html.")
        var format: OutputFormat = .markdown

        @Option(help: "The dictionary language whose labels to use (default: its first).")
        var language: String?

        func run() throws {
            try reportingErrors {
                let dictionary = try loadDictionary(file)
                let codebook: Codebook
                do { codebook = try Codebook(dictionary, language: language) } catch let error as CodebookError {
                    throw CLIError("\(file): \(error)", hint: "leave out --language for the dictionary's first language")
                }
                print(codebook.render(format == .html ? .html : .markdown), terminator: "")
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a dictionary's levels, records and items (JSON or legacy .dcf, or the dictionary inside a .csdb)."
        )

        @Argument(help: "A .dcf file (JSON or legacy text) or a .csdb file.")
        var file: String

        @Option(help: "text (a table) or json (the full model).")
        var format: Format = .text

        func run() throws {
            try reportingErrors {
                let dictionary = try loadDictionary(file)
                switch format {
                case .json:
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(dictionary), as: UTF8.self))
                case .text:
                    print(DictionaryReport.text(dictionary), terminator: "")
                }
            }
        }
    }
}

/// Reads a dictionary from a .dcf, or the one embedded in a .csdb.
func loadDictionary(_ path: String) throws -> CSProDictionary {
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("no such file: \(path)") }
    do {
        if path.lowercased().hasSuffix(".csdb") { return try CSDBFile(path: path).dictionary }
        return try CSProDictionary.load(path: path)
    } catch let error as DictionaryError {
        throw CLIError("cannot read dictionary", cause: error)
    }
}

/// The text form of `dictionary inspect`.
enum DictionaryReport {
    static func label(_ labels: [Label]) -> String { labels.first.map { "\"\($0.text)\"" } ?? "" }

    static func text(_ d: CSProDictionary) -> String {
        var out = "Dictionary \(d.name) \(label(d.labels))\n"
        out +=
            "  record type: "
            + (d.recordTypeLength == 0
                ? "none (one record type)" : "columns \(d.recordTypeStart)-\(d.recordTypeStart + d.recordTypeLength - 1)")
        out += ", positions: \(d.relativePositions ? "relative" : "absolute")"
        if !d.languages.isEmpty { out += ", languages: " + d.languages.map(\.name).joined(separator: " ") }
        out += "\n"
        for (i, level) in d.levels.enumerated() {
            out += "\nLevel \(i + 1) \(level.name) \(label(level.labels))\n"
            out += table(level.ids, heading: "  ids")
            for record in level.records {
                out +=
                    "\n  Record \(record.name) \(label(record.labels)) type '\(record.typeValue)', "
                    + "\(record.required ? "required" : "optional"), max \(record.maxOccurrences)\n"
                out += table(record.items, heading: nil)
            }
        }
        return out
    }

    static func table(_ items: [Item], heading: String?) -> String {
        var out = heading.map { "\($0)\n" } ?? ""
        let rows = items.map { item -> [String] in
            [
                (item.isSubitem ? "  " : "") + item.name, item.contentType.rawValue, String(item.start), String(item.length),
                item.decimals > 0 ? "\(item.decimals)\(item.decimalMark ? "." : "")" : "",
                item.occurrences > 1 ? String(item.occurrences) : "",
                item.zeroFill && item.contentType == .numeric ? "zero" : "",
                item.valueSets.isEmpty ? "" : "\(item.valueSets.count) (\(item.valueSets.first?.values.count ?? 0) values)",
            ]
        }
        let header = ["ITEM", "TYPE", "START", "LEN", "DEC", "OCC", "FILL", "VALUE SETS"]
        let widths = header.indices.map { c in ([header[c]] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            out +=
                "    "
                + row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }
}
