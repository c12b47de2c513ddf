import ArgumentParser
import Config
import Dashboard
import Drivers
import Foundation
import Logging
import Runner
import State

/// The runner's view of a config directory: the state store, keys, and an executor.
struct RunnerAccess {
    let access: StateAccess
    let stateConfig: ConnectionConfig
    let options: ConfigOptions
    /// `--log-format` and `--log-level` as given (children get the same).
    let logFormat: String
    let logLevel: String

    /// breakout.yaml only: an organization file with errors stops `validate`, `plan` and `apply`,
    /// never the scheduling commands (issue 17).
    init(_ options: ConfigOptions, log: LogOptions? = nil) throws {
        access = try StateAccess(options, settingsOnly: true)
        let state = access.configuration.settings.state
        stateConfig = try access.resolver.connectionConfig(url: state.url.value, password: state.password)
        self.options = options
        logFormat = log?.format ?? "text"
        logLevel = log?.level ?? "info"
    }

    var logger: Logger { LogOptions.logger(format: logFormat, level: logLevel) }

    /// Runs a job in this process (the child's side, `process-cases`-like uses).
    var executor: BreakoutExecutor { BreakoutExecutor(resolver: access.resolver, stateKeys: access.stateKeys, stateConfig: stateConfig) }

    /// Runs each job in a child process of this executable (`breakout run-job`), docs/runner.md.
    var childExecutor: ChildProcessExecutor {
        let directory = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        return ChildProcessExecutor(
            arguments: ["-c", directory] + options.keys.arguments + ["--log-format", logFormat, "--log-level", logLevel])
    }

    func scheduler(store: StateStore, shutdown: StopFlag = StopFlag(), heartbeat: RunnerRow? = nil) -> Scheduler {
        var executor = childExecutor
        let owner = Scheduler.defaultOwner()
        executor.owner = owner
        let environment = ProcessInfo.processInfo.environment
        return Scheduler(
            store: store, owner: owner, clock: StoreClock(), executor: executor,
            leaseSeconds: environment["BREAKOUT_LEASE_SECONDS"].flatMap(Double.init) ?? 60,
            retryBackoff: environment["BREAKOUT_RETRY_BACKOFF"].flatMap(Double.init) ?? 30, shutdown: shutdown,
            operatorAlerts: access.configuration.settings.alerts, logger: logger, heartbeat: heartbeat)
    }

    /// This host's heartbeat row for a runner of `kind` (`daemon`, `cron`).
    func heartbeat(kind: String, tickSeconds: Int64) -> RunnerRow {
        let host = ProcessInfo.processInfo.hostName
        return RunnerRow(
            name: "\(host) \(kind)", host: host, kind: kind, pid: Int64(getpid()), version: BreakoutVersion.current,
            startedAt: nil, lastTickAt: nil, tickSeconds: tickSeconds, clockOffsetMilliseconds: 0)
    }

    /// The job named `ORG/JOB` in the control tables, with errors that list what exists.
    static func job(_ target: String, in snapshot: StateSnapshot) throws -> JobRow {
        guard let slash = target.firstIndex(of: "/") else { throw CLIError("\"\(target)\" is not ORG/JOB") }
        let orgName = String(target[..<slash]), jobName = String(target[target.index(after: slash)...])
        guard let org = snapshot.organizations.first(where: { $0.name == orgName }) else {
            throw CLIError(
                "no organization \"\(orgName)\" in the control tables",
                hint: "known: \(snapshot.organizations.map(\.name).joined(separator: ", "))")
        }
        guard let job = snapshot.jobs.first(where: { $0.organizationID == org.id && $0.name == jobName }) else {
            throw CLIError(
                "organization \(orgName) has no job \"\(jobName)\"",
                hint: "its jobs: \(snapshot.jobs.filter { $0.organizationID == org.id }.map(\.name).joined(separator: ", "))")
        }
        return job
    }

    /// The store, migrated to this version's layout (under the apply lock) when an older
    /// breakout made it: a runner upgraded before the next `apply` carries on.
    func openStore() throws -> StateStore {
        let store = try access.open(forWriting: true)
        try store.checkVersion()
        guard try store.version() >= 2 else {
            throw CLIError("the control tables do not exist yet in \(stateConfig)", hint: "run `breakout apply` first")
        }
        if try store.version() < ControlTables.latestVersion {
            try store.migrate(owner: "runner \(Scheduler.defaultOwner())", timeout: 60)
        }
        return store
    }

