import ArgumentParser
import Breakout
import Config
import Drivers
import Foundation
import Reconcile
import Runner
import Secrets
import State

/// Opening the state store named in breakout.yaml.
struct StateAccess {
    let configuration: Configuration
    let resolver: Resolver
    let stateKeys: Keyring

    init(_ options: ConfigOptions, settingsOnly: Bool = false, printWarnings: Bool = true) throws {
        configuration = try options.load(settingsOnly: settingsOnly, printWarnings: printWarnings)
        let keyring = try options.keyring()
        resolver = Resolver(configuration, keyring: keyring)
        if let keyFile = configuration.settings.state.keyFile {
            var ring = Keyring(try Keyring.keys(fromFile: resolver.resolve(keyFile.value)))
            for key in keyring.keys where ring.key(kid: key.kid) == nil { ring.add(key) }  // old values may use the master key
            stateKeys = ring
        } else {
            stateKeys = keyring
        }
    }

    /// The store; for a read-only use of an SQLite file that does not exist yet, an empty in-memory one.
    func open(forWriting: Bool) throws -> StateStore {
        let state = configuration.settings.state
        let config = try resolver.connectionConfig(url: state.url.value, password: state.password)
        let connect: @Sendable () throws -> any DatabaseConnection
        if forWriting {
            connect = { try Databases.connectForWriting(config) }
        } else {
            // Reading a file store that does not exist yet: an empty one in memory, so plan works before any apply.
            connect = {
                try Databases.connectForReading(config) ?? Databases.connect(ConnectionConfig(engine: config.engine, database: ":memory:"))
            }
        }
        do {
            return try StateStore(connect: connect)
        } catch let error as DatabaseError {
            throw CLIError(
                "\(state.url.location): cannot open the state store \(config): \(error.message)",
                hint: "check state.url in breakout.yaml and that the database server is reachable")
        }
    }

    func reconciler(_ store: StateStore) -> Reconciler {
        Reconciler(configuration: configuration, resolver: resolver, store: store, stateKeys: stateKeys)
    }
}

