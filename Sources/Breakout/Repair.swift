import CSPro
import DatabaseDriver
import Foundation
import SQL

// `process-cases --repair` for rows deleted or added by hand: every case up to the progress mark is
// read from the source and decoded again, the rows it must have are counted per table and compared
// with the rows the destination holds for it (row ids are `number × 2^20 + n`, so a case's rows
// are one id range per table), and only the cases that differ are reloaded, through the same chunk
// transaction as a re-synced case. The ledger is then restarted from the tables as they are.

extension BreakoutEngine {
    /// What a repair in place did.
    struct RowRepair {
        var checked = 0
        var reloaded = 0
        var result = ChunkResult()
    }

    /// Checks every case up to the mark and reloads those whose rows differ from what they decode to.
    func repairRows(_ options: RunOptions, on control: any DatabaseConnection) throws -> RowRepair {
        let mark = try fold(control, discardStray: true)
        var repair = RowRepair()
        var after = Mark.start
        while after < mark {
            if options.shouldStop?() == true { break }
            let read = try feed.cases(after: after, limit: options.chunkSize)
            guard let last = read.last else { break }
            after = last.position
            let cases = read.filter { !(mark < $0.position) }
            if cases.isEmpty { break }
            let decoded = decode(Chunk(after: .start, through: .start, cases: cases, reset: false), inflater: try ZlibInflater())
            let damaged = try differing(decoded.loaded, expected: decoded.rows, on: control)
            repair.checked += decoded.loaded.count
            guard !damaged.isEmpty else { continue }
            // No bookkeeping row (the mark is past these cases already): a stored-order chunk writes none.
            let chunk = Chunk(after: mark, through: mark, cases: damaged, reset: false, storedOrder: true)
            let result = try process(chunk, on: control)
            repair.reloaded += damaged.count
            repair.result.updated += result.updated
            repair.result.new += result.new
            repair.result.failures += result.failures
            for (t, n) in result.rows { repair.result.rows[t, default: 0] += n }
        }
        // The ledger restarted from the tables as they now are: what breakout committed, and any
        // row of a case the source does not have (a hand-made `cases` row stays, counted).
        if !(options.shouldStop?() ?? false) {
            try control.transaction {
                for statement in try ledgerBaselineStatements(on: control, now: Date()) { try control.execute(statement) }
            }
        }
        return repair
    }

    /// The cases whose rows in the destination are not the rows they decode to (counted per table).
    func differing(_ cases: [SourceCase], expected rows: ChunkRows, on connection: any DatabaseConnection) throws -> [SourceCase] {
        guard !cases.isEmpty else { return [] }
        let tables = schema.dataTables
        var expected: [String: [Int]] = [:]
        var actual: [String: [Int]] = [:]
        let byNumber = Dictionary(cases.map { ($0.number, $0.guid) }, uniquingKeysWith: { a, _ in a })
        func add(_ into: inout [String: [Int]], _ guid: String, _ t: Int) {
            into[guid, default: Array(repeating: 0, count: tables.count)][t] += 1
        }
        for (t, table) in rows.tables.enumerated() {
            for row in table {
                switch t {
                case 0, 1: if let guid = row[0].string { add(&expected, guid, t) }
                default: if let id = row[0].int64, let guid = byNumber[id / RowBuilder.idsPerCase] { add(&expected, guid, t) }
                }
            }
        }
        let guids = cases.map { SQLValue.text($0.guid) }
        for batch in Self.batches(guids) {
            for row in try connection.query(.select(Select(from: schema.cases.name, columns: ["id"], where: .isIn("id", batch)))) {
                if let guid = row[0].string { add(&actual, guid, 0) }
            }
            for row in try connection.query(.select(Select(from: schema.notes.name, columns: ["case_id"], where: .isIn("case_id", batch))))
            {
                if let guid = row[0].string { add(&actual, guid, 1) }
            }
        }
        let numbers = cases.map(\.number).sorted()
        for (t, table) in tables.enumerated().dropFirst(2) {
            guard let id = table.primaryKey.first else { continue }
            for ranges in Self.idRanges(of: numbers, column: id) {
                for row in try connection.query(.select(Select(from: table.name, columns: [id], where: ranges))) {
                    if let value = row[0].int64, let guid = byNumber[value / RowBuilder.idsPerCase] { add(&actual, guid, t) }
                }
            }
        }
        let none = Array(repeating: 0, count: tables.count)
        return cases.filter { (expected[$0.guid] ?? none) != (actual[$0.guid] ?? none) }
    }
}
