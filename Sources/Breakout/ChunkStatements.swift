import CSPro
import DatabaseDriver
import Foundation
import SQL

/// A group of statements and the one line that says what they do.
package struct ChunkStep: Sendable {
    package var comment: String
    package var statements: [SQLStatement]
}

/// What a chunk's transaction found before writing: which of its cases are loaded already, and
/// which have errors recorded.
struct ChunkPrior {
    var existing: Set<String> = []
    var recordedErrors: [SQLValue] = []
    /// Rows of the existing cases per data table (the row ledger's removals), and the reads that
    /// counted them.
    var removed: [Int] = []
    var removedReads: [SQLStatement] = []
}

/// The statements of one chunk, as values. `load` runs them; the dry run prints them. Both build
/// them here, so a dry run prints exactly what a run executes.
extension BreakoutEngine {
    /// Values go into `IN (…)` lists of at most this many.
    static let keysPerStatement = 500

    static func batches(_ values: [SQLValue]) -> [[SQLValue]] {
        stride(from: 0, to: values.count, by: keysPerStatement).map { Array(values[$0..<min($0 + keysPerStatement, values.count)]) }
    }

    /// Predicates selecting the rows of the cases numbered `numbers` in a table whose ids are
    /// `number × 2^20 + n` (``RowBuilder``): one OR of id ranges per batch of cases.
    static func idRanges(of numbers: [Int64], column id: String) -> [SQLPredicate] {
        stride(from: 0, to: numbers.count, by: keysPerStatement).map { start in
            .or(
                numbers[start..<min(start + keysPerStatement, numbers.count)].map { n in
                    .and([
                        .compare(id, .greaterOrEqual, .integer(n * RowBuilder.idsPerCase)),
                        .compare(id, .less, .integer((n + 1) * RowBuilder.idsPerCase)),
                    ])
                })
        }
    }

    /// The reads at the start of the chunk's transaction. None when the chunk starts by emptying
    /// the tables: nothing can be loaded or recorded then.
    func chunkReads(_ chunk: Chunk, loaded: [SourceCase]) -> (existing: ChunkStep, errors: ChunkStep) {
        let existing =
            chunk.reset
            ? []
            : Self.batches(loaded.map { .text($0.guid) }).map {
                SQLStatement.select(Select(from: schema.cases.name, columns: ["id"], where: .isIn("id", $0)))
            }
        let errors =
            chunk.reset
            ? []
            : Self.batches(chunk.cases.map { .text($0.guid) }).map {
                SQLStatement.select(Select(from: schema.errors.name, columns: ["case_id"], where: .isIn("case_id", $0)))
            }
        return (
            ChunkStep(comment: "which of the chunk's cases are loaded already", statements: existing),
            ChunkStep(comment: "which of the chunk's cases have errors recorded", statements: errors)
        )
    }

    /// Runs the reads on `connection` (inside the chunk's transaction, or read-only for a dry run).
    func readPrior(_ reads: (existing: ChunkStep, errors: ChunkStep), on connection: any DatabaseConnection) throws -> ChunkPrior {
        var prior = ChunkPrior()
        for statement in reads.existing.statements {
            for row in try connection.query(statement) { if let id = row[0].string { prior.existing.insert(id) } }
        }
        for statement in reads.errors.statements { prior.recordedErrors += try connection.query(statement).map { $0[0] } }
        (prior.removed, prior.removedReads) = try removedRows(prior.existing, on: connection)
        return prior
    }

    /// The chunk's writes, in order: empty the tables (first chunk of a new or changed source),
    /// remove the previous rows of reloaded cases, bulk-load the rows, replace the chunk's
    /// recorded errors, and the chunk's bookkeeping row.
    func chunkWrites(_ chunk: Chunk, rows: ChunkRows, failed: [(SourceCase, String)], prior: ChunkPrior, now: Date) -> [ChunkStep] {
        var steps: [ChunkStep] = []
        if chunk.reset {
            steps.append(
                ChunkStep(
                    comment: "the source is new or changed (\(feed.description)): empty the tables and start from its first case",
                    statements: [
                        .delete(Delete(from: schema.cases.name)), .delete(Delete(from: schema.errors.name)),
                        .delete(Delete(from: schema.chunks.name)), .delete(Delete(from: schema.counts.name)),
                        .update(
                            Update(
                                schema.state.name,
                                set: [
                                    Assignment("source_fingerprint", .text(feed.fingerprint)), Assignment("mark_revision", .integer(0)),
                                    Assignment("mark_id", .integer(0)),
                                ], where: .equals("dictionary", .text(feed.dictionary.name)))),
                    ]))
        }
        if !prior.existing.isEmpty {
            steps.append(
                ChunkStep(
                    comment:
                        "remove the previous rows of \(prior.existing.count) re-synced case(s) (cascades to notes, levels and records)",
                    statements: Self.batches(prior.existing.sorted().map(SQLValue.text)).map {
                        .delete(Delete(from: schema.cases.name, where: .isIn("id", $0)))
                    }))
        }
        for (t, table) in schema.dataTables.enumerated() where !rows.tables[t].isEmpty {
            steps.append(
                ChunkStep(
                    comment: "\(schema.dialect.bulkLoadMethod.rawValue) into \(table.name.name): \(rows.tables[t].count) row(s)",
                    statements: [.bulkLoad(BulkLoad(into: table.name, columns: table.columns.map(\.name), rows: rows.tables[t]))]))
        }
        // Errors of cases in this chunk: cleared when they load, replaced when they fail again.
        // Only rows that exist are deleted, by key (no gap locks).
        if !prior.recordedErrors.isEmpty {
            steps.append(
                ChunkStep(
                    comment: "clear the errors recorded for \(prior.recordedErrors.count) of the chunk's case(s)",
                    statements: [.delete(Delete(from: schema.errors.name, where: .isIn("case_id", prior.recordedErrors)))]))
        }
        if !failed.isEmpty {
            steps.append(
                ChunkStep(
                    comment: "\(failed.count) case(s) cannot be decoded; recorded in breakout_errors: "
                        + failed.prefix(3).map { "\($0.0.key): \($0.1)" }.joined(separator: "; "),
                    statements: [
                        .insert(
                            Insert(
                                into: schema.errors.name, columns: schema.errors.columns.map(\.name),
                                rows: failed.map { c, reason in
                                    [.text(c.guid), .text(c.key), .integer(c.revision), .text(reason), .timestamp(now)]
                                }))
                    ]))
        }
        if !chunk.cases.isEmpty && !chunk.storedOrder {
            steps.append(
                ChunkStep(
                    comment: "the chunk's bookkeeping row, folded into the progress mark once earlier chunks are in",
                    statements: [
                        .insert(
                            Insert(
                                into: schema.chunks.name, columns: schema.chunks.columns.map(\.name),
                                rows: [
                                    [
                                        .integer(chunk.after.revision), .integer(chunk.after.id), .integer(chunk.through.revision),
                                        .integer(chunk.through.id),
                                        .integer(Int64(chunk.cases.count)), .timestamp(now),
                                    ]
                                ]))
                    ]))
        }
        if let entries = ledgerEntries(loaded: rows, removed: prior.removed, now: now) {
            steps.append(ChunkStep(comment: "the row ledger: rows each table gained or lost in this chunk", statements: [entries]))
        }
        return steps
    }
}
