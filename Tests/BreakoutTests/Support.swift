@testable import Breakout
import CaseSources
import CSPro
import Drivers
import Foundation
import SQL
import Testing

/// The CSPro fixtures live with the CSPro tests (one copy in the repository); found from this file.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CSProTests/Fixtures")
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// Destinations the breakout is tested on: SQLite always; PostgreSQL and MariaDB when their URLs are
/// set (always under CI=true, where a missing server is a failure).
enum Destination: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgresql, mysql

    var testDescription: String { rawValue }

    var variable: String? {
        switch self {
        case .sqlite: nil
        case .postgresql: "BREAKOUT_TEST_POSTGRES_URL"
        case .mysql: "BREAKOUT_TEST_MYSQL_URL"
        }
    }

    static var servers: [Destination] {
        [.postgresql, .mysql].filter { ProcessInfo.processInfo.environment["CI"] == "true" || ProcessInfo.processInfo.environment[$0.variable!] != nil }
    }

    func config() throws -> ConnectionConfig {
        if let variable {
            guard let url = ProcessInfo.processInfo.environment[variable] else {
                throw DatabaseError(.configuration, engine: nil, "\(variable) is not set: run the tests through `make test`, which starts the servers")
            }
            return try ConnectionConfig.parse(url: url)
        }
        return ConnectionConfig(engine: .sqlite, database: temporaryPath("dest.db"))
    }
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("breakout-\(UUID().uuidString)-\(name)").path
}

/// A namespace no other test uses.
func uniqueNamespace() -> String { "t\(UInt32.random(in: 0...UInt32.max))" }

/// Removes a namespace's tables (schema on PostgreSQL, prefixed tables elsewhere).
func dropNamespace(_ schema: BreakoutSchema, _ config: ConnectionConfig) {
    guard let c = try? Databases.connect(config) else { return }
    defer { c.close() }
    if schema.dialect.namespacing == .schema {
        _ = try? c.execute("DROP SCHEMA IF EXISTS \(try! schema.dialect.quote(schema.namespace)) CASCADE")
    } else {
        for table in schema.allTables.reversed() { _ = try? c.execute(.dropTable(table.name, ifExists: true)) }
    }
}

/// A generated CSWeb source in a new SQLite file.
struct GeneratedSource {
    let path: String
    let contents: SyntheticCSWebSource.Contents

    init(cases: Int) throws {
        path = temporaryPath("csweb.db")
        let connection = try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))
        defer { connection.close() }
        contents = try SyntheticCSWebSource.write(CSWebDatabaseWriter(connection: connection), cases: cases)
    }

    func feed() throws -> CSWebFeed {
        try CSWebFeed(source: CSWebSource(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))),
                      dictionary: SyntheticSurvey.name)
    }

    func writer() throws -> CSWebDatabaseWriter {
        CSWebDatabaseWriter(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: path)))
    }
}

/// A value as compared in table dumps: NULL as ∅, numbers by value, text as is.
func normalized(_ v: SQLValue) -> String {
    switch v {
    case .null: return "∅"
    case .integer(let i): return String(i)
    case .decimal(let d): return SQLDecimal.format(d.doubleValue)
    case .double(let d): return SQLDecimal.format(d)
    case .text(let s): return s
    case .timestamp(let t): return SQLTimestamp.format(t)
    case .blob(let b): return b.map { String(format: "%02x", $0) }.joined()
    }
}

/// Every data table of a breakout with the surrogate ids replaced by logical paths (case UUID,
/// then the occurrence of each level node), sorted: two breakouts with the same content have the
/// same dump whatever ids they gave.
func logicalDump(_ c: any DatabaseConnection, _ schema: BreakoutSchema) throws -> [String: [String]] {
    var out: [String: [String]] = [:]
    func rows(_ t: TableDefinition) throws -> [Row] { try c.query(.select(Select(from: t.name))) }
    out["cases"] = try rows(schema.cases).map { $0.values.map(normalized).joined(separator: "|") }.sorted()
    out["notes"] = try rows(schema.notes).map { $0.values.map(normalized).joined(separator: "|") }.sorted()
    var paths: [Int64: String] = [:]
    for level in schema.levels {
        var levelRows: [String] = []
        var newPaths: [Int64: String] = [:]
        for row in try rows(level.table) {
            let id = row[0].int64!
            let path = level.level == 0 ? normalized(row[1]) : "\(paths[row[1].int64!] ?? "?")/\(normalized(row[2]))"
            newPaths[id] = path
            levelRows.append(([path] + row.values.dropFirst(level.level == 0 ? 2 : 3).map(normalized)).joined(separator: "|"))
        }
        out["level-\(level.level + 1)"] = levelRows.sorted()
        for record in schema.records where record.level == level.level {
            out[record.recordName.lowercased()] = try rows(record.table).map { row in
                ([newPaths[row[1].int64!] ?? "?"] + row.values.dropFirst(2).map(normalized)).joined(separator: "|")
            }.sorted()
        }
        paths.merge(newPaths) { $1 }
    }
    return out
}

