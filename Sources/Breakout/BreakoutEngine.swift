import CSPro
import DatabaseDriver
import Foundation
import SQL
import Synchronization

/// How one breakout run goes.
package struct RunOptions: Sendable {
    /// Workers that decode and load chunks in parallel (each with its own destination connection).
    package var threads: Int
    /// Cases per chunk; one chunk is one destination transaction.
    package var chunkSize: Int
    /// Stop after this many chunks (tests use it to simulate an interrupted run).
    package var maxChunks: Int?
    /// Asked before each new chunk: true stops the run at that chunk boundary (timeouts, SIGTERM);
    /// what was committed stays, the next run continues from the mark.
    package var shouldStop: (@Sendable () -> Bool)?
    /// How long a run waits for another run writing into the same destination tables to finish.
    package var destinationWait: Double
    /// Told after each committed chunk (on the run's coordinating thread).
    package var progress: (@Sendable (BreakoutProgress) -> Void)?
    /// A first load of at least this many cases reads the source in its stored order when that
    /// is faster (``CaseFeed/storedOrderSnapshot()``); nil never does.
    package var storedOrderFrom: Int? = BreakoutEngine.storedOrderFrom
    /// Such a first load into tables it creates builds their keys after the rows (DeferredKeys.swift).
    package var deferKeys = true
    /// Put drift right first (``BreakoutEngine/drift(on:)``): rows deleted or added by hand are
    /// restored by reloading the cases whose rows differ (Repair.swift); a missing table or column by a rebuild.
    package var repair = false
    /// Rebuild the tables in the shadow namespace and swap them in, whatever the bookkeeping says.
    package var rebuild = false

    package init(
        threads: Int = 1, chunkSize: Int = 1000, maxChunks: Int? = nil, shouldStop: (@Sendable () -> Bool)? = nil,
        destinationWait: Double = 60, progress: (@Sendable (BreakoutProgress) -> Void)? = nil
    ) {
        self.threads = max(1, threads)
        self.chunkSize = max(1, chunkSize)
        self.maxChunks = maxChunks
        self.shouldStop = shouldStop
        self.destinationWait = destinationWait
        self.progress = progress
    }
}

/// BreakoutProgress after each committed chunk.
package struct BreakoutProgress: Sendable {
    package var dictionary: String
    package var done: Int
    package var total: Int
    package var elapsed: Double
}

/// What one run did to one dictionary.
package struct DictionarySummary: Sendable, Codable {
    package var dictionary: String
    package var source: String
    package var destination: String
    /// `created`, `unchanged`, `migrated (…)`.
    package var schema: String
    package var newCases = 0
    package var updatedCases = 0
    package var deletedCases = 0
    package var failedCases = 0
    package var invalidValues = 0
    package var rows: [String: Int] = [:]
    package var seconds = 0.0
    /// The first few decoding failures: case key, revision, reason.
    package var failures: [String] = []
    /// The run stopped at a chunk boundary before the source was exhausted (timeout or shutdown).
    package var stopped = false

    package var cases: Int { newCases + updatedCases }

    /// The summary as the lines a terminal, a log and `last_run_output` show.
    package var text: String {
        var lines = [
            "\(dictionary): \(cases) cases loaded (\(newCases) new, \(updatedCases) updated, \(deletedCases) flagged deleted), "
                + "\(failedCases) failed, \(rows.values.reduce(0, +)) rows in \(String(format: "%.1f", seconds)) s"
                + (seconds > 0 && cases > 0 ? String(format: " (%.0f cases/s)", Double(cases) / seconds) : "")
        ]
        lines.append("  source: \(source); destination: \(destination); schema: \(schema)")
        for (table, n) in rows.sorted(by: { $0.key < $1.key }) where n > 0 { lines.append("  \(table): \(n) rows") }
        if stopped { lines.append("  stopped at a chunk boundary before the end; the next run continues from the mark") }
        if invalidValues > 0 {
            lines.append("  \(invalidValues) values did not fit their item (non-numeric text in a numeric item) and were written as NULL")
        }
        for f in failures { lines.append("  failed: \(f)") }
        if failedCases > failures.count { lines.append("  … \(failedCases - failures.count) more in breakout_errors") }
        return lines.joined(separator: "\n")
    }
}