/// `breakout plan`.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change in the control tables (creates, field-level updates, deletes), writing nothing.",
        discussion: """
            Exit codes with --detailed-exitcode: 0 nothing to review, 1 error, 2 config
            changes or a job whose next run migrates or rebuilds a destination's tables.
            --fail-on-warnings: exit 1 when the plan has any warning; each warning has a
            stable code (docs/control-tables.md, "Warnings").
            --out FILE saves the plan (JSON, docs/control-tables.md) for `breakout apply
            FILE`, which refuses it if the control tables or the configuration changed.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, markdown, sql }

    @OptionGroup var config: ConfigOptions

    @Flag(
        name: .customLong("detailed-exitcode"),
        help: "Exit 2 when the config changes or a job's next run migrates or rebuilds a destination's tables, 0 when neither.")
    var detailedExitCode = false

    @Flag(
        name: .customLong("fail-on-warnings"),
        help: "Exit 1 when the plan has warnings (missing dictionaries, jobs that can overlap, unreachable destinations, …).")
    var failOnWarnings = false

    @Option(help: "text (default), json (stable, documented), markdown (for a pull-request comment) or sql (the jobs' SQL as a script).")
    var format: Format = .text

    @Flag(help: "Skip the per-job view (no connection to the source or the destinations).")
    var offline = false

    @Flag(
        name: .customLong("show-sql"),
        help: "Print each job's SQL under its line (long statements abbreviated; --format sql prints them whole).")
    var showSQL = false

    @Option(help: "Save the plan to this file for `breakout apply FILE`.")
    var out: String?

    func run() throws {
        var gate = Gate.clean
        try reportingErrors {
            let access = try StateAccess(config, printWarnings: false)
            let store = try access.open(forWriting: false)
            defer { store.connection.close() }
            var p = try access.reconciler(store).plan()
            let jobs = offline ? [] : JobPlan.all(access.configuration, resolver: access.resolver)
            p.warnings += jobs.compactMap(\.warning)
            let altering = jobs.filter { $0.schemaAction?.altersExistingTables == true }
            gate = Gate(configChanges: p.hasChanges, schemaChanges: altering.count, warnings: p.warnings.count)
            switch format {
            case .text:
                print(p.text(color: isatty(STDOUT_FILENO) == 1), terminator: "")
                if !jobs.isEmpty {
                    print("\nEach job's next run (nothing is written\(showSQL ? "" : "; --show-sql for its SQL")):")
                    for j in jobs { print(j.text(showSQL: showSQL), terminator: "") }
                    print(Self.schemaLine(altering))
                }
            case .json:
                var object = try JSONSerialization.jsonObject(with: Data(try Self.json(p).utf8)) as! [String: Any]
                let encoder = JSONEncoder()
                object["jobs"] = try JSONSerialization.jsonObject(with: try encoder.encode(jobs))
                object["offline"] = offline
                print(
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
                )
            case .markdown:
                var md = p.markdown(limit: jobs.isEmpty ? 60_000 : 40_000)
                if !jobs.isEmpty { md += Self.markdown(jobs: jobs, altering: altering, room: 65_000 - md.count) }
                print(md, terminator: "")
            case .sql:
                print("-- breakout plan: \(p.summaryLine)")
                for w in p.warnings { print("-- warning \(w.text)") }
                if !jobs.isEmpty { print("-- \(Self.schemaLine(altering))") }
                for j in jobs {
                    print("\n-- ===== job \(j.organization)/\(j.job) · \(j.dictionary ?? "") → \(j.destination)")
                    if let error = j.error { print("-- cannot plan this job: \(error)") }
                    if let report = j.report { print(report.sql, terminator: "") }
                }
            }
            if let out {
                try Data(try Self.json(p).utf8).write(to: URL(fileURLWithPath: out))
                FileHandle.standardError.write(
                    Data("Saved the plan to \(out); apply it with: breakout apply -c \(config.directory) \(out)\n".utf8))
            }
        }
        if offline, detailedExitCode {
            StandardStream.error("note: --offline plans no job, so destination schema changes are not part of the exit code\n")
        }
        if failOnWarnings, gate.warnings > 0 {
            StandardStream.error("error: the plan has \(gate.warnings) warning(s) and --fail-on-warnings was given\n")
            throw ExitCode(1)
        }
        if detailedExitCode, gate.configChanges || gate.schemaChanges > 0 { throw ExitCode(2) }
    }

    /// Each job's line, with a collapsible SQL block for jobs that have something to execute,
    /// within `room` characters (GitHub refuses comments over 65,536): what does not fit is
    /// counted in a note.
    static func markdown(jobs: [JobPlan], altering: [JobPlan], room: Int) -> String {
        var out = "#### Each job's next run\n\n"
        let tail = "\n\(schemaLine(altering))\n"
        let budget = min(20_000, max(room, 0) / 2) / max(jobs.count, 1)
        var omitted = 0
        for j in jobs {
            var piece: String
            if j.error != nil || j.sql.isEmpty {
                // Nothing to execute (or not planned): one line, not an empty block.
                piece = "- `\(j.line.replacingOccurrences(of: "`", with: "'"))`\n"
            } else {
                var body =
                    "```sql\n"
                    + j.sql.map { $0.hasPrefix("--") ? $0 : DryRunReport.abbreviated($0, over: 200) + ";" }.joined(separator: "\n")
                    + "\n```\n"
                if body.count > budget {
                    body = String(body.prefix(budget)) + "\n…\n```\n_(cut to fit the comment; run `breakout plan --format sql`)_\n"
                }
                piece = "<details><summary>\(htmlEscaped(j.line))</summary>\n\n\(body)\n</details>\n\n"
            }
            if out.count + piece.count + tail.count + 200 > room {
                omitted += 1
            } else {
                out += piece
            }
        }
        if omitted > 0 { out += "\n_\(omitted) more job(s) not shown to fit the comment; run `breakout plan` for every job._\n" }
        return out + tail
    }

    static func htmlEscaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }

    /// What the exit code is decided on.
    struct Gate {
        var configChanges: Bool
        /// Jobs (per dictionary) whose next run migrates or rebuilds a destination's tables.
        var schemaChanges: Int
        var warnings: Int
        static let clean = Gate(configChanges: false, schemaChanges: 0, warnings: 0)
    }

    /// `Destination schema: no job alters existing tables.` or which jobs do, and how.
    static func schemaLine(_ altering: [JobPlan]) -> String {
        guard !altering.isEmpty else { return "Destination schema: no job alters existing tables." }
        return "Destination schema: \(altering.count) job run(s) alter existing tables: "
            + altering.map { j in
                "\(j.organization)/\(j.job) · \(j.dictionary ?? "?") \(j.schemaAction?.rawValue ?? "?")"
                    + (j.schemaAction == .migrate ? " (\(j.schemaChanges.count) change\(j.schemaChanges.count == 1 ? "" : "s"))" : "")
            }.joined(separator: ", ") + "."
    }

    static func json(_ plan: Plan) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(plan), as: UTF8.self)
    }
}

/// `breakout apply`.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the control tables equal to the configuration, in one transaction, under a lock.",
        discussion: """
            Creates and migrates the control tables first. Asks for confirmation on a terminal unless
            --auto-approve; refuses to run unattended without it. Idempotent: a second apply changes nothing.
            """
    )

    @OptionGroup var config: ConfigOptions

    @Flag(name: .customLong("auto-approve"), help: "Apply without asking.")
    var autoApprove = false

    @Option(name: .customLong("lock-timeout"), help: "How long to wait for another apply to finish (e.g. 60s, 5m; default 0s).")
    var lockTimeout: String = "0s"

    @Flag(name: .customLong("allow-destroy"), help: "Allow deleting organizations whose jobs have run history, and jobs that are running.")
    var allowDestroy = false

    @Argument(help: "A plan saved by `breakout plan --out FILE`.")
    var planFile: String?

    func run() throws {
        try reportingErrors {
            let timeout: Double
            if lockTimeout == "0" || lockTimeout == "0s" {
                timeout = 0
            } else {
                guard let s = DurationParser.seconds(lockTimeout) else {
                    throw CLIError("--lock-timeout \"\(lockTimeout)\" is not a duration", hint: "write e.g. 60s, 5m or 1h")
                }
                timeout = Double(s)
            }
            var saved: Plan?
            if let planFile {
                do {
                    saved = try JSONDecoder().decode(Plan.self, from: try Data(contentsOf: URL(fileURLWithPath: planFile)))
                } catch {
                    throw CLIError("\(planFile) is not a plan saved by `breakout plan --out`: \(error.localizedDescription)")
                }
            }
            let access = try StateAccess(config)
            let store = try access.open(forWriting: true)
            defer { store.connection.close() }
            var options = ApplyOptions(lockTimeout: timeout, allowDestroy: allowDestroy)
            if let stale = ProcessInfo.processInfo.environment["BREAKOUT_LOCK_STALE_AFTER"].flatMap(DurationParser.seconds) {
                options.staleLockAfter = Double(stale)
            }
            let result = try access.reconciler(store).apply(saved: saved, options: options) { plan in
                if autoApprove || saved != nil { return true }
                guard isatty(STDIN_FILENO) == 1 else {
                    throw CLIError(
                        "apply needs confirmation and standard input is not a terminal",
                        hint: "review `breakout plan`, then pass --auto-approve (or apply a saved plan file)")
                }
                print(plan.text(color: isatty(STDOUT_FILENO) == 1), terminator: "")
                print("\nDo you want to apply these changes? Only 'yes' will be accepted: ", terminator: "")
                return readLine()?.trimmingCharacters(in: .whitespaces) == "yes"
            }
            guard let result else {
                print("Apply cancelled; nothing was changed.")
                return
            }
            if !result.migrated.isEmpty { print("Control tables migrated to version \(result.migrated.last!).") }
            if !result.plan.hasChanges {
                print("No changes. The control tables match the configuration.")
                return
            }
            if autoApprove || saved != nil { print(result.plan.text(color: isatty(STDOUT_FILENO) == 1), terminator: "") }
            let s = result.plan.summary
            print("Apply complete! \(s.add) added, \(s.change) changed, \(s.destroy) destroyed.")
        }
    }
}

/// `breakout import`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write YAML for control-table rows apply does not manage and for CSWeb's legacy breakout settings.",
        discussion: """
            Writes OUT/organizations/<org>.yaml: every organization with hand-made rows (the guide's
            INSERT INTO mt_cron_jobs …), values as stored, passwords re-encrypted with the master key; and,
            when the source is CSWeb's MySQL database, its cspro_dictionaries_schema settings as one more
            organization (--legacy-org). Review the files, copy them into the config, commit, then
            `breakout apply` adopts the rows without changing their data. A file that exists with other
            content is not overwritten without --force: import says which ones, and writes nothing.
            """
    )

    @OptionGroup var config: ConfigOptions

    @Option(help: "Directory to write organizations/*.yaml into (created if missing).")
    var out: String

    @Option(name: .customLong("legacy-org"), help: "Organization slug for CSWeb's legacy per-dictionary settings.")
    var legacyOrg: String = "csweb"

    @Flag(help: "Overwrite files in OUT that exist with other content.")
    var force = false

    func run() throws {
        try reportingErrors {
            let access = try StateAccess(config)
            guard let masterKey = try config.keyring().primary else {
                throw CLIError(
                    "import re-encrypts passwords and needs a master key",
                    hint: "set BREAKOUT_MASTER_KEY or BREAKOUT_KEY_FILE, or pass --key-file")
            }
            let store = try access.open(forWriting: false)
            defer { store.connection.close() }
            let importer = Importer(reconciler: access.reconciler(store), masterKey: masterKey)
            var output = try importer.unmanaged()
            if case .csweb(let url, let password) = access.configuration.settings.source {
                let settings = try access.resolver.connectionConfig(url: url.value, password: password)
                if settings.engine == .mysql {
                    let csweb = try Databases.connect(settings)
                    defer { csweb.close() }
                    let legacy = try importer.legacy(from: csweb, organization: legacyOrg)
                    output.files.merge(legacy.files) { _, new in new }
                    output.warnings += legacy.warnings
                    output.rows += legacy.rows
                }
            }
            for w in output.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if output.files.isEmpty {
                print("Nothing to import: every row of the control tables is managed by the configuration.")
                return
            }
            let files = output.files.sorted(by: { $0.key < $1.key }).map {
                (URL(fileURLWithPath: out).appendingPathComponent($0.key), $0.value)
            }
            // Nothing is written when one file would replace other content, unless --force. An
            // existing file that cannot be read counts as other content.
            let clashing = files.filter { url, text in
                FileManager.default.fileExists(atPath: url.path) && (try? Data(contentsOf: url)) != Data(text.utf8)
            }
            if !clashing.isEmpty && !force {
                for (url, text) in files {
                    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
                    let state = clashing.contains { $0.0 == url } ? "exists with other content" : "new or unchanged"
                    print("would write \(url.path) (\(lines) lines; \(state))")
                }
                throw CLIError(
                    "\(clashing.count) file(s) in \(out) exist with other content: \(clashing.map(\.0.lastPathComponent).joined(separator: ", ")); nothing was written",
                    hint: "review or move them, or pass --force to overwrite them")
            }
            for (url, text) in files {
                // Missing or unreadable: written below (a write that fails says why).
                if (try? Data(contentsOf: url)) == Data(text.utf8) {
                    print("unchanged \(url.path)")
                    continue
                }
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
                print("wrote \(url.path)")
            }
            print(
                "Imported \(output.rows) row(s). Review the files, copy them into \(config.directory)/organizations, then run `breakout plan`: it shows them as adopted."
            )
        }
    }
}