    /// The store for the daemon, which starts even while the store is down: it waits, saying why
    /// every time the reason changes, with a backoff up to 30 s, until the store answers or
    /// `stop` is set (then nil).
    func waitForStore(_ stop: StopFlag, logger: Logger) -> StateStore? {
        var backoff = Backoff(initial: 1, cap: 30)
        var said = ""
        while !stop.isSet {
            do {
                return try openStore()
            } catch {
                let reason = "\(error)"
                let delay = backoff.next()
                if reason != said {
                    logger.warning(
                        "state store not reachable; waiting for it (retrying every \(Int(delay))–\(Int(backoff.cap)) s)",
                        metadata: ["error": "\(reason)"])
                    said = reason
                }
                let until = Scheduler.uptimeNow + delay
                while Scheduler.uptimeNow < until, !stop.isSet { Thread.sleep(forTimeInterval: 0.2) }
            }
        }
        return nil
    }
}

/// `--log-format text|json` and `--log-level` for the commands that run jobs.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "text or json (one object per line, with organization, job and run_id).")
    var format: String = "text"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var level: String = "info"

    func validate() throws {
        guard LineLogHandler.Format(rawValue: format) != nil else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: level) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func logger() -> Logger { Self.logger(format: format, level: level) }

    static func logger(format: String, level: String) -> Logger {
        let format = LineLogHandler.Format(rawValue: format) ?? .text
        let level = Logger.Level(rawValue: level) ?? .info
        return Logger(label: "breakout.runner") { label in LineLogHandler(label: label, format: format, level: level) }
    }
}

/// Stops taking new work on SIGTERM/SIGINT; the running chunk finishes, leases are released.
enum Signals {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func onTerminate(
        _ flag: StopFlag, signals: [Int32] = [SIGTERM, SIGINT],
        message: String? = "breakout: stopping: no new runs; the current chunk finishes and leases are released"
    ) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if let message { StandardStream.error(message + "\n") }
                flag.set()
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// `breakout cron run`: one scheduler tick, for a system crontab `* * * * *`.
struct CronRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One scheduler tick: run every job whose fire is due (the guide's csweb:cron:run), then exit.",
        discussion: "System crontab: * * * * * breakout cron run -c /etc/breakout/config >> /var/log/breakout-cron.log 2>&1"
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        try reportingErrors {
            let runner = try RunnerAccess(config, log: log)
            let store = try runner.openStore()
            defer { store.connection.close() }
            let scheduler = runner.scheduler(store: store, heartbeat: runner.heartbeat(kind: "cron", tickSeconds: 60))
            Signals.onTerminate(scheduler.shutdown)
            printTick(try scheduler.tick())
        }
    }
}

/// One line per job a tick ran, skipped, missed or found lost (`cron run` and the daemon).
func printTick(_ report: TickReport) {
    let time = SQLTimestampText.now()
    for j in report.ran { print("\(time) ran \(j)") }
    for j in report.skipped { print("\(time) skipped \(j): the previous run is still running") }
    for j in report.missed { print("\(time) missed \(j): past its starting deadline") }
    for j in report.lost { print("\(time) \(j): its runner was lost; the run is marked failed") }
    for j in report.recomputed { print("\(time) \(j): next_run_at could not be right for its schedule; recomputed") }
}

enum SQLTimestampText {
    static func now() -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date())
    }
}

