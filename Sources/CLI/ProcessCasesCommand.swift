import ArgumentParser
import Breakout
import CSPro
import CaseSources
import Config
import Drivers
import Foundation
import Reconcile
import Runner
import SQL

/// `breakout process-cases`: the guide's `csweb:process-cases` / `csweb:process-cases-by-dict`.
struct ProcessCases: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process-cases",
        abstract: "Break out an organization's dictionaries from the configured source into one of its connections.",
        discussion: """
            Reads new and changed cases in (revision, id) order and loads them in chunks, one transaction
            each, with the progress mark in the destination: an interrupted run continues where it stopped.
            Without DICT, every dictionary the organization owns.

            Examples:
              breakout process-cases -c examples/quickstart --org demo
              breakout process-cases --org ansd --connection postgres-ansd --threads 4 RGPH
              breakout process-cases --org ansd --dry-run --format sql RGPH > review.sql
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, sql, json }

    @OptionGroup var config: ConfigOptions

    @Option(help: "The organization (its file organizations/ORG.yaml).")
    var org: String

    @Option(help: "One of the organization's connections (default: its default connection).")
    var connection: String?

    @Option(help: "Workers that decode and load chunks in parallel (default: defaults.threads).")
    var threads: Int?

    @Option(
        name: .customLong("max-cases-per-chunk"),
        help: "Cases per chunk; one chunk is one transaction (default: defaults.max_cases_per_chunk).")
    var maxCasesPerChunk: Int?

    @Option(help: "Only these records or items (comma-separated; CSWeb processCasesOptions semantics).")
    var include: String?

    @Option(help: "Leave out these records or items (comma-separated).")
    var exclude: String?

    @Flag(name: .customLong("dry-run"), help: "Print the SQL the run would execute, with a sample of rows; write nothing.")
    var dryRun = false

    @Flag(
        help: ArgumentHelp(
            "Put drift right first (plan's destination_drift): rows deleted or added by hand are restored by reloading "
                + "the cases whose rows differ, in place; a table or column dropped or renamed by hand by a rebuild."))
    var repair = false

    @Flag(help: "Rebuild the tables aside (the shadow namespace) and swap them in, whatever the bookkeeping says.")
    var rebuild = false

    @Option(help: "text, sql (a script to review; with --dry-run) or json (the summary).")
    var format: OutputFormat = .text

    @Argument(help: "Dictionaries to break out (default: all the organization owns).")
    var dictionaries: [String] = []

    func run() throws {
        try reportingErrors {
            let configuration = try config.load()
            let resolver = Resolver(configuration, keyring: try config.keyring())
            let organization = try resolver.organization(org)
            let destination = try resolver.connection(of: organization, named: connection)
            let owned = organization.dictionaries.map(\.value)
            for d in dictionaries where !owned.contains(d) {
                throw CLIError(
                    "organization \(org) does not own dictionary \(d)",
                    hint: "it owns: \(owned.joined(separator: ", ")); add it to \"dictionaries\" in \(organization.file)")
            }
            let names = dictionaries.isEmpty ? owned : dictionaries
            if let threads, !(1...64).contains(threads) { throw CLIError("--threads must be between 1 and 64, got \(threads)") }
            if let m = maxCasesPerChunk, !(1...100_000).contains(m) {
                throw CLIError("--max-cases-per-chunk must be between 1 and 100000, got \(m)")
            }
            // SIGTERM/SIGINT: the chunks in flight commit, the run stops at that boundary and exits 0;
            // the next run continues from the mark.
            let stop = StopFlag()
            if !dryRun {
                Signals.onTerminate(
                    stop, message: "breakout: stopping: the chunks in flight commit, then the run stops (the next run continues from there)"
                )
            }
            if dryRun, repair || rebuild {
                throw CLIError(
                    "--dry-run cannot be combined with --\(repair ? "repair" : "rebuild")",
                    hint: "the dry run (and plan) lists the drift a repair would put right; run without --dry-run to repair")
            }
            var run = RunOptions(
                threads: threads ?? configuration.settings.defaults.threads,
                chunkSize: maxCasesPerChunk ?? configuration.settings.defaults.maxCasesPerChunk,
                shouldStop: { stop.isSet })
            run.repair = repair
            run.rebuild = rebuild
            let options = SchemaOptions(
                naming: destination.naming,
                selection: RecordSelection(include: Self.list(include), exclude: Self.list(exclude)),
                labelsLanguage: destination.labelsLanguage, specials: destination.specials)
            let sources = try SourceOpener(resolver: resolver)
            let destinationConfig = try resolver.connectionConfig(destination, of: organization.slug.value)
            var summaries: [DictionarySummary] = []
            for name in names {
                let feed = try sources.feed(for: name)
                let engine = try BreakoutEngine(
                    feed: feed, dialect: destination.engine.dialect, options: options,
                    connect: { try Databases.connectForWriting(destinationConfig.forBulkLoad) })
                if dryRun {
                    let report = try engine.dryRun(connection: try Self.readOnlyConnection(destinationConfig), chunkSize: run.chunkSize)
                    print(format == .sql ? report.sql : report.text, terminator: "")
                    continue
                }
                let bar = ProgressReporter()
                var options = run
                options.progress = { bar.update($0) }
                let summary = try engine.run(options)
                bar.finish()
                summaries.append(summary)
                if format != .json { print(summary.text) }
                if stop.isSet { break }
            }
            if format == .json, !dryRun {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(summaries), as: UTF8.self))
            }
            let failed = summaries.reduce(0) { $0 + $1.failedCases }
            if failed > 0 {
                FileHandle.standardError.write(
                    Data(
                        "warning: \(failed) case(s) could not be decoded; they are listed in each dictionary's breakout_errors table\n".utf8
                    ))
            }
        }
    }

    static func list(_ s: String?) -> [String] {
        (s ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A connection for reading only; nil when the destination is a database file not created yet.
    static func readOnlyConnection(_ config: ConnectionConfig) throws -> (any DatabaseConnection)? {
        try Databases.connectForReading(config)
    }
}

/// A progress bar on a terminal (stderr), a line every 10 seconds otherwise. `@unchecked`: the
/// engine calls it from the run's coordinating thread only, one chunk after another.
final class ProgressReporter: @unchecked Sendable {
    let terminal = isatty(STDERR_FILENO) == 1
    var lastLine = Date.distantPast
    var drawn = false

    func update(_ p: BreakoutProgress) {
        let rate = p.elapsed > 0 ? Double(p.done) / p.elapsed : 0
        let eta = rate > 0 ? Double(p.total - p.done) / rate : 0
        if terminal {
            let width = 30
            let filled = p.total > 0 ? min(width, width * p.done / p.total) : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(
                Data(String(format: "\r%@ %@ %d/%d cases  %.0f cases/s  ETA %.0fs ", p.dictionary, bar, p.done, p.total, rate, eta).utf8))
            drawn = true
        } else if Date().timeIntervalSince(lastLine) >= 10 || p.done == p.total {
            lastLine = Date()
            FileHandle.standardError.write(
                Data(String(format: "%@: %d/%d cases, %.0f cases/s, ETA %.0fs\n", p.dictionary, p.done, p.total, rate, eta).utf8))
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The SQL each job's next run would execute (for `breakout plan`), or why it cannot be shown.
struct JobPlan: Encodable {
    var organization: String
    var job: String
    var dictionary: String?
    var destination: String
    var schema: String?
    /// none / create / migrate / rebuild; nil when the job could not be planned.
    var schemaAction: SchemaAction?
    var schemaChanges: [String] = []
    var pendingCases: Int?
    var sql: [String]
    var error: String?
    /// Why it could not be planned, as a plan warning with its code.
    var warning: Plan.Warning?
    var report: DryRunReport?

    enum CodingKeys: String, CodingKey {
        case organization, job, dictionary, destination, schema, schemaAction = "schema_action", schemaChanges = "schema_changes",
            pendingCases = "pending_cases", sql, error, drift
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(organization, forKey: .organization)
        try c.encode(job, forKey: .job)
        try c.encode(dictionary, forKey: .dictionary)
        try c.encode(destination, forKey: .destination)
        try c.encode(schema, forKey: .schema)
        try c.encode(schemaAction, forKey: .schemaAction)
        try c.encode(schemaChanges, forKey: .schemaChanges)
        try c.encode(pendingCases, forKey: .pendingCases)
        try c.encode(sql, forKey: .sql)
        try c.encode(error, forKey: .error)
        try c.encode(report?.drift.map(\.description) ?? [], forKey: .drift)
    }

    /// The job could not be planned: `error` for the reader, a warning with its code for scripts.
    mutating func failed(_ code: Plan.Warning.Code, _ message: String) {
        error = message
        warning = Plan.Warning(
            code, (dictionary.map { "dictionary \($0): " } ?? "") + message + "; its next run would fail", organization: organization,
            job: job)
    }

    /// What a job-level failure is, for its warning code.
    static func code(of error: Error) -> Plan.Warning.Code {
        switch error {
        case is UnknownDictionaryError: .dictionaryMissing
        default: .jobNotPlanned
        }
    }

    /// Dry runs for every active breakout job of the configuration. Reads only.
    static func all(_ configuration: Configuration, resolver: Resolver) -> [JobPlan] {
        var out: [JobPlan] = []
        var sources: SourceOpener?
        var sourceError: String?
        do { sources = try SourceOpener(resolver: resolver) } catch { sourceError = "\(error)" }
        for org in configuration.organizations {
            for job in org.jobs where job.isActive && job.kind == .breakout {
                guard let connection = org.connections.first(where: { $0.name.value == job.connection }) else { continue }
                let destination = "\(connection.engine.rawValue) \(org.slug.value)/\(connection.name.value)"
                let dictionaries = job.dictionaries.isEmpty ? org.dictionaries.map(\.value) : job.dictionaries
                for dictionary in dictionaries {
                    var plan = JobPlan(
                        organization: org.slug.value, job: job.name.value, dictionary: dictionary, destination: destination, sql: [])
                    guard let sources else {
                        plan.failed(.sourceUnreachable, "the source cannot be read: \(sourceError ?? "?")")
                        out.append(plan)
                        continue
                    }
                    do {
                        let feed = try sources.feed(for: dictionary)
                        let settings = try resolver.connectionConfig(connection, of: org.slug.value)
                        let engine = try BreakoutEngine(
                            feed: feed, dialect: connection.engine.dialect,
                            options: SchemaOptions(
                                naming: connection.naming,
                                selection: RecordSelection(include: job.include, exclude: job.exclude),
                                labelsLanguage: connection.labelsLanguage, specials: connection.specials),
                            connect: { try Databases.connectForWriting(settings) })
                        let reader: (any DatabaseConnection)?
                        do { reader = try ProcessCases.readOnlyConnection(settings) } catch {
                            plan.failed(.destinationUnreachable, "\(CLIError("the destination cannot be reached", cause: error))")
                            out.append(plan)
                            continue
                        }
                        defer { reader?.close() }
                        let report = try engine.dryRun(connection: reader, chunkSize: job.maxCasesPerChunk)
                        plan.schema = report.schema
                        plan.schemaAction = report.schemaAction
                        plan.schemaChanges = report.schemaChanges
                        plan.pendingCases = report.pendingCases
                        plan.sql = report.steps.flatMap { ["-- " + $0.comment] + $0.lines }
                        plan.report = report
                        if !report.drift.isEmpty {
                            let selection =
                                (job.include.isEmpty ? "" : " --include \(job.include.joined(separator: ","))")
                                + (job.exclude.isEmpty ? "" : " --exclude \(job.exclude.joined(separator: ","))")
                            let rebuild = report.drift.contains(where: \.needsRebuild)
                            plan.warning = Plan.Warning(
                                .destinationDrift,
                                "dictionary \(dictionary): " + report.drift.map(\.description).joined(separator: "; ")
                                    + (rebuild ? "; the next run fails on it" : "; the next runs do not reload those rows")
                                    + ". Repair: breakout process-cases --org \(org.slug.value) --connection \(connection.name.value)"
                                    + selection + " --repair \(dictionary)"
                                    + (rebuild
                                        ? " (rebuilds the tables aside and swaps them in)"
                                        : " (reloads the cases whose rows differ, in place)"),
                                organization: org.slug.value, job: job.name.value)
                        }
                    } catch {
                        plan.failed(Self.code(of: error), "\(error)")
                    }
                    out.append(plan)
                }
            }
        }
        return out
    }

    /// `demo/breakout-hourly · CENSUS → postgresql demo/local: 12 cases pending (1 chunk); schema unchanged`
    var line: String {
        let head = "\(organization)/\(job)\(dictionary.map { " · \($0)" } ?? "") → \(destination): "
        if let error { return head + "cannot plan this job: \(error)" }
        guard let report else { return head + "not planned" }
        let pending = "\(report.pendingCases) case\(report.pendingCases == 1 ? "" : "s") pending"
        let chunks = report.chunks > 0 ? " (\(report.chunks) chunk\(report.chunks == 1 ? "" : "s"))" : ""
        let drift = report.drift.isEmpty ? "" : "; DRIFT in \(report.drift.count) table\(report.drift.count == 1 ? "" : "s") (--repair)"
        return head + pending + chunks + "; schema " + Self.schemaSummary(report.schemaAction, report.schemaChanges) + drift
    }

    /// `unchanged`, `create`, `migrate: 2 changes (new column housing.h06_rooms, …)`, `rebuild (…)`:
    /// at most about 100 characters.
    static func schemaSummary(_ action: SchemaAction, _ changes: [String]) -> String {
        let listed = changes.joined(separator: ", ")
        let detail = listed.isEmpty ? "" : listed.count <= 80 ? " (\(listed))" : " (\(listed.prefix(77))…)"
        switch action {
        case .none: return "unchanged"
        case .create: return "create (new tables)"
        case .migrate: return "migrate: \(changes.count) change\(changes.count == 1 ? "" : "s")\(detail)"
        case .rebuild: return "rebuild: the tables are dropped and reloaded\(detail)"
        }
    }

    /// The job's line, then (with `showSQL`) every statement its next run executes, statements
    /// longer than 200 characters abbreviated with their size and digest.
    func text(showSQL: Bool) -> String {
        var s = "  " + line + "\n"
        if showSQL, let report {
            // The report's first line says what `line` already said.
            let sql = report.text(abbreviatingOver: 200).split(separator: "\n").dropFirst()
            s += sql.isEmpty ? "    -- nothing to execute\n" : sql.map { "    " + $0 }.joined(separator: "\n") + "\n"
        }
        return s
    }
}
