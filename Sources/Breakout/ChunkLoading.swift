import CSPro
import DatabaseDriver
import Foundation
import SQL

// One chunk: decoded in a worker, loaded in one transaction (the statements of
// ChunkStatements.swift), retried on a deadlock.

extension BreakoutEngine {
    struct Chunk: Sendable {
        var after: Mark
        var through: Mark
        var cases: [SourceCase]
        /// First chunk after the source's content changed (file sources): empty the tables first.
        var reset: Bool
        /// Part of a first load read in the source's stored order (StoredOrder.swift): it has no
        /// bookkeeping row; the mark moves once every such chunk is in.
        var storedOrder = false
        /// Loaded into tables without their keys yet (DeferredKeys.swift): none of its cases may be
        /// loaded already, since no cascade would remove their rows.
        var keyless = false
    }

    struct ChunkResult: Sendable {
        var new = 0
        var updated = 0
        var deleted = 0
        var failures: [String] = []
        var invalidValues = 0
        var rows: [String: Int] = [:]
    }

    /// Decodes a chunk and returns its rows and failures (no database work).
    func decode(_ chunk: Chunk, inflater: ZlibInflater) -> (rows: ChunkRows, loaded: [SourceCase], failed: [(SourceCase, String)]) {
        let builder = RowBuilder(schema: schema, layout: layout)
        var rows = ChunkRows(tableCount: builder.tableCount)
        var loaded: [SourceCase] = []
        var failed: [(SourceCase, String)] = []
        for source in chunk.cases {
            do {
                try builder.appendCase(source, inflater: inflater, to: &rows)
                loaded.append(source)
            } catch {
                failed.append((source, "\(error)"))
            }
        }
        return (rows, loaded, failed)
    }

    /// One chunk in one transaction: reset (file sources), remove reloaded cases, bulk-load, record
    /// failures, and the chunk's bookkeeping row.
    func process(_ chunk: Chunk, on connection: any DatabaseConnection) throws -> ChunkResult {
        let decoded = decode(chunk, inflater: try ZlibInflater())
        // Workers touch different cases, but InnoDB's gap locks on foreign-key indexes can still
        // make two chunk transactions deadlock; the loser was rolled back and is run again.
        var attempt = 1
        while true {
            do {
                return try load(chunk, decoded, on: connection)
            } catch let error as DatabaseError where error.isTransient && attempt < 5 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt * attempt))
            }
        }
    }

    /// Runs the chunk's transaction: `.begin`, the reads, the writes of ``chunkWrites``, `.commit`.
    func load(
        _ chunk: Chunk, _ decoded: (rows: ChunkRows, loaded: [SourceCase], failed: [(SourceCase, String)]),
        on connection: any DatabaseConnection
    ) throws -> ChunkResult {
        let (rows, loaded, failed) = decoded
        var result = ChunkResult()
        result.invalidValues = rows.invalidValues
        // `transaction` sends the dialect's begin and commit, the `.begin`/`.commit` the dry run prints.
        try connection.transaction {
            let prior = try readPrior(chunkReads(chunk, loaded: loaded), on: connection)
            if chunk.keyless, let loadedAlready = prior.existing.first {
                throw BreakoutError(
                    "case \(loadedAlready) is loaded already in a first load whose keys are not built yet; the run stops "
                        + "and the next one starts the first load over. Please report this: it is a defect in breakout")
            }
            for step in chunkWrites(chunk, rows: rows, failed: failed, prior: prior, now: Date()) {
                for statement in step.statements {
                    let n = try connection.execute(statement)
                    if case .bulkLoad(let load) = statement {
                        guard n == load.rows.count else {
                            throw BreakoutError("loading \(load.table.name) took \(n) of \(load.rows.count) rows")
                        }
                        result.rows[load.table.name, default: 0] += n
                    }
                }
            }
            result.updated = prior.existing.count
        }
        result.new = loaded.count - result.updated
        result.deleted = loaded.filter(\.deleted).count
        result.failures = failed.map { "case \($0.0.key) (revision \($0.0.revision)): \($0.1)" }
        return result
    }
}