/// `breakout run`: the daemon.
struct RunDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the scheduler as a daemon: sleep until the next due fire, run it, repeat. SIGTERM stops it cleanly."
    )

    @OptionGroup var config: ConfigOptions

    @Option(name: .customLong("max-sleep"), help: "Longest sleep between ticks in seconds, to notice schedule changes (default 30).")
    var maxSleep: Double = 30

    @OptionGroup var log: LogOptions

    func run() throws {
        try reportingErrors {
            let runner = try RunnerAccess(config, log: log)
            let logger = runner.logger
            // Signals first: a daemon waiting for its store stops on SIGTERM too.
            let stopping = StopFlag()
            Signals.onTerminate(stopping)
            guard let store = runner.waitForStore(stopping, logger: logger) else { return }
            defer { store.connection.close() }
            // The flag SIGTERM sets is the scheduler's own shutdown flag.
            let scheduler = runner.scheduler(
                store: store, shutdown: stopping, heartbeat: runner.heartbeat(kind: "daemon", tickSeconds: Int64(maxSleep.rounded(.up))))
            print("\(SQLTimestampText.now()) breakout runner \(scheduler.owner) started")
            // A tick that fails (the store restarted, the network dropped) is logged and tried
            // again with a backoff; the daemon never exits for it.
            var backoff = Backoff(initial: 1, cap: 30)
            var failing: String?
            while !scheduler.shutdown.isSet {
                var sleep = maxSleep
                do {
                    printTick(try scheduler.tick(wait: false))
                    if failing != nil { logger.notice("state store reachable again; scheduling resumed") }
                    failing = nil
                    backoff.reset()
                    if let next = try scheduler.secondsUntilNextDue() { sleep = max(0.2, min(maxSleep, next + 0.05)) }
                } catch {
                    let reason = "\(error)"
                    if reason != failing {
                        logger.error("tick failed; retrying with a backoff up to 30 s", metadata: ["error": "\(reason)"])
                    }
                    failing = reason
                    sleep = backoff.next()
                }
                let until = Scheduler.uptimeNow + sleep
                while Scheduler.uptimeNow < until, !scheduler.shutdown.isSet { Thread.sleep(forTimeInterval: min(0.2, sleep)) }
            }
            if scheduler.runningCount > 0 {
                print("\(SQLTimestampText.now()) waiting for \(scheduler.runningCount) run(s) to stop at a chunk boundary")
            }
            scheduler.waitForRuns()
            print("\(SQLTimestampText.now()) breakout runner \(scheduler.owner) stopped")
        }
    }
}

/// `breakout jobs list|run`.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "The jobs in the control tables: list them, run one now.",
        subcommands: [List.self, RunNow.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs (managed and hand-made) with their schedule, next fire and last run.")

        @OptionGroup var config: ConfigOptions
        @Option(help: "Only this organization.") var org: String?
        @Option(help: "text or json.") var format: DictionaryCommand.Format = .text

        func run() throws {
            try reportingErrors {
                let runner = try RunnerAccess(config)
                let store = try runner.openStore()
                defer { store.connection.close() }
                let jobs = try DashboardData(store).jobs.filter { org == nil || $0.organization == org }
                let f = ISO8601DateFormatter()
                if format == .json {
                    let items: [[String: Any]] = jobs.map { j in
                        [
                            "organization": j.organization, "job": j.name, "type": j.type, "schedule": j.schedule, "time_zone": j.timeZone,
                            "active": j.active, "managed": j.managed, "next_run_at": j.nextRunAt.map { f.string(from: $0) } ?? NSNull(),
                            "last_run_at": j.lastRunAt.map { f.string(from: $0) } ?? NSNull(), "last_run_status": j.lastStatus ?? NSNull(),
                        ]
                    }
                    print(
                        String(
                            decoding: try JSONSerialization.data(withJSONObject: items, options: [.prettyPrinted, .sortedKeys]),
                            as: UTF8.self))
                    return
                }
                print(
                    "ORG/JOB".padding(toLength: 36, withPad: " ", startingAt: 0)
                        + "SCHEDULE".padding(toLength: 18, withPad: " ", startingAt: 0)
                        + "TIME ZONE".padding(toLength: 20, withPad: " ", startingAt: 0)
                        + "NEXT RUN (UTC)".padding(toLength: 22, withPad: " ", startingAt: 0) + "LAST RUN")
                for j in jobs {
                    let name = "\(j.organization)/\(j.name)\(j.managed ? "" : " (hand-made)")\(j.active ? "" : " (inactive)")"
                    let last = j.lastRunAt.map { "\(f.string(from: $0)) \(j.lastStatus ?? "")" } ?? "never"
                    print(
                        name.padding(toLength: 36, withPad: " ", startingAt: 0)
                            + j.schedule.padding(toLength: 18, withPad: " ", startingAt: 0)
                            + j.timeZone.padding(toLength: 20, withPad: " ", startingAt: 0)
                            + (j.nextRunAt.map { f.string(from: $0) } ?? "-").padding(toLength: 22, withPad: " ", startingAt: 0) + last)
                }
            }
        }
    }

    struct RunNow: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a job now (the guide's Play button); refuses if it is running. Without --wait, starts it in the background."
        )

        @Argument(help: "ORG/JOB") var target: String
        @OptionGroup var config: ConfigOptions
        @Flag(help: "Wait for the run to finish and print its output.") var wait = false
        @OptionGroup var log: LogOptions

        func run() throws {
            try reportingErrors {
                let runner = try RunnerAccess(config, log: log)
                let store = try runner.openStore()
                defer { store.connection.close() }
                let job = try RunnerAccess.job(target, in: try store.snapshot())
                if !wait {
                    let p = Process()
                    // This very binary (/proc/self/exe), not argv[0]: with breakout on PATH argv[0] is a
                    // bare name, which the current directory would resolve to another program.
                    p.executableURL = URL(fileURLWithPath: ChildProcessExecutor.currentExecutable())
                    p.arguments =
                        ["jobs", "run", target, "--wait", "-c", config.directory, "--log-format", log.format, "--log-level", log.level]
                        + config.keys.arguments
                    p.standardOutput = FileHandle.nullDevice
                    p.standardError = FileHandle.nullDevice
                    p.standardInput = FileHandle.nullDevice
                    try p.run()
                    print("Started \(target) (pid \(p.processIdentifier)); follow it with `breakout jobs list -c \(config.directory)`.")
                    return
                }
                // A follower outlives its terminal and its reader: closing the SSH session (SIGHUP)
                // or `| head -1` (SIGPIPE) does not stop the run; Ctrl-C and SIGTERM stop it at a
                // chunk boundary. The run itself is a child process (docs/runner.md).
                signal(SIGHUP, SIG_IGN)
                signal(SIGPIPE, SIG_IGN)
                let scheduler = runner.scheduler(store: store)
                Signals.onTerminate(scheduler.shutdown)
                guard let outcome = try scheduler.runNow(job) else {
                    let row = try store.connection.query(ControlStatements.leaseAndLastRun(ofJob: job.id)).first
                    throw CLIError(
                        "\(target) is running (runner \(row?["lease_owner"]?.string ?? "?"), since \(row?["last_run_at"]?.string ?? "?")); not started again",
                        hint: "wait for it to finish; `breakout jobs list` shows its last run")
                }
                StandardStream.output(outcome.output + "\n")
                if outcome.status == .failed { throw ExitCode(1) }
            }
        }
    }
}