/// What a breakout of cases must hold, computed from the case model and the dictionary alone
/// (not through the engine's row builder).
struct ExpectedCase {
    var guid: String
    var key: String
    var label: String?
    var revision: Int64
    var deleted: Bool
    var partialSave: Case.PartialSave? = nil
    var notes: [Case.Note] = []
    var data: Case?
}

func expectedDump(_ cases: [ExpectedCase], dictionary: CSProDictionary) -> [String: [String]] {
    var out: [String: [String]] = ["cases": [], "notes": []]
    for l in dictionary.levels.indices { out["level-\(l + 1)"] = [] }
    for (_, r) in dictionary.allRecords { out[r.name.lowercased()] = [] }
    func value(_ v: CaseValue, _ item: Item) -> String {
        switch v {
        case .number(let d): return SQLDecimal.format(d)
        case .text(let s): return item.contentType == .alpha ? s : "∅"
        default: return "∅"
        }
    }
    for e in cases {
        let ps = e.partialSave
        out["cases"]!.append([e.guid, e.key, e.label ?? "∅", String(e.revision), e.deleted ? "1" : "0", "0", ps?.mode ?? "∅", ps?.field ?? "∅",
                              ps?.levelKey ?? "∅", ps.map { String($0.recordOccurrence) } ?? "∅", ps.map { String($0.itemOccurrence) } ?? "∅",
                              ps.map { String($0.subitemOccurrence) } ?? "∅"].joined(separator: "|"))
        for n in e.notes {
            out["notes"]!.append([e.guid, n.field, n.levelKey, String(n.recordOccurrence), String(n.itemOccurrence), String(n.subitemOccurrence),
                                  n.content, n.operatorId, n.modifiedTime].joined(separator: "|"))
        }
        guard let data = e.data else { continue }
        func visit(_ node: CaseNode, path: String) {
            let level = dictionary.levels[node.level]
            out["level-\(node.level + 1)"]!.append(([path] + level.ids.map { value(node.ids[$0.name] ?? .blank, $0) }).joined(separator: "|"))
            for record in level.records {
                for (o, values) in (node.records[record.name] ?? []).enumerated() {
                    var fields = [path]
                    if record.maxOccurrences > 1 { fields.append(String(o + 1)) }
                    for item in record.items where !item.contentType.isBinary {
                        for occ in 0..<item.occurrences { fields.append(value(values[item.name, occ], item)) }
                    }
                    out[record.name.lowercased()]!.append(fields.joined(separator: "|"))
                }
            }
            var counts: [Int: Int] = [:]
            for child in node.children {
                counts[child.level, default: 0] += 1
                visit(child, path: "\(path)/\(counts[child.level]!)")
            }
        }
        visit(data.root, path: e.guid)
    }
    return out.mapValues { $0.sorted() }
}

extension SyntheticCSWebSource.Contents {
    /// The revision case `n` has in the source now.
    func revision(_ n: Int) -> Int64 {
        let initial = Int64(1 + (n - 1) / 50)
        let lastInitial = Int64(1 + (cases - 1) / 50)
        if deleted.contains(n) { return lastInitial + 2 }
        if resynced.contains(n) { return lastInitial + 1 }
        return initial
    }

    /// What a breakout of the whole source must hold (corrupt cases are not loaded).
    var expected: [String: [String]] {
        let cases = (1...cases).filter { !corrupt.contains($0) }.map { n -> ExpectedCase in
            let c = current(n)
            return ExpectedCase(guid: c.id!, key: c.key, label: "Household \(c.key)", revision: revision(n), deleted: deleted.contains(n),
                                partialSave: partialSave.contains(n) ? Case.PartialSave(mode: "add", field: "P03_AGE", levelKey: "1", recordOccurrence: 1, itemOccurrence: 1, subitemOccurrence: 0) : nil,
                                notes: notes.contains(n) ? [Case.Note(content: "Respondent asked to come back — rappel à 18h", field: "P03_AGE", levelKey: "1",
                                                                       recordOccurrence: 1, itemOccurrence: 1, subitemOccurrence: 0,
                                                                       operatorId: "enumerator\(n % 7)", modifiedTime: "2026-11-0\(n % 9 + 1) 10:00:00")] : [],
                                data: c)
        }
        return expectedDump(cases, dictionary: SyntheticSurvey.dictionary())
    }
}

/// Lines that differ between two dumps (for readable failures).
func differences(_ a: [String: [String]], _ b: [String: [String]], limit: Int = 8) -> [String] {
    var out: [String] = []
    for table in Set(a.keys).union(b.keys).sorted() {
        let x = a[table] ?? [], y = b[table] ?? []
        if x == y { continue }
        let onlyA = Set(x).subtracting(y), onlyB = Set(y).subtracting(x)
        out.append("\(table): \(x.count) vs \(y.count) rows")
        out += onlyA.sorted().prefix(3).map { "  only in first: \($0)" }
        out += onlyB.sorted().prefix(3).map { "  only in second: \($0)" }
        if out.count > limit * 4 { break }
    }
    return out
}
