import CSPro
import DatabaseDriver
import Foundation
import SQL

/// How one breakout run goes.
public struct RunOptions: Sendable {
    /// Workers that decode and load chunks in parallel (each with its own destination connection).
    public var threads: Int
    /// Cases per chunk; one chunk is one destination transaction.
    public var chunkSize: Int
    /// Stop after this many chunks (tests use it to simulate an interrupted run).
    public var maxChunks: Int?
    /// Asked before each new chunk: true stops the run at that chunk boundary (timeouts, SIGTERM);
    /// what was committed stays, the next run continues from the mark.
    public var shouldStop: (@Sendable () -> Bool)?
    /// How long a run waits for another run writing into the same destination tables to finish.
    public var destinationWait: Double

    public init(
        threads: Int = 1, chunkSize: Int = 1000, maxChunks: Int? = nil, shouldStop: (@Sendable () -> Bool)? = nil,
        destinationWait: Double = 60
    ) {
        self.threads = max(1, threads)
        self.chunkSize = max(1, chunkSize)
        self.maxChunks = maxChunks
        self.shouldStop = shouldStop
        self.destinationWait = destinationWait
    }
}

/// BreakoutProgress after each committed chunk.
public struct BreakoutProgress: Sendable {
    public var dictionary: String
    public var done: Int
    public var total: Int
    public var elapsed: Double
}

/// What one run did to one dictionary.
public struct DictionarySummary: Sendable, Codable {
    public var dictionary: String
    public var source: String
    public var destination: String
    /// `created`, `unchanged`, `migrated (…)`.
    public var schema: String
    public var newCases = 0
    public var updatedCases = 0
    public var deletedCases = 0
    public var failedCases = 0
    public var invalidValues = 0
    public var rows: [String: Int] = [:]
    public var seconds = 0.0
    /// The first few decoding failures: case key, revision, reason.
    public var failures: [String] = []
    /// The run stopped at a chunk boundary before the source was exhausted (timeout or shutdown).
    public var stopped = false

    public var cases: Int { newCases + updatedCases }