/// `breakout run-job ID`: one run, in its own process, started by a runner (`cron run`, `run`,
/// `jobs run --wait`, the dashboard) that holds the job's lease and records the outcome this
/// prints. Not for people: hidden from the help.
struct RunJobProcess: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-job",
        abstract: "Run one job row in this process and report its outcome to the runner that started it (internal).",
        shouldDisplay: false
    )

    @Argument(help: "The job's id in mt_cron_jobs.") var jobID: Int64
    @Option(name: .customLong("run-id"), help: "The run's id in mt_job_runs.") var runID: Int64 = 0
    @Option(name: .customLong("parent-pid"), help: "The runner's pid; the run stops when it dies.") var parentPID: Int32
    @Option(help: "The runner's lease owner, released by this process if the runner dies.") var owner: String = ""
    @OptionGroup var config: ConfigOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        // The runner decides: terminal signals go to it, never straight here; SIGTERM (the
        // runner's stop request) ends the run at a chunk boundary.
        signal(SIGHUP, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let stop = StopFlag()
        Signals.onTerminate(stop, signals: [SIGTERM], message: nil)
        let orphaned = StopFlag()
        RunProcess.watchParent(parentPID, stop, orphaned: orphaned)
        try reportingErrors {
            let runner = try RunnerAccess(config, log: log)
            let store = try runner.openStore()
            defer { store.connection.close() }
            let snapshot = try store.snapshot()
            var logger = runner.logger
            logger[metadataKey: "run_id"] = "\(runID)"
            let outcome: JobOutcome
            if let job = snapshot.jobs.first(where: { $0.id == jobID }) {
                logger[metadataKey: "organization"] =
                    "\(snapshot.organizations.first { $0.id == job.organizationID }?.name ?? "#\(job.organizationID)")"
                logger[metadataKey: "job"] = "\(job.name)"
                outcome = RunProcess.serve(job, executor: runner.executor, logger: logger, stop: stop)
            } else {
                outcome = JobOutcome(
                    status: .failed, output: "job \(jobID) no longer exists in mt_cron_jobs (an apply deleted it); nothing was run")
                RunProcess.report(outcome)
            }
            if orphaned.isSet, runID > 0 {
                let scheduler = Scheduler(store: store, owner: owner, clock: StoreClock(), executor: runner.executor, logger: logger)
                scheduler.recordOrphan(jobID: jobID, runID: runID, parent: parentPID, outcome: outcome)
            }
        }
    }
}
