import CSPro
import DatabaseDriver
import Foundation
import SQL

// The row ledger (`breakout_counts`): how many rows breakout committed to each data table, kept in
// the chunks' own transactions. A count in the destination that differs is drift: rows deleted or
// added by hand, which `plan` reports and `process-cases --repair` puts right.

/// Something in a destination that breakout's bookkeeping says is not as it left it.
package struct Drift: Sendable, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// A data table dropped or renamed by hand.
        case missingTable = "missing_table"
        /// Columns dropped or renamed by hand.
        case missingColumns = "missing_columns"
        /// A table whose row count is not the one breakout committed.
        case rowCount = "row_count"
    }

    package var kind: Kind
    package var table: String
    package var description: String

    /// Missing tables and columns take a rebuild; missing or extra rows a reload in place.
    package var needsRebuild: Bool { kind != .rowCount }
}

extension BreakoutEngine {
    /// The table's name in the ledger, without the namespace: a rebuild's shadow tables keep their
    /// entries when they are swapped in.
    func ledgerName(_ table: QualifiedName) -> String {
        let prefix = schema.dialect.namespaced("", in: schema.namespace).name
        return table.name.hasPrefix(prefix) ? String(table.name.dropFirst(prefix.count)) : table.name
    }

    /// The rows the re-synced cases have now in each data table (what the cascade from `cases`
    /// removes), and the reads that counted them. Row ids are `number × 2^20 + n` (RowBuilder), so
    /// a case's rows are one id range per table, found from its `level-1` row.
    func removedRows(_ existing: Set<String>, on connection: any DatabaseConnection) throws -> (rows: [Int], reads: [SQLStatement]) {
        var rows = Array(repeating: 0, count: schema.dataTables.count)
        guard !existing.isEmpty, let level1 = schema.levels.first else { return (rows, []) }
        var reads: [SQLStatement] = []
        func count(_ statement: SQLStatement) throws -> Int {
            reads.append(statement)
            return Int(try connection.query(statement).first?[0].int64 ?? 0)
        }
        rows[0] = existing.count
        let caseColumn = level1.table.columns[1].name
        var numbers: [Int64] = []
        for batch in Self.batches(existing.sorted().map(SQLValue.text)) {
            rows[1] += try count(.select(.count(from: schema.notes.name, where: .isIn("case_id", batch))))
            let ids = SQLStatement.select(Select(from: level1.table.name, columns: [level1.idColumn], where: .isIn(caseColumn, batch)))
            reads.append(ids)
            numbers += try connection.query(ids).compactMap { $0[0].int64.map { $0 / RowBuilder.idsPerCase } }
        }
        numbers.sort()
        for (t, table) in schema.dataTables.enumerated().dropFirst(2) {
            guard let id = table.primaryKey.first else { continue }
            for ranges in Self.idRanges(of: numbers, column: id) {
                rows[t] += try count(.select(.count(from: table.name, where: ranges)))
            }
        }
        return (rows, reads)
    }

    /// The chunk's ledger entries: per data table, the rows it loaded minus the rows it removed;
    /// nil when no count changes.
    func ledgerEntries(loaded: ChunkRows, removed: [Int], now: Date) -> SQLStatement? {
        let entries: [[SQLValue]] = schema.dataTables.enumerated().compactMap { t, table in
            let delta = Int64(loaded.tables[t].count) - Int64(t < removed.count ? removed[t] : 0)
            return delta == 0 ? nil : [.text(ledgerName(table.name)), .integer(delta), .timestamp(now)]
        }
        guard !entries.isEmpty else { return nil }
        return .insert(Insert(into: schema.counts.name, columns: schema.counts.columns.map(\.name), rows: entries))
    }

