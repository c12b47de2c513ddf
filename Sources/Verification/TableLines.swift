import Breakout
import CSPro
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL

/// What a breakout of one case must hold, as the source says it (the case's data comes from the
/// case model and the dictionary alone, never through the engine's row builder).
package struct ExpectedCase: Sendable {
    package var guid: String
    package var key: String
    package var label: String?
    package var revision: Int64
    package var deleted: Bool
    package var partialSave: Case.PartialSave?
    package var notes: [Case.Note]
    package var data: Case?

    package init(
        guid: String, key: String, label: String?, revision: Int64, deleted: Bool, partialSave: Case.PartialSave? = nil,
        notes: [Case.Note] = [], data: Case?
    ) {
        (self.guid, self.key, self.label, self.revision, self.deleted, self.partialSave, self.notes, self.data) =
            (guid, key, label, revision, deleted, partialSave, notes, data)
    }
}

/// Tables as lines of text that do not depend on the surrogate ids a breakout gave: each level
/// node is named by its logical path (case UUID, then the occurrence of each node below), each
/// record row by its node's path. Two breakouts with the same content give the same lines; the
/// expected lines are computed from cases, the actual ones read back from a destination.
package enum TableLines {
    /// A value as compared: NULL as ∅, numbers by value, text as is.
    package static func normalized(_ v: SQLValue) -> String {
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

    /// Table names of the lines: `cases`, `notes`, `level-1`…, then each record's name in lower case.
    package static func tableNames(_ dictionary: CSProDictionary) -> [String] {
        ["cases", "notes"] + dictionary.levels.indices.map { "level-\($0 + 1)" } + dictionary.allRecords.map { $0.1.name.lowercased() }
    }

    /// Every row of a table, a page at a time, in the order of its first column (keyset paging: no
    /// OFFSET, so a large table is read in linear time with bounded memory).
    package static func forEachPage(
        _ c: any DatabaseConnection, _ t: TableDefinition, pageSize: Int = 20_000, _ body: ([Row]) throws -> Void
    ) throws {
        let key = t.columns[0].name
        var last: SQLValue?
        while true {
            let page = try c.query(
                .select(Select(from: t.name, where: last.map { .compare(key, .greater, $0) }, orderBy: [SortKey(key)], limit: pageSize)))
            try body(page)
            guard page.count == pageSize, let end = page.last else { return }
            last = end[0]
        }
    }

    /// The same names for a schema (only the records it keeps).
    package static func tableNames(_ schema: BreakoutSchema) -> [String] {
        ["cases", "notes"] + schema.levels.map { "level-\($0.level + 1)" } + schema.records.map { $0.recordName.lowercased() }
    }

    /// The lines one case must produce.
    package static func expected(_ e: ExpectedCase, dictionary: CSProDictionary, emit: (String, String) -> Void) {
        func value(_ v: CaseValue, _ item: Item) -> String {
            switch v {
            case .number(let d): return SQLDecimal.format(d)
            case .text(let s): return item.contentType == .alpha ? s : "∅"
            default: return "∅"
            }
        }
        let ps = e.partialSave
        emit(
            "cases",
            [
                e.guid, e.key, e.label ?? "∅", String(e.revision), e.deleted ? "1" : "0", "0", ps?.mode ?? "∅", ps?.field ?? "∅",
                ps?.levelKey ?? "∅", ps.map { String($0.recordOccurrence) } ?? "∅", ps.map { String($0.itemOccurrence) } ?? "∅",
                ps.map { String($0.subitemOccurrence) } ?? "∅",
            ].joined(separator: "|"))
        for n in e.notes {
            emit(
                "notes",
                [
                    e.guid, n.field, n.levelKey, String(n.recordOccurrence), String(n.itemOccurrence), String(n.subitemOccurrence),
                    n.content, n.operatorId, n.modifiedTime,
                ].joined(separator: "|"))
        }
        guard let data = e.data else { return }
        func visit(_ node: CaseNode, path: String) {
            let level = dictionary.levels[node.level]
            emit("level-\(node.level + 1)", ([path] + level.ids.map { value(node.ids[$0.name] ?? .blank, $0) }).joined(separator: "|"))
            for record in level.records {
                for (o, values) in (node.records[record.name] ?? []).enumerated() {
                    var fields = [path]
                    if record.maxOccurrences > 1 { fields.append(String(o + 1)) }
                    for item in record.items where !item.contentType.isBinary {
                        for occ in 0..<item.occurrences { fields.append(value(values[item.name, occ], item)) }
                    }
                    emit(record.name.lowercased(), fields.joined(separator: "|"))
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

    /// The lines a destination holds, read page by page (keyset on each table's first column).
    package static func actual(
        _ c: any DatabaseConnection, _ schema: BreakoutSchema, pageSize: Int = 20_000,
        emit: (String, String) -> Void
    ) throws {
        func rows(_ t: TableDefinition, _ body: (Row) -> Void) throws { try forEachPage(c, t, pageSize: pageSize) { $0.forEach(body) } }
        try rows(schema.cases) { emit("cases", $0.values.map(normalized).joined(separator: "|")) }
        try rows(schema.notes) { emit("notes", $0.values.map(normalized).joined(separator: "|")) }
        var paths: [Int64: String] = [:]
        for level in schema.levels {
            var newPaths: [Int64: String] = [:]
            try rows(level.table) { row in
                let id = row[0].int64!
                let path = level.level == 0 ? normalized(row[1]) : "\(row[1].int64.flatMap { paths[$0] } ?? "?")/\(normalized(row[2]))"
                newPaths[id] = path
                emit(
                    "level-\(level.level + 1)",
                    ([path] + row.values.dropFirst(level.level == 0 ? 2 : 3).map(normalized)).joined(separator: "|"))
            }
            for record in schema.records where record.level == level.level {
                try rows(record.table) { row in
                    emit(
                        record.recordName.lowercased(),
                        ([row[1].int64.flatMap { newPaths[$0] } ?? "?"] + row.values.dropFirst(2).map(normalized)).joined(separator: "|"))
                }
            }
            paths = newPaths
        }
    }
}

/// Every table as sorted lines (for readable differences in tests).
package func logicalDump(_ c: any DatabaseConnection, _ schema: BreakoutSchema) throws -> [String: [String]] {
    var out: [String: [String]] = [:]
    for name in TableLines.tableNames(schema) { out[name] = [] }
    try TableLines.actual(c, schema) { out[$0, default: []].append($1) }
    return out.mapValues { $0.sorted() }
}

/// What a breakout of `cases` must hold, as sorted lines.
package func expectedDump(_ cases: [ExpectedCase], dictionary: CSProDictionary) -> [String: [String]] {
    var out: [String: [String]] = [:]
    for name in TableLines.tableNames(dictionary) { out[name] = [] }
    for e in cases { TableLines.expected(e, dictionary: dictionary) { out[$0, default: []].append($1) } }
    return out.mapValues { $0.sorted() }
}

/// Lines that differ between two dumps (for readable failures).
package func differences(_ a: [String: [String]], _ b: [String: [String]], limit: Int = 8) -> [String] {
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

extension SyntheticCSWebSource.Contents {
    /// Every case a breakout of the whole source must hold (corrupt cases are not loaded), in order.
    package func expectedCases() -> some Sequence<ExpectedCase> {
        let corrupt = Set(self.corrupt), deleted = Set(self.deleted)
        return (1...Swift.max(cases, 1)).lazy.filter { $0 <= cases && !corrupt.contains($0) }.map { n -> ExpectedCase in
            let c = current(n)
            return ExpectedCase(
                guid: c.id!, key: c.key, label: label(c), revision: revision(n), deleted: deleted.contains(n),
                partialSave: partialSaveValue(n), notes: n % 31 == 0 ? [note(n)] : [], data: c)
        }
    }

    /// What a breakout of the whole source must hold, as sorted lines.
    package var expected: [String: [String]] { expectedDump(Array(expectedCases()), dictionary: dictionary) }
}

/// Removes a breakout's tables (its schema on PostgreSQL, its prefixed tables elsewhere); for
/// tests and benchmarks that break out into throw-away namespaces.
package func dropNamespace(_ schema: BreakoutSchema, _ config: ConnectionConfig) {
    guard let c = try? Databases.connect(config) else { return }
    defer { c.close() }
    if schema.dialect.namespacing == .schema {
        guard let quoted = try? schema.dialect.quote(schema.namespace) else { return }
        _ = try? c.execute("DROP SCHEMA IF EXISTS \(quoted) CASCADE")
    } else {
        for view in schema.views { _ = try? c.execute(.dropView(view.name)) }
        for table in schema.allTables.reversed() { _ = try? c.execute(.dropTable(table.name, ifExists: true)) }
    }
}
