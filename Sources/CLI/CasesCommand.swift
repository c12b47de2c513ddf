import ArgumentParser
import CSPro
import CaseSources
import Drivers
import Foundation
import SQL

/// `breakout cases …`.
struct CasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cases",
        abstract: "Look at cases as CSPro stores them.",
        subcommands: [Show.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show cases from a .dat file (with --dictionary FILE), a .csdb file, or a CSWeb database (URL, with --dictionary NAME).",
            discussion: """
                Examples:
                  breakout cases show data/census.dat --dictionary census.dcf --case 0101001
                  breakout cases show data/household.csdb --format json
                  breakout cases show mysql://csweb@127.0.0.1/cspro --dictionary RGPH --case 0101001   # password: BREAKOUT_DB_PASSWORD
                """
        )

        @Argument(help: "A .dat file, a .csdb file, or a CSWeb database URL (mysql://…, sqlite:…).")
        var source: String

        @Option(help: "The dictionary file (for .dat) or the dictionary name (for a CSWeb database).")
        var dictionary: String?

        @Option(name: .customLong("case"), help: "Only the case with this key (the level-1 ids as written).")
        var key: String?

        @Option(help: "text (a readable tree) or json (CSPro's sync JSON, one case per line).")
        var format: DictionaryCommand.Format = .text

        func run() throws {
            try reportingErrors {
                let (cases, layout, problems) = try load()
                if let key, cases.isEmpty { throw CLIError("no case with key \"\(key)\" in \(source)") }
                for c in cases {
                    print(
                        format == .json ? JSONCaseEncoder.encode(c, layout: layout) : CaseReport.text(c, layout: layout),
                        terminator: format == .json ? "\n" : "")
                }
                for problem in problems { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
            }
        }

        func load() throws -> ([Case], CaseLayout, [String]) {
            let lower = source.lowercased()
            if lower.hasSuffix(".csdb") {
                let file = try CSDBFile(path: source)
                return (try file.cases(key: key), file.layout, [])
            }
            if lower.hasSuffix(".dat") || lower.hasSuffix(".txt") {
                guard let dictionary else { throw CLIError("a .dat source needs --dictionary FILE") }
                let dict = try loadDictionary(dictionary)
                let (cases, warnings) = try DatFile.cases(path: source, dictionary: dict)
                return (cases.filter { key == nil || $0.key == key }, CaseLayout(dict), warnings.map { "\(source): \($0)" })
            }
            guard source.contains(":") else { throw CLIError("\"\(source)\" is not a .dat, .csdb or database URL") }
            guard let dictionary else { throw CLIError("a CSWeb source needs --dictionary NAME") }
            var config = try ConnectionConfig.parse(url: source)
            if config.password == nil { config.password = ProcessInfo.processInfo.environment["BREAKOUT_DB_PASSWORD"] }
            let connection = try Databases.connect(config)
            defer { connection.close() }
            let web = CSWebSource(connection: connection)
            let layout = CaseLayout(try web.dictionary(named: dictionary))
            var cases: [Case] = []
            var problems: [String] = []
            for stored in try web.storedCases(dictionary: dictionary, key: key) {
                do { cases.append(try CSWebSource.decode(stored, layout: layout)) } catch let error as CaseDecodingError {
                    problems.append("case \(stored.key) (id \(stored.guid), revision \(stored.revision)) cannot be decoded: \(error)")
                }
            }
            return (cases, layout, problems)
        }
    }
}

/// The readable tree of `cases show`.
enum CaseReport {
    static func text(_ c: Case, layout: CaseLayout) -> String {
        var out = "Case \(c.key)"
        if let id = c.id { out += "  id \(id)" }
        if c.deleted { out += "  (deleted)" }
        if c.verified { out += "  (verified)" }
        if let p = c.partialSave { out += "  (partial save at \(p.field))" }
        out += "\n"
        node(c.root, layout: layout, indent: "  ", into: &out)
        for note in c.notes { out += "  note on \(note.field): \(note.content)\n" }
        return out
    }

    static func node(_ n: CaseNode, layout: CaseLayout, indent: String, into out: inout String) {
        let level = layout.dictionary.levels[n.level]
        out += indent + "\(level.name): " + level.ids.map { "\($0.name)=\(show(n.ids[$0.name] ?? .blank))" }.joined(separator: " ") + "\n"
        for record in layout.records where record.level == n.level {
            for (i, occurrence) in (n.records[record.record.name] ?? []).enumerated() {
                let items = record.fields.compactMap { f -> String? in
                    let values = occurrence.values[f.item.name] ?? []
                    guard values.contains(where: { !$0.isBlank }) else { return nil }
                    let shown = values.count == 1 ? show(values[0]) : "[" + values.map(show).joined(separator: ",") + "]"
                    return "\(f.item.name)=\(shown)"
                }
                let number = record.record.maxOccurrences > 1 ? " #\(i + 1)" : ""
                out += indent + "  \(record.record.name)\(number): " + items.joined(separator: " ") + "\n"
            }
        }
        for child in n.children { node(child, layout: layout, indent: indent + "  ", into: &out) }
    }

    static func show(_ v: CaseValue) -> String {
        switch v {
        case .blank: ""
        case .number(let d): d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        case .text(let s): "\"\(s)\""
        case .special(let s): s.rawValue
        case .invalid(let raw): "DEFAULT(\"\(raw)\")"
        }
    }
}