/// Breaks out one dictionary from a feed into one destination.
///
/// Exactly once: every chunk commits its rows together with a `breakout_chunks` row naming the
/// (revision, id) range it covers; the progress mark in `breakout_state` advances over contiguous
/// committed chunks. Reloading a case deletes its previous rows (cascading from `cases`) and
/// inserts them again with the same ids, so a chunk done twice after a crash leaves what doing it
/// once leaves.
/// Immutable after init; `@unchecked` only because a `CaseFeed` is a class the engine's threads
/// never share: the coordinator alone reads the feed, workers get chunks.
package final class BreakoutEngine: @unchecked Sendable {
    package let feed: any CaseFeed
    package let schema: BreakoutSchema
    package let layout: CaseLayout
    let connect: @Sendable () throws -> any DatabaseConnection
    /// False for a rebuild's shadow engine, whose tables are renamed afterwards (``viewStatements(replacing:)``).
    private(set) var createsViews = true

    /// - Parameter namespace: the schema or table prefix (default: the dictionary name in lowercase).
    package init(
        feed: any CaseFeed, dialect: any SQLDialect, options: SchemaOptions, namespace: String? = nil,
        connect: @escaping @Sendable () throws -> any DatabaseConnection
    ) throws {
        self.feed = feed
        schema = try BreakoutSchema(dictionary: feed.dictionary, dialect: dialect, options: options, namespace: namespace)
        layout = CaseLayout(feed.dictionary)
        self.connect = connect
    }

    // MARK: - Run

    /// Where a rebuild loads the new tables before they replace the live ones.
    var shadowNamespace: String { schema.namespace + "__next" }

    func shadowEngine() throws -> BreakoutEngine {
        let shadow = try BreakoutEngine(
            feed: feed, dialect: schema.dialect, options: schema.options, namespace: shadowNamespace, connect: connect)
        shadow.createsViews = false
        return shadow
    }

    /// The statements of the swap's transaction: the live views dropped, the shadow tables swapped
    /// in for `live` (the tables of `old` that exist), the views created on them.
    func swap(from shadow: BreakoutEngine, replacing live: [TableDefinition], old: BreakoutSchema?) -> [SQLStatement] {
        let views = viewStatements(replacing: old)
        return views.drop + [
            .swapTables(
                TableSwap(
                    live: live.map(\.name), shadow: shadow.schema.allTables, target: schema.allTables,
                    liveNamespace: schema.namespace, shadowNamespace: shadow.schema.namespace))
        ] + views.create + (views.create.isEmpty ? [] : schema.commentStatements(views: true).filter(\.isViewComment))
    }

    /// Creates or migrates the tables, then loads every pending case. A dictionary change that cannot
    /// migrate in place loads everything into a shadow namespace while the live tables stay
    /// queryable, then swaps the shadow tables in at once.
    /// The session lock a run holds on its destination tables (one dictionary's namespace), so
    /// that two runs — of one job or of two jobs sharing a connection — never write them at once.
    package var destinationLock: String { "breakout:\(schema.namespace)" }

    /// `postgresql schema rgph`, `sqlite prefix census`: where the tables go, for summaries and plans.
    package var destinationDescription: String {
        "\(schema.dialect.engine.rawValue) \(schema.dialect.namespacing == .schema ? "schema" : "prefix") \(schema.namespace)"
    }

    package func run(_ options: RunOptions) throws -> DictionarySummary {
        let control = try connect()
        defer { control.close() }
        guard try control.lockSession(destinationLock, timeout: options.destinationWait) else {
            throw DestinationBusy(
                dictionary: feed.dictionary.name, destination: "\(schema.dialect.engine.rawValue) \(schema.namespace)",
                waited: options.destinationWait)
        }
        let state = try readState(control)
        var change = try schemaChange(state)
        var repaired: String?
        var rowRepair: RowRepair?
        let started = Date()
        if state != nil, change.rebuildReasons.isEmpty, options.rebuild || options.repair {
            let drift = options.repair ? try drift(on: control) : []
            if options.rebuild || drift.contains(where: \.needsRebuild) {
                let reasons = options.rebuild ? ["requested with --rebuild"] : drift.filter(\.needsRebuild).map(\.description)
                change.rebuildReasons = reasons
                change.description = "rebuilt in \(shadowNamespace) and swapped in (" + reasons.joined(separator: "; ") + ")"
            } else if !drift.isEmpty {
                let repair = try repairRows(options, on: control)
                repaired =
                    "repaired in place: \(repair.reloaded) of \(repair.checked) cases reloaded ("
                    + drift.map(\.description).joined(separator: "; ") + ")"
                rowRepair = repair
            } else {
                repaired = "no drift found; nothing to repair"
            }
        }
        if !change.rebuildReasons.isEmpty {
            let shadow = try shadowEngine()
            var summary = try shadow.run(options, startingOver: true)
            if options.maxChunks != nil, try shadow.feed.pendingCount(after: shadow.fold(control, discardStray: false)) > 0 {
                summary.schema = "rebuilding in \(shadowNamespace) (interrupted; the live tables are unchanged)"
                return summary
            }
            // Only the live tables that exist are retired: a table dropped by hand is drift a rebuild repairs.
            let live = try (change.old ?? schema).allTables.filter { try control.tableExists($0.name) }
            try control.transaction {
                for statement in swap(from: shadow, replacing: live, old: change.old ?? schema) { try control.execute(statement) }
            }
            summary.schema = change.description
            summary.destination = destinationDescription
            // The rows went into the shadow tables, which now carry the live names.
            let liveName = Dictionary(
                zip(shadow.schema.dataTables.map(\.name.name), schema.dataTables.map(\.name.name)), uniquingKeysWith: { a, _ in a })
            summary.rows = Dictionary(summary.rows.map { (liveName[$0.key] ?? $0.key, $0.value) }, uniquingKeysWith: +)
            return summary
        }
        var summary = try run(options, control: control, state: state, change: change)
        if let repaired { summary.schema = repaired }
        if let rowRepair {
            summary.merge(rowRepair.result)
            summary.seconds = Date().timeIntervalSince(started)
        }
        return summary
    }

    /// Loads into this engine's namespace; with `startingOver`, tables of an older layout there are dropped first.
    func run(_ options: RunOptions, startingOver: Bool) throws -> DictionarySummary {
        let control = try connect()
        defer { control.close() }
        var state = try readState(control)
        var change = try schemaChange(state)
        if startingOver, !change.rebuildReasons.isEmpty, let old = change.old {
            try control.transaction {
                for table in old.allTables.reversed() { try control.execute(.dropTable(table.name, ifExists: true)) }
            }
            state = nil
            change = try schemaChange(nil)
        }
        return try run(options, control: control, state: state, change: change)
    }

    func run(_ options: RunOptions, control: any DatabaseConnection, state: StoredState?, change: SchemaChange) throws -> DictionarySummary
    {
        let started = Date()
        // A first load into tables this run creates, read in stored order, creates the data
        // tables keyless and adds their keys after the rows (DeferredKeys.swift).
        let firstLoad = options.deferKeys ? try keylessFirstLoad(state: state, storedOrderFrom: options.storedOrderFrom) : nil
        var keysDeferred = firstLoad != nil
        var setup = statementsForSchema(change, state: state, mark: state?.mark ?? .start)
        if keysDeferred { setup = keylessCreates(setup) }
        // Tables loaded by a version without the row ledger get one, counted from what they hold.
        let ledgerMissing = try state != nil && !control.tableExists(schema.counts.name)
        if ledgerMissing { setup.append(.createTable(schema.counts)) }
        if !setup.isEmpty {
            // DDL commits implicitly on MySQL; every statement is idempotent (IF NOT EXISTS) so a
            // crash here is repaired by the next run.
            try control.transaction { for statement in setup { try control.execute(statement) } }
        }
        if ledgerMissing {
            try control.transaction {
                for statement in try ledgerBaselineStatements(on: control, now: Date()) { try control.execute(statement) }
            }
        }
        var summary = DictionarySummary(
            dictionary: feed.dictionary.name, source: feed.description,
            destination: destinationDescription,
            schema: change.description)
        for table in schema.dataTables { summary.rows[table.name.name] = 0 }

        var mark = try fold(control, discardStray: true)
        let reset = (state?.fingerprint ?? "") != feed.fingerprint
        if reset { mark = .start }
        let total = try firstLoad?.pending ?? feed.pendingCount(after: mark)
        var scan = try firstLoad.map(\.scan) ?? storedOrderScan(mark: mark, pending: total, from: options.storedOrderFrom)
        if !keysDeferred, mark == .start, addsKeysLater {
            // Keys missing at the start: a first load with deferred keys was stopped before they were in.
            let missing = try missingKeys(control)
            if !missing.isEmpty, scan != nil, options.deferKeys {
                try startKeylessLoadOver(on: control)
                keysDeferred = true
            } else {
                try completeKeys(missing, on: control)
            }
        }
        let threads = schema.dialect.concurrentWriters ? options.threads : 1
        let pool = threads > 1 ? try WorkerPool(count: threads, connect: connect) : nil
        var chunkIndex = 0
        var done = 0
        var firstError: Error?
        let results = ResultBox()
        var after = mark
        var needsReset = reset
        while options.maxChunks.map({ chunkIndex < $0 }) ?? true {
            if options.shouldStop?() == true {
                summary.stopped = true
                break
            }
            var cases: [SourceCase]
            let scanning = scan != nil
            if let s = scan {
                (cases, scan!.cursor) = try feed.storedOrderCases(through: s.through, after: s.cursor, limit: options.chunkSize)
                if cases.isEmpty && !needsReset {
                    // Every case of the snapshot is loaded (or recorded as failed): the mark moves
                    // to it, and the run goes on in (revision, id) order with what came after.
                    if let pool {
                        do { try pool.drain() } catch {
                            firstError = error
                            break
                        }
                    }
                    if keysDeferred {
                        try addKeys(try missingKeys(control), on: control)
                        keysDeferred = false
                    }
                    try control.transaction { try control.execute(markUpdate(s.through, now: Date())) }
                    mark = s.through
                    after = s.through
                    scan = nil
                    continue
                }
            } else {
                cases = try feed.cases(after: after, limit: options.chunkSize)
            }
            if cases.isEmpty && !needsReset { break }
            let chunk = Chunk(
                after: after, through: scanning ? after : cases.last?.position ?? after, cases: cases, reset: needsReset,
                storedOrder: scanning, keyless: keysDeferred)
            needsReset = false
            after = chunk.through
            chunkIndex += 1
            if let pool {
                // The reset chunk must commit before any other starts.
                if chunk.reset { try pool.drain() }
                try pool.submit { [self] connection in results.add(try self.process(chunk, on: connection)) }
                if chunk.reset { try pool.drain() }
                if let error = pool.firstError { firstError = error; break }
            } else {
                results.add(try process(chunk, on: control))
            }
            if !scanning { mark = try fold(control, discardStray: false) }
            done += cases.count
            options.progress?(
                BreakoutProgress(
                    dictionary: feed.dictionary.name, done: min(done, total), total: total, elapsed: Date().timeIntervalSince(started)))
            if cases.isEmpty { break }
        }
        if let pool {
            do { try pool.drain() } catch { firstError = firstError ?? error }
            pool.stop()
        }
        for r in results.all { summary.merge(r) }
        _ = try fold(control, discardStray: false)
        if let firstError { throw firstError }
        try compactLedger(on: control)
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }
}

extension SQLStatement {
    /// Comments on an analyst view (set after a swap, when the views exist).
    var isViewComment: Bool { if case .comments(let c) = self { c.isView } else { false } }
}

extension DictionarySummary {
    mutating func merge(_ r: BreakoutEngine.ChunkResult) {
        newCases += r.new
        updatedCases += r.updated
        deletedCases += r.deleted
        failedCases += r.failures.count
        invalidValues += r.invalidValues
        for (t, n) in r.rows { rows[t, default: 0] += n }
        failures += r.failures.prefix(max(0, 10 - failures.count))
    }
}

/// Chunk results gathered from workers.
final class ResultBox: Sendable {
    private let results = Mutex<[BreakoutEngine.ChunkResult]>([])

    func add(_ r: BreakoutEngine.ChunkResult) { results.withLock { $0.append(r) } }

    var all: [BreakoutEngine.ChunkResult] { results.withLock { $0 } }
}
