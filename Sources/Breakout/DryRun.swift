import CSPro
import DatabaseDriver
import Foundation
import SQL

/// What the next run would do, as SQL in the destination's dialect; nothing is written anywhere.
package struct DryRunReport: Sendable {
    package struct Step: Sendable {
        /// One line saying what the statements do.
        package var comment: String
        /// The statements, as the run executes them.
        package var statements: [SQLStatement]
        /// The statements in the destination's dialect, values inline.
        package var sql: [String]
        /// Comment lines printed after the statements (a bulk load's first rows).
        package var notes: [String] = []

        /// The statements, then the notes commented out.
        package var lines: [String] { sql + notes.map { "-- " + $0 } }
    }

    package var dictionary: String
    package var source: String
    package var destination: String
    package var schema: String
    /// What the run does to the tables, and the changes (or the reasons for a rebuild).
    package var schemaAction: SchemaAction
    package var schemaChanges: [String]
    /// Drift: what breakout's bookkeeping says the destination holds and it does not (a data table
    /// or column dropped or renamed by hand, rows deleted or added by hand); empty when none was found.
    package var drift: [Drift] = []

    /// The `process-cases` option that puts the drift right: `--repair` (missing or extra rows are
    /// reloaded in place; missing tables or columns rebuilt); nil when there is none.
    package var repairOption: String? { drift.isEmpty ? nil : "--repair" }
    package var mark: Mark

    package var pendingCases: Int
    package var chunks: Int
    package var steps: [Step]

    /// Text for a terminal: what happens, then every statement.
    package var text: String { text(abbreviatingOver: nil) }

    /// As `text`; with a limit, each statement or note longer than it is cut to its start, its
    /// size and its digest (a plan a reviewer reads; `--format sql` keeps them whole).
    package func text(abbreviatingOver limit: Int?) -> String {
        func shown(_ s: String) -> String { limit.map { Self.abbreviated(s, over: $0) } ?? s }
        var out =
            "\(dictionary): \(pendingCases) case\(pendingCases == 1 ? "" : "s") pending after \(mark) in \(source) "
            + "(\(chunks) chunk\(chunks == 1 ? "" : "s")); destination \(destination); schema: \(schema)\n"
        for d in drift { out += "  DRIFT: \(d); process-cases --repair puts it right\n" }
        for step in steps {
            out += "  -- \(shown(step.comment))\n"
            for sql in step.sql {
                out += shown(sql).split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + ";\n"
            }
            for note in step.notes { out += "  -- \(shown(note))\n" }
        }
        return out
    }

    /// `INSERT INTO "census"."value_labels" … [7463 characters, digest 3f2a9c0e1b7d4a55]` when
    /// longer than `limit` (characters, on any one line); unchanged otherwise.
    /// A long `CREATE TABLE` is laid out one column per line instead: its columns are what a
    /// reviewer reads.
    package static func abbreviated(_ s: String, over limit: Int) -> String {
        guard s.split(separator: "\n", omittingEmptySubsequences: false).contains(where: { $0.count > limit }) else { return s }
        if s.hasPrefix("CREATE TABLE"), let columns = columnsLaidOut(s),
            !columns.split(separator: "\n").contains(where: { $0.count > limit })
        {
            return columns
        }
        var digest = FNV64()
        digest.combine(s.utf8)
        let head = s.prefix(while: { $0 != "\n" }).prefix(max(limit / 2, 40))
        return "\(head) … [\(s.count) characters, digest \(digest.hex)]"
    }

    /// `CREATE TABLE t (a …, b …, PRIMARY KEY (a))` as `CREATE TABLE t (` + one element per line +
    /// `)`; nil when the statement is not that shape. Commas inside parentheses or quotes stay.
    static func columnsLaidOut(_ s: String) -> String? {
        guard let open = s.firstIndex(of: "("), s.hasSuffix(")") else { return nil }
        let inner = s[s.index(after: open)..<s.index(before: s.endIndex)]
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        for ch in inner {
            if let q = quote {
                if ch == q || (q == "[" && ch == "]") { quote = nil }
            } else if ch == "'" || ch == "\"" || ch == "`" || ch == "[" {
                quote = ch
            } else if ch == "(" {
                depth += 1
            } else if ch == ")" {
                depth -= 1
            } else if ch == ",", depth == 0 {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            }
            current.append(ch)
        }
        guard depth == 0, quote == nil else { return nil }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return s[...open] + "\n" + parts.map { "  " + $0 }.joined(separator: ",\n") + "\n)"
    }

    /// A script a DBA can review and run.
    package var sql: String {
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
    package func dryRun(
        connection: (any DatabaseConnection)?, chunkSize: Int, sampleRows: Int = 3, storedOrderFrom: Int? = BreakoutEngine.storedOrderFrom
    ) throws -> DryRunReport {
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
                    [
                        .begin
                    ] + swap(from: shadow, replacing: try old.allTables.filter { try connection?.tableExists($0.name) ?? true }, old: old)
                        + [.commit]))
            report.schema = change.description
            report.schemaAction = .rebuild
            report.schemaChanges = change.rebuildReasons
            return report
        }
        // As `run` decides it: a first load into new tables, in stored order, defers their keys.
        let firstLoad = try keylessFirstLoad(state: state, storedOrderFrom: storedOrderFrom)
        var keysLater = firstLoad != nil
        var setup = statementsForSchema(change, state: state, mark: state?.mark ?? .start)
        if keysLater { setup = keylessCreates(setup) }
        if !setup.isEmpty {
            steps.append(
                try step(
                    state == nil
                        ? "create the tables (\(schema.dialect.namespacing == .schema ? "schema" : "table prefix") \(schema.namespace))"
                            + (keysLater
                                ? schema.dialect.defersPrimaryKeys
                                    ? "; the level and record tables without keys, cases with its primary key only: the other keys come after the rows"
                                    : "; the data tables with their primary keys only, their other keys come after the rows"
                                : "")
                        : "schema: \(change.description)",
                    [.begin] + setup + [.commit]))
        }
        var mark = try readMark(connection, state: state)
        let reset = (state?.fingerprint ?? "") != feed.fingerprint
        if reset { mark = .start }
        let pending = try firstLoad?.pending ?? feed.pendingCount(after: mark)
        let scan = try firstLoad.map(\.scan) ?? storedOrderScan(mark: mark, pending: pending, from: storedOrderFrom)
        if !keysLater, mark == .start, addsKeysLater, let connection, state != nil {
            let missing = try missingKeys(connection)
            if !missing.isEmpty, scan != nil {
                keysLater = true
                steps.append(
                    try step(
                        "a first load was stopped before its keys were built: it starts over, into empty tables without their keys",
                        [.begin] + startOverStatements() + [.commit]))
            } else if !missing.isEmpty {
                steps.append(
                    try step(
                        "keys missing since a first load was stopped before they were built: "
                            + missing.map(\.name.name).joined(separator: ", ") + "; added before loading",
                        schema.dataTables.map { .createTable(schema.firstLoadTable($0)) } + addKeysStatements(missing)))
            }
        }
        let first =
            try scan.map { try feed.storedOrderCases(through: $0.through, after: nil, limit: chunkSize).cases }
            ?? feed.cases(after: mark, limit: chunkSize)
        if !first.isEmpty || reset {
            // The same statements `load` runs, from the same functions; the reads run here, read-only.
            let chunk = Chunk(
                after: mark, through: scan != nil ? mark : first.last?.position ?? mark, cases: first, reset: reset,
                storedOrder: scan != nil, keyless: keysLater)
            let (rows, loaded, failed) = decode(chunk, inflater: try ZlibInflater())
            let reads = chunkReads(chunk, loaded: loaded)
            let prior = try connection.map { c in state == nil ? ChunkPrior() : try readPrior(reads, on: c) } ?? ChunkPrior()
            let removals = ChunkStep(
                comment: "the rows the chunk's loaded cases have now, per table (the row ledger counts what the cascade removes)",
                statements: prior.removedReads)
            let body = [reads.existing, reads.errors, removals] + chunkWrites(chunk, rows: rows, failed: failed, prior: prior, now: Date())
            if let scan {
                steps.append(
                    try step(
                        "a first load of \(pending) cases: read in the source's stored order up to revision \(scan.through.revision), "
                            + "id \(scan.through.id) (the newest case now), then the cases after it in (revision, id) order", []))
            }
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
            if let scan {
                if keysLater {
                    steps.append(
                        try step(
                            "once every chunk up to revision \(scan.through.revision) is in: the tables' keys, built and validated",
                            addKeysStatements(schema.dataTables.map(schema.deferredKeys).filter(\.hasKeys))))
                }
                steps.append(
                    try step(
                        "once every chunk up to revision \(scan.through.revision) is in: the progress mark moves there",
                        [.begin, markUpdate(scan.through, now: Date()), .commit]))
            }
        }
        let chunks = (pending + chunkSize - 1) / chunkSize
        var report = DryRunReport(
            dictionary: feed.dictionary.name, source: feed.description,
            destination: destinationDescription,
            schema: change.description, schemaAction: change.action, schemaChanges: change.changes, mark: mark, pendingCases: pending,
            chunks: chunks, steps: steps)
        // The bookkeeping says the tables are there and unchanged: check that they are.
        if let connection, state != nil, change.action == .none { report.drift = try drift(on: connection) }
        return report
    }
}