    /// The ledger replaced by the rows the data tables hold now: for a destination loaded before
    /// the ledger existed, and at the start of a repair (which then reloads every case).
    func ledgerBaselineStatements(on connection: any DatabaseConnection, now: Date) throws -> [SQLStatement] {
        var entries: [[SQLValue]] = []
        for table in schema.dataTables where try connection.tableExists(table.name) {
            let n = try connection.query(.select(.count(from: table.name))).first?[0].int64 ?? 0
            if n != 0 { entries.append([.text(ledgerName(table.name)), .integer(n), .timestamp(now)]) }
        }
        var out: [SQLStatement] = [.delete(Delete(from: schema.counts.name))]
        if !entries.isEmpty {
            out.append(.insert(Insert(into: schema.counts.name, columns: schema.counts.columns.map(\.name), rows: entries)))
        }
        return out
    }

    /// Rows committed per table, by ledger name; nil when the destination has no ledger yet (loaded
    /// by an earlier version and not run since).
    func committedRows(on connection: any DatabaseConnection) throws -> [String: Int64]? {
        guard try connection.tableExists(schema.counts.name) else { return nil }
        let d = schema.dialect
        let sql =
            "SELECT \(try d.quote("table_name")), SUM(\(try d.quote("row_delta"))) FROM \(try d.quote(schema.counts.name)) "
            + "GROUP BY \(try d.quote("table_name"))"
        var out: [String: Int64] = [:]
        for row in try connection.query(sql) {
            if let name = row[0].string { out[name] = row[1].int64 ?? 0 }
        }
        return out
    }

    /// Folds the ledger into one entry per table (at the end of a run, with the destination's lock
    /// held), so it stays as small as the dictionary.
    func compactLedger(on connection: any DatabaseConnection) throws {
        try connection.transaction {
            guard let committed = try committedRows(on: connection) else { return }
            let entries = try connection.query(.select(.count(from: schema.counts.name))).first?[0].int64 ?? 0
            guard entries > committed.count else { return }
            try connection.execute(.delete(Delete(from: schema.counts.name)))
            let now = Date()
            let rows: [[SQLValue]] = committed.sorted(by: { $0.key < $1.key }).compactMap { name, n in
                n == 0 ? nil : [.text(name), .integer(n), .timestamp(now)]
            }
            if !rows.isEmpty {
                try connection.execute(.insert(Insert(into: schema.counts.name, columns: schema.counts.columns.map(\.name), rows: rows)))
            }
        }
    }

    /// What differs between the destination and breakout's bookkeeping, read in one snapshot so a
    /// run committing meanwhile is not mistaken for drift: data tables or columns missing, and row
    /// counts that are not the ledger's.
    package func drift(on connection: any DatabaseConnection) throws -> [Drift] {
        // A read-only snapshot: no lock a running job's chunks would wait for (SQLite's BEGIN IMMEDIATE
        // would take the write lock).
        let begin =
            switch schema.dialect.engine {
            case .postgresql: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            case .mysql: "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
            case .sqlite: "BEGIN DEFERRED"
            case .sqlserver: schema.dialect.beginTransaction
            }
        _ = try connection.execute(begin)
        defer { try? connection.rollback() }
        var found: [Drift] = []
        let committed = try committedRows(on: connection)
        for table in schema.dataTables {
            let name = table.name.name
            guard try connection.tableExists(table.name) else {
                found.append(Drift(kind: .missingTable, table: name, description: "table \(name) is missing (dropped or renamed?)"))
                continue
            }
            let present = Set(try connection.columnNames(table.name))
            let missing = table.columns.map(\.name).filter { !present.contains($0) }
            if !missing.isEmpty {
                found.append(
                    Drift(
                        kind: .missingColumns, table: name,
                        description: "table \(name) lacks column\(missing.count == 1 ? "" : "s") "
                            + missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? " (+\(missing.count - 5))" : "")
                            + " (dropped or renamed?)"))
                continue
            }
            guard let committed else { continue }
            let expected = committed[ledgerName(table.name)] ?? 0
            let actual = try connection.query(.select(.count(from: table.name))).first?[0].int64 ?? 0
            if actual != expected {
                let gap = expected - actual
                found.append(
                    Drift(
                        kind: .rowCount, table: name,
                        description: "table \(name) has \(actual) rows where breakout committed \(expected) ("
                            + (gap > 0 ? "\(gap) deleted" : "\(-gap) added") + " outside breakout?)"))
            }
        }
        return found
    }
}