    /// The summary as the lines a terminal, a log and `last_run_output` show.
    public var text: String {
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
public final class BreakoutEngine: @unchecked Sendable {
    public let feed: any CaseFeed
    public let schema: BreakoutSchema
    public let layout: CaseLayout
    let connect: @Sendable () throws -> any DatabaseConnection
    public var progress: (@Sendable (BreakoutProgress) -> Void)?

    /// - Parameter namespace: the schema or table prefix (default: the dictionary name in lowercase).
    public init(
        feed: any CaseFeed, dialect: any SQLDialect, options: SchemaOptions, namespace: String? = nil,
        connect: @escaping @Sendable () throws -> any DatabaseConnection
    ) throws {
        self.feed = feed
        schema = try BreakoutSchema(dictionary: feed.dictionary, dialect: dialect, options: options, namespace: namespace)
        layout = CaseLayout(feed.dictionary)
        self.connect = connect
    }

    // MARK: - Stored state

    struct StoredState {
        var digest: String
        var model: String
        var options: String
        var fingerprint: String
        var mark: Mark
    }

    func readState(_ connection: any DatabaseConnection) throws -> StoredState? {
        // No bookkeeping table yet: a new destination. Any other failure is one.
        guard try connection.tableExists(schema.state.name) else { return nil }
        let rows = try connection.query(.select(Select(from: schema.state.name, where: .equals("dictionary", .text(feed.dictionary.name)))))
        guard let row = rows.first else { return nil }
        return StoredState(
            digest: row["dictionary_digest"]?.string ?? "", model: row["dictionary_model"]?.string ?? "",
            options: row["schema_options"]?.string ?? "", fingerprint: row["source_fingerprint"]?.string ?? "",
            mark: Mark(revision: row["mark_revision"]?.int64 ?? 0, id: row["mark_id"]?.int64 ?? 0))
    }

    var modelJSON: String { Self.json(feed.dictionary) }
    var optionsJSON: String {
        Self.json([
            "naming": schema.options.naming.rawValue, "include": schema.options.selection.include.joined(separator: ","),
            "exclude": schema.options.selection.exclude.joined(separator: ","),
        ])
    }
    public var digest: String {
        var h = FNV64()
        h.combine(modelJSON.utf8)
        return h.hex
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    // MARK: - Schema

    /// What the destination needs before loading: nothing, creation, or an in-place migration.
    public struct SchemaChange: Sendable {
        public var description: String
        public var statements: [SQLStatement]
        /// Whether the value labels are rewritten.
        public var reloadLabels: Bool
        /// Why the tables cannot migrate in place (empty when they can): they are rebuilt in a
        /// shadow namespace and swapped in.
        public var rebuildReasons: [String] = []
        /// The schema the destination holds now (nil when new).
        var old: BreakoutSchema?
    }

    /// Whether a column can go from `a` to `b` in place without losing anything.
    static func widens(_ a: SQLType, to b: SQLType) -> Bool {
        switch (a, b) {
        case (.varchar(let x), .varchar(let y)): return y >= x
        case (.integer, .bigint): return true
        case (.integer, .decimal(let p, 0)): return p >= 10
        case (.bigint, .decimal(let p, 0)): return p >= 19
        case (.decimal(let p1, let s1), .decimal(let p2, let s2)): return s1 == s2 && p2 >= p1
        default: return a == b
        }
    }

    func schemaChange(_ state: StoredState?) throws -> SchemaChange {
        guard let state else {
            return SchemaChange(description: "created", statements: schema.createStatements(), reloadLabels: true)
        }
        if state.model == modelJSON, state.options == optionsJSON {
            return SchemaChange(description: "unchanged", statements: [], reloadLabels: false)
        }
        guard let oldDictionary = try? JSONDecoder().decode(CSProDictionary.self, from: Data(state.model.utf8)) else {
            throw BreakoutError("the destination's breakout_state for \(feed.dictionary.name) holds a dictionary this version cannot read")
        }
        let old = try BreakoutSchema(
            dictionary: oldDictionary, dialect: schema.dialect, options: Self.options(state.options) ?? schema.options,
            namespace: schema.namespace)
        var statements: [SQLStatement] = []
        var changes: [String] = []
        var incompatible: [String] = []
        let oldTables = Dictionary(old.allTables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for table in schema.allTables {
            guard let before = oldTables[table.name] else {
                statements.append(.createTable(table))
                changes.append("new table \(table.name.name)")
                continue
            }
            let beforeColumns = Dictionary(before.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for column in table.columns {
                guard let was = beforeColumns[column.name] else {
                    var added = column
                    added.nullable = true
                    statements.append(.addColumn(table.name, added))
                    changes.append("new column \(table.name.name).\(column.name)")
                    continue
                }
                if was.type != column.type {
                    if Self.widens(was.type, to: column.type) {
                        statements.append(.alterColumnType(table.name, column))
                        changes.append("\(table.name.name).\(column.name) widened to \(schema.dialect.typeName(column.type))")
                    } else {
                        incompatible.append(
                            "\(table.name.name).\(column.name) changes type from \(schema.dialect.typeName(was.type)) to \(schema.dialect.typeName(column.type))"
                        )
                    }
                }
            }
            let now = Set(table.columns.map(\.name))
            for column in before.columns where !now.contains(column.name) {
                incompatible.append("\(table.name.name).\(column.name) is no longer in the dictionary")
            }
        }
        let newNames = Set(schema.allTables.map(\.name))
        for table in old.allTables where !newNames.contains(table.name) {
            incompatible.append("table \(table.name.name) is no longer in the dictionary")
        }
        if !incompatible.isEmpty {
            return SchemaChange(
                description: "rebuilt in \(shadowNamespace) and swapped in (" + incompatible.prefix(5).joined(separator: "; ")
                    + (incompatible.count > 5 ? "; …" : "") + ")",
                statements: [], reloadLabels: true, rebuildReasons: incompatible, old: old)
        }
        let description = changes.isEmpty ? "options changed (no table change)" : "migrated in place: " + changes.joined(separator: ", ")
        return SchemaChange(description: description, statements: statements, reloadLabels: true, old: old)
    }

    static func options(_ json: String) -> SchemaOptions? {
        guard let d = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)),
            let naming = Naming(rawValue: d["naming"] ?? "")
        else { return nil }
        func list(_ s: String?) -> [String] { (s ?? "").split(separator: ",").map(String.init) }
        return SchemaOptions(naming: naming, selection: RecordSelection(include: list(d["include"]), exclude: list(d["exclude"])))
    }

    /// Rows of the value labels table: every value of every value set of every kept item.
    func labelRows() -> [[SQLValue]] { BreakoutEngineLabels(schema: schema, dictionary: feed.dictionary).rows() }

    func statementsForSchema(_ change: SchemaChange, state: StoredState?, mark: Mark) -> [SQLStatement] {
        var out = change.statements
        if change.reloadLabels {
            out.append(.delete(Delete(from: schema.valueLabels.name)))
            let rows = labelRows()
            if !rows.isEmpty {
                out.append(.insert(Insert(into: schema.valueLabels.name, columns: schema.valueLabels.columns.map(\.name), rows: rows)))
            }
        }
        let now = SQLValue.timestamp(Date())
        if state == nil {
            out.append(
                .insert(
                    Insert(
                        into: schema.state.name, columns: schema.state.columns.map(\.name),
                        rows: [
                            [
                                .text(feed.dictionary.name), .text(digest), .text(modelJSON), .text(optionsJSON), .text(""), .integer(0),
                                .integer(0), now,
                            ]
                        ])))
        } else if !change.statements.isEmpty || change.reloadLabels {
            out.append(
                .update(
                    Update(
                        schema.state.name,
                        set: [
                            Assignment("dictionary_digest", .text(digest)), Assignment("dictionary_model", .text(modelJSON)),
                            Assignment("schema_options", .text(optionsJSON)), Assignment("updated_at", now),
                        ], where: .equals("dictionary", .text(feed.dictionary.name)))))
        }
        return out
    }

    // MARK: - Run

    /// Where a rebuild loads the new tables before they replace the live ones.
    var shadowNamespace: String { schema.namespace + "__next" }

    func shadowEngine() throws -> BreakoutEngine {
        let shadow = try BreakoutEngine(
            feed: feed, dialect: schema.dialect, options: schema.options, namespace: shadowNamespace, connect: connect)
        shadow.progress = progress
        return shadow
    }

    func swap(from shadow: BreakoutEngine, replacing old: BreakoutSchema) -> SQLStatement {
        .swapTables(
            TableSwap(
                live: old.allTables.map(\.name), shadow: shadow.schema.allTables, target: schema.allTables,
                liveNamespace: schema.namespace, shadowNamespace: shadow.schema.namespace))
    }

    /// Creates or migrates the tables, then loads every pending case. A dictionary change that cannot
    /// migrate in place loads everything into a shadow namespace while the live tables stay
    /// queryable, then swaps the shadow tables in at once.
    /// The session lock a run holds on its destination tables (one dictionary's namespace), so
    /// that two runs — of one job or of two jobs sharing a connection — never write them at once.
    public var destinationLock: String { "breakout:\(schema.namespace)" }

    /// `postgresql schema rgph`, `sqlite prefix census`: where the tables go, for summaries and plans.
    public var destinationDescription: String {
        "\(schema.dialect.engine.rawValue) \(schema.dialect.namespacing == .schema ? "schema" : "prefix") \(schema.namespace)"
    }

    public func run(_ options: RunOptions) throws -> DictionarySummary {
        let control = try connect()
        defer { control.close() }
        guard try control.lockSession(destinationLock, timeout: options.destinationWait) else {
            throw DestinationBusy(
                dictionary: feed.dictionary.name, destination: "\(schema.dialect.engine.rawValue) \(schema.namespace)",
                waited: options.destinationWait)
        }
        let state = try readState(control)
        let change = try schemaChange(state)
        if !change.rebuildReasons.isEmpty {
            let shadow = try shadowEngine()
            var summary = try shadow.run(options, startingOver: true)
            if options.maxChunks != nil, try shadow.feed.pendingCount(after: shadow.fold(control, discardStray: false)) > 0 {
                summary.schema = "rebuilding in \(shadowNamespace) (interrupted; the live tables are unchanged)"
                return summary
            }
            try control.transaction { try control.execute(swap(from: shadow, replacing: change.old!)) }
            summary.schema = change.description
            summary.destination = destinationDescription
            return summary
        }
        return try run(options, control: control, state: state, change: change)
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
        let setup = statementsForSchema(change, state: state, mark: state?.mark ?? .start)
        if !setup.isEmpty {
            // DDL commits implicitly on MySQL; every statement is idempotent (IF NOT EXISTS) so a
            // crash here is repaired by the next run.
            try control.transaction { for statement in setup { try control.execute(statement) } }
        }
        var summary = DictionarySummary(
            dictionary: feed.dictionary.name, source: feed.description,
            destination: destinationDescription,
            schema: change.description)
        for table in schema.dataTables { summary.rows[table.name.name] = 0 }

        var mark = try fold(control, discardStray: true)
        let reset = (state?.fingerprint ?? "") != feed.fingerprint
        if reset { mark = .start }
        let total = try feed.pendingCount(after: mark)
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
            let cases = try feed.cases(after: after, limit: options.chunkSize)
            if cases.isEmpty && !needsReset { break }
            let chunk = Chunk(after: after, through: cases.last?.position ?? after, cases: cases, reset: needsReset)
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
            mark = try fold(control, discardStray: false)
            done += cases.count
            progress?(
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
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    struct Chunk: Sendable {
        var after: Mark
        var through: Mark
        var cases: [SourceCase]
        /// First chunk after the source's content changed (file sources): empty the tables first.
        var reset: Bool
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
        try connection.execute(.begin)
        do {
            let prior = try readPrior(chunkReads(chunk, loaded: loaded), on: connection)
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
            try connection.execute(.commit)
            result.updated = prior.existing.count
        } catch {
            // The error that stopped the chunk is the one to report; a failed rollback leaves the
            // connection unusable, and the worker's next statement says so.
            try? connection.rollback()
            throw error
        }
        result.new = loaded.count - result.updated
        result.deleted = loaded.filter(\.deleted).count
        result.failures = failed.map { "case \($0.0.key) (revision \($0.0.revision)): \($0.1)" }
        return result
    }

    /// Advances the progress mark over contiguous committed chunks, in one transaction, and returns
    /// it. At the start of a run, chunks beyond a gap (left by a crash with several workers) are
    /// discarded: their cases come after the mark and are loaded again.
    @discardableResult
    func fold(_ connection: any DatabaseConnection, discardStray: Bool) throws -> Mark {
        try connection.transaction {
            guard let state = try readState(connection) else { return .start }
            var mark = state.mark
            let rows = try connection.query(.select(Select(from: schema.chunks.name)))
            var byAfter: [Mark: Mark] = [:]
            for row in rows {
                byAfter[Mark(revision: row["after_revision"]?.int64 ?? 0, id: row["after_id"]?.int64 ?? 0)] =
                    Mark(revision: row["through_revision"]?.int64 ?? 0, id: row["through_id"]?.int64 ?? 0)
            }
            var folded: [Mark] = []
            while let next = byAfter[mark] {
                folded.append(mark)
                byAfter[mark] = nil
                mark = next
            }
            let discard = discardStray ? Array(byAfter.keys) : []
            for key in folded + discard {
                try connection.execute(
                    .delete(
                        Delete(
                            from: schema.chunks.name,
                            where: .and([
                                .equals("after_revision", .integer(key.revision)), .equals("after_id", .integer(key.id)),
                            ]))))
            }
            if mark != state.mark {
                try connection.execute(
                    .update(
                        Update(
                            schema.state.name,
                            set: [
                                Assignment("mark_revision", .integer(mark.revision)), Assignment("mark_id", .integer(mark.id)),
                                Assignment("updated_at", .timestamp(Date())),
                            ], where: .equals("dictionary", .text(feed.dictionary.name)))))
            }
            return mark
        }
    }
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
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [BreakoutEngine.ChunkResult] = []

    func add(_ r: BreakoutEngine.ChunkResult) {
        lock.lock()
        results.append(r)
        lock.unlock()
    }

    var all: [BreakoutEngine.ChunkResult] {
        lock.lock(); defer { lock.unlock() }
        return results
    }
}

// MARK: - Dry run

extension BreakoutEngine {
    /// The progress mark as a run would start from it (committed chunks folded in), read only.
    func readMark(_ connection: (any DatabaseConnection)?, state: StoredState?) throws -> Mark {
        var mark = state?.mark ?? .start
        guard let connection, state != nil else { return mark }
        var byAfter: [Mark: Mark] = [:]
        for row in try connection.query(.select(Select(from: schema.chunks.name))) {
            byAfter[Mark(revision: row["after_revision"]?.int64 ?? 0, id: row["after_id"]?.int64 ?? 0)] =
                Mark(revision: row["through_revision"]?.int64 ?? 0, id: row["through_id"]?.int64 ?? 0)
        }
        while let next = byAfter[mark] { byAfter[mark] = nil; mark = next }
        return mark
    }

    /// How many source cases the destination has not loaded yet (its lag), reading only.
    public func pendingCases(connection: (any DatabaseConnection)?) throws -> Int {
        let state = try connection.flatMap { try readState($0) }
        var mark = try readMark(connection, state: state)
        if (state?.fingerprint ?? "") != feed.fingerprint { mark = .start }
        return try feed.pendingCount(after: mark)
    }
}

/// What the next run would do, as SQL in the destination's dialect; nothing is written anywhere.
public struct DryRunReport: Sendable {
    public struct Step: Sendable {
        /// One line saying what the statements do.
        public var comment: String
        /// The statements, as the run executes them.
        public var statements: [SQLStatement]
        /// The statements in the destination's dialect, values inline.
        public var sql: [String]
        /// Comment lines printed after the statements (a bulk load's first rows).
        public var notes: [String] = []

        /// The statements, then the notes commented out.
        public var lines: [String] { sql + notes.map { "-- " + $0 } }
    }

    public var dictionary: String
    public var source: String
    public var destination: String
    public var schema: String
    public var mark: Mark

    public var pendingCases: Int
    public var chunks: Int
    public var steps: [Step]

    /// Text for a terminal: what happens, then every statement.
    public var text: String {
        var out =
            "\(dictionary): \(pendingCases) case\(pendingCases == 1 ? "" : "s") pending after \(mark) in \(source) "
            + "(\(chunks) chunk\(chunks == 1 ? "" : "s")); destination \(destination); schema: \(schema)\n"
        for step in steps {
            out += "  -- \(step.comment)\n"
            for sql in step.sql {
                out += sql.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + ";\n"
            }
            for note in step.notes { out += "  -- \(note)\n" }
        }
        return out
    }

    /// A script a DBA can review and run.
    public var sql: String {
        var out =
            "-- breakout dry run for dictionary \(dictionary): \(pendingCases) pending case(s) after \(mark); destination \(destination)\n"
        for step in steps {
            out += "\n-- \(step.comment)\n"
            for sql in step.sql { out += sql + ";\n" }
            for note in step.notes { out += "-- \(note)\n" }
        }
        return out
    }
}

extension BreakoutEngine {
    /// Builds the dry run: DDL to create or migrate, then the first chunk's statements with a
    /// sample of its rows. `connection` is nil for a destination that does not exist yet; it is
    /// only read from.
    public func dryRun(connection: (any DatabaseConnection)?, chunkSize: Int, sampleRows: Int = 3) throws -> DryRunReport {
        let renderer = SQLRenderer(schema.dialect, inlineValues: true)
        func render(_ statements: [SQLStatement]) throws -> [String] { try statements.flatMap { try renderer.render($0) }.map(\.sql) }
        func step(_ comment: String, _ statements: [SQLStatement]) throws -> DryRunReport.Step {
            DryRunReport.Step(comment: comment, statements: statements, sql: try render(statements))
        }
        let state = try connection.flatMap { try readState($0) }
        let change = try schemaChange(state)
        var steps: [DryRunReport.Step] = []
        if !change.rebuildReasons.isEmpty, let old = change.old {
            // Everything is loaded again into the shadow namespace, then swapped in.
            let shadow = try shadowEngine()
            var report = try shadow.dryRun(connection: connection, chunkSize: chunkSize, sampleRows: sampleRows)
            report.steps.insert(
                try step(
                    "the dictionary changed in a way that cannot migrate in place: "
                        + change.rebuildReasons.joined(separator: "; ")
                        + ". Every case is loaded into \(shadowNamespace) while the live tables stay queryable", []), at: 0)
            report.steps.append(
                try step(
                    "when the shadow tables have caught up: swap them in, in one transaction",
                    [.begin, swap(from: shadow, replacing: old), .commit]))
            report.schema = change.description
            return report
        }
        let setup = statementsForSchema(change, state: state, mark: state?.mark ?? .start)
        if !setup.isEmpty {
            steps.append(
                try step(
                    state == nil
                        ? "create the tables (\(schema.dialect.namespacing == .schema ? "schema" : "table prefix") \(schema.namespace))"
                        : "schema: \(change.description)",
                    [.begin] + setup + [.commit]))
        }
        var mark = try readMark(connection, state: state)
        let reset = (state?.fingerprint ?? "") != feed.fingerprint
        if reset { mark = .start }
        let pending = try feed.pendingCount(after: mark)
        let first = try feed.cases(after: mark, limit: chunkSize)
        if !first.isEmpty || reset {
            // The same statements `load` runs, from the same functions; the reads run here, read-only.
            let chunk = Chunk(after: mark, through: first.last?.position ?? mark, cases: first, reset: reset)
            let (rows, loaded, failed) = decode(chunk, inflater: try ZlibInflater())
            let reads = chunkReads(chunk, loaded: loaded)
            let prior = try connection.map { c in state == nil ? ChunkPrior() : try readPrior(reads, on: c) } ?? ChunkPrior()
            let body = [reads.existing, reads.errors] + chunkWrites(chunk, rows: rows, failed: failed, prior: prior, now: Date())
            steps.append(try step("first chunk: \(first.count) case(s) in one transaction", [.begin]))
            for part in body where !part.statements.isEmpty {
                var printed = try step(part.comment, part.statements)
                for case .bulkLoad(let load) in part.statements {
                    let sample = Array(load.rows.prefix(sampleRows))
                    printed.notes.append("the first \(sample.count) row(s), as an INSERT would write them:")
                    printed.notes += try render([.insert(Insert(into: load.table, columns: load.columns, rows: sample))])
                }
                steps.append(printed)
            }
            steps.append(try step("end of the first chunk", [.commit]))
        }
        let chunks = (pending + chunkSize - 1) / chunkSize
        return DryRunReport(
            dictionary: feed.dictionary.name, source: feed.description,
            destination: destinationDescription,
            schema: change.description, mark: mark, pendingCases: pending, chunks: chunks, steps: steps)
    }
}
