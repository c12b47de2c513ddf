import Config
import Cron
import DatabaseDriver
import Foundation
import Logging
import SQL
import State
import Synchronization

/// Where "now" comes from: the state store's clock (runners), the system clock, or a test's
/// simulated one.
package protocol Clock: Sendable {
    func now() -> Date
}

package struct SystemClock: Clock {
    package init() {}
    package func now() -> Date { Date() }
}

/// The state store's time, as this host's clock plus the offset measured at each tick: leases,
/// fires and "runner lost" decisions of every runner use the same clock, whatever each host's
/// own says (docs/runner.md, "One clock").
package final class StoreClock: Clock, Sendable {
    /// The offset, and whether it was measured yet.
    private let offset = Mutex<(seconds: Double, measured: Bool)>((0, false))

    package init() {}

    package func now() -> Date { Date().addingTimeInterval(storeOffset) }

    /// The store's time minus this host's, in seconds (positive: this host is behind).
    package var storeOffset: Double { offset.withLock { $0.seconds } }

    /// Measures the offset with one query, taking the middle of its round trip. Returns the
    /// previous offset (nil the first time).
    @discardableResult
    func sync(_ store: StateStore) throws -> Double? {
        let before = Date()
        let server = try store.serverTime()
        let after = Date()
        let local = before.addingTimeInterval(after.timeIntervalSince(before) / 2)
        return offset.withLock { o in
            let previous = o.measured ? o.seconds : nil
            o = (server.timeIntervalSince(local), true)
            return previous
        }
    }
}

/// What running one job produced. The first line of `output` says what happened: for a failed
/// or stopped run, its cause.
package struct JobOutcome: Sendable, Codable {
    /// `skipped`: the run did not start (its destination was busy with another run).
    package enum Status: String, Sendable, Codable { case success, failed, skipped }
    package var status: Status
    package var output: String
    package var cases: Int64
    package var rows: Int64
    /// Cases that could not be decoded (in `breakout_errors`); the run can still be a success.
    package var failedCases: Int64

    package init(status: Status, output: String, cases: Int64 = 0, rows: Int64 = 0, failedCases: Int64 = 0) {
        self.status = status
        self.output = output
        self.cases = cases
        self.rows = rows
        self.failedCases = failedCases
    }
}

/// Runs one job row (the breakout engine in production, a recorder in tests).
package protocol JobExecutor: Sendable {
    /// `stop` turns true when the run must end at the next chunk boundary (timeout, shutdown);
    /// `logger` carries the run's organization, job and run id.
    func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome
    /// The same, reporting progress as a short line (`CENSUS 1200/3000 cases`) while it runs.
    func execute(
        _ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool
    ) -> JobOutcome
}

extension JobExecutor {
    package func execute(
        _ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool
    ) -> JobOutcome {
        execute(job, logger: logger, stop: stop)
    }
}

/// How one scheduler pass went.
package struct TickReport: Sendable {
    package var ran: [String] = []
    package var skipped: [String] = []
    package var missed: [String] = []
    package var lost: [String] = []
    package var scheduled: [String] = []
    package var recomputed: [String] = []
}

/// The scheduler and runner: claims due fires with a lease in the state store (a conditional
/// UPDATE on `next_run_at` and the lease), so each fire runs once whatever the number of runners;
/// runs the job, renewing the lease; records the run in `mt_job_runs` and `mt_cron_jobs`.
///
/// The store connection is reopened when it breaks (server restart, network), a run that cannot
/// renew its lease for a whole lease period stops at its next chunk boundary, and a run's outcome
/// is written once the store answers again (docs/runner.md, "State-store outages").
///
/// `@unchecked`: its settings are constants, its counters atomics, and the one thing threads
/// share that is not `Sendable` — the store's connection — is used only under `lock` (`locked`).
package final class Scheduler: @unchecked Sendable {
    package let store: StateStore
    package let owner: String
    let clock: any Clock
    let executor: any JobExecutor
    /// Seconds a lease lasts without renewal; renewed every third of it while a job runs.
    package let leaseSeconds: Double
    /// Base of the exponential backoff between retries (seconds).
    package let retryBackoff: Double
    /// Set by SIGTERM/SIGINT (or whoever owns the flag): no new claims; running jobs stop at their
    /// next chunk boundary.
    package let shutdown: StopFlag
    /// Serialises use of the store connection between the scheduler and lease renewals.
    let lock = NSLock()
    /// The operator's alerts (breakout.yaml `alerts`): a command, and/or a webhook, for every job.
    package let operatorAlerts: Alerts?
    /// Where run events go (`--log-format`, `--log-level`).
    package let logger: Logger
    /// This runner's heartbeat row (`mt_runners`), written at each tick; nil writes none.
    package let heartbeat: RunnerRow?
    /// When the first heartbeat was written (the row's `started_at` from then on).
    private let heartbeatStarted = Mutex<Date?>(nil)
    /// A host clock further than this from the store's is logged (seconds).
    package let clockTolerance: Double
    /// Longest time a finished run's outcome is retried while the store is unreachable (seconds).
    package let persistWindow: Double
    /// Runs started by ticks that did not wait for them (the daemon).
    let active = DispatchGroup()
    private let activeCount = Atomic<Int>(0)

    /// Everything is fixed here, for the scheduler's life: its threads read it without locks.
    package init(
        store: StateStore, owner: String = Scheduler.defaultOwner(), clock: any Clock = SystemClock(), executor: any JobExecutor,
        leaseSeconds: Double = 60, retryBackoff: Double = 30, shutdown: StopFlag = StopFlag(), operatorAlerts: Alerts? = nil,
        logger: Logger = Logger(label: "breakout.runner"), heartbeat: RunnerRow? = nil, clockTolerance: Double = 5,
        persistWindow: Double = 900
    ) {
        self.store = store
        self.owner = owner
        self.clock = clock
        self.executor = executor
        self.leaseSeconds = leaseSeconds
        self.retryBackoff = retryBackoff
        self.shutdown = shutdown
        self.operatorAlerts = operatorAlerts
        self.logger = logger
        self.heartbeat = heartbeat
        self.clockTolerance = clockTolerance
        self.persistWindow = persistWindow
    }

    package static func defaultOwner() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    var c: any DatabaseConnection { store.connection }

    /// Runs `body` on the store connection, alone. A connection that broke (the server restarted,
    /// the network dropped) is reopened once and `body` tried again; while the store cannot be
    /// reached this throws, and the caller decides (the daemon waits and ticks again).
    func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body()
        } catch {
            guard !store.isAlive() else { throw error }
            try store.reconnect()
            logger.notice("state store connection re-established", metadata: ["after": "\(error)"])
            return try body()
        }
    }

    /// Seconds of process uptime: a clock no time change moves, for waits and renewal ages.
    static var uptime: Double { ProcessInfo.processInfo.systemUptime }
    package static var uptimeNow: Double { uptime }

    /// Writes `what` (a finished run's outcome, a lease release), retrying with backoff while the
    /// store is unreachable, for at most `persistWindow` seconds (two minutes once stopping).
    func persist(_ what: String, _ body: () throws -> Void) {
        let deadline = Self.uptime + (shutdown.isSet ? min(120, persistWindow) : persistWindow)
        var backoff = Backoff(initial: 0.5, cap: 15)
        var attempt = 0
        while true {
            attempt += 1
            do {
                try locked(body)
                if attempt > 1 { logger.notice("state store reachable again: \(what) recorded", metadata: ["attempts": "\(attempt)"]) }
                return
            } catch {
                let delay = backoff.next()
                if Self.uptime + delay > deadline {
                    logger.error(
                        "could not record \(what): the state store did not answer for \(Int(persistWindow)) s",
                        metadata: ["error": "\(error)"])
                    return
                }
                if attempt == 1 {
                    logger.warning("state store unreachable; \(what) is kept and written when it answers", metadata: ["error": "\(error)"])
                }
                Thread.sleep(forTimeInterval: delay)
            }
        }
    }

    /// A fire time as stored: whole seconds.
    static func seconds(_ d: Date) -> Date { Date(timeIntervalSince1970: d.timeIntervalSince1970.rounded(.down)) }

    struct Claim {
        var job: JobRow
        var trigger: String
        var scheduledFor: Date?
    }

    // MARK: Clock and heartbeat

    /// Measures the store's clock (with a `StoreClock`), logs a host clock that is off, and writes
    /// this runner's heartbeat.
    func syncClockAndBeat() throws {
        if let storeClock = clock as? StoreClock {
            let previous = try locked { try storeClock.sync(store) }
            let offset = storeClock.storeOffset
            if abs(offset) > clockTolerance, previous.map({ abs($0 - offset) > 1 || abs($0) <= clockTolerance }) ?? true {
                let text =
                    "this host's clock is \(String(format: "%.1f", abs(offset))) s \(offset < 0 ? "ahead of" : "behind") the state store's; "
                    + "leases and fires use the store's time, but fix this host's clock (timedatectl status; NTP)"
                logger.warning(
                    "\(text)",
                    metadata: ["offset_seconds": "\(String(format: "%.1f", -offset))"])
            }
        }
        if var beat = heartbeat {
            let now = clock.now()
            beat.lastTickAt = now
            beat.startedAt =
                beat.startedAt
                ?? heartbeatStarted.withLock { started in
                    if started == nil { started = now }
                    return started
                }
            beat.clockOffsetMilliseconds = Int64((-((clock as? StoreClock)?.storeOffset ?? 0) * 1000).rounded())
            try locked { try store.heartbeat(beat) }
        }
    }

    // MARK: Tick

    /// One pass: recover runs whose runner died, record skipped and missed fires, claim the due
    /// ones and run them in parallel. `cron run` waits for them; the daemon (`wait: false`) ticks
    /// again while they run, so a long run never holds up another organization's fire.
    @discardableResult
    package func tick(wait: Bool = true) throws -> TickReport {
        var report = TickReport()
        try syncClockAndBeat()
        let claims = try locked { try claimDue(&report) }
        let group = DispatchGroup()
        for claim in claims {
            group.enter()
            active.enter()
            activeCount.add(1, ordering: .relaxed)
            Thread { [self] in
                defer {
                    activeCount.subtract(1, ordering: .relaxed)
                    active.leave()
                    group.leave()
                }
                run(claim)
            }.start()
            report.ran.append(claim.job.name)
        }
        if wait { group.wait() }
        return report
    }

    /// Runs started by ticks and not finished yet.
    package var runningCount: Int { activeCount.load(ordering: .relaxed) }

    /// Waits for every run started by a tick (the daemon, stopping).
    package func waitForRuns() { active.wait() }

    func jobRows() throws -> [JobRow] { try store.snapshot().jobs }

    /// Marks a job's run lost when its runner stopped renewing the lease (or released it without
    /// recording the run); returns whether a lease was taken over.
    func recoverLost(
        _ job: JobRow, row: Row, runningRuns: [(id: Int64, runner: String)], now: Date, report: inout TickReport
    ) throws -> Bool {
        let leaseOwner = row["lease_owner"]?.string
        let leaseExpires = row["lease_expires_at"].flatMap(StateStore.date)
        // A lease past its expiry: the runner died. Mark its run failed; retry if allowed.
        if let leaseOwner, let leaseExpires, leaseExpires < now {
            let message =
                "runner lost: \(leaseOwner) stopped renewing its lease (expired \(SQLTimestamp.format(leaseExpires)) UTC, store time); "
                + "the run is recorded failed and the next run continues from the last committed chunk"
            let won = try c.execute(
                ControlStatements.takeOverExpiredLease(
                    job: job.id, owner: leaseOwner, expiresAt: row["lease_expires_at"] ?? .null, message: message))
            if won == 1 {
                try c.execute(ControlStatements.failRuns(ofJob: job.id, runner: leaseOwner, at: now, message: message))
                report.lost.append(job.name)
                logger.error("run lost", metadata: ["job": "\(job.name)", "runner": "\(leaseOwner)"])
                let retries = job.jobSettings.retries
                if retries > 0, try failedAttempts(job.id) <= retries {
                    // Due again now, as a retry.
                    try c.execute(ControlStatements.dueAgain(job: job.id, at: now))
                }
                return true
            }
        }
        // A run still `running` whose runner no longer holds the job's lease: nobody will finish it.
        let holder = (leaseExpires ?? .distantPast) >= now ? leaseOwner : nil
        for run in runningRuns where run.runner != holder {
            let message =
                "runner lost: \(run.runner) no longer holds the job's lease and never recorded this run's outcome; "
                + "the next run continues from the last committed chunk"
            if try c.execute(ControlStatements.failRun(run.id, at: now, message: message)) == 1 {
                report.lost.append(job.name)
            }
        }
        return false
    }

    /// Runs still `running`, by job.
    func runningRuns() throws -> [Int64: [(id: Int64, runner: String)]] {
        var out: [Int64: [(id: Int64, runner: String)]] = [:]
        for row in try c.query(ControlStatements.runningRuns) {
            guard let id = row[0].int64, let job = row[1].int64 else { continue }
            out[job, default: []].append((id, row[2].string ?? ""))
        }
        return out
    }

    func claimDue(_ report: inout TickReport) throws -> [Claim] {
        let now = clock.now()
        var claims: [Claim] = []
        let running = try runningRuns()
        for job in try jobRows() {
            let raw = try c.query(ControlStatements.schedule(ofJob: job.id))
            guard let row = raw.first else { continue }
            if try recoverLost(job, row: row, runningRuns: running[job.id] ?? [], now: now, report: &report) { continue }
            let leaseOwner = row["lease_owner"]?.string
            let leaseExpires = row["lease_expires_at"].flatMap(StateStore.date)
            let nextRaw = row["next_run_at"] ?? .null
            guard job.isActive else { continue }
            // A hand-made row with a bad expression never fires (`jobs list` shows no next run).
            guard let cron = try? CronExpression(job.cronExpression) else { continue }
            let zone = TimeZone(identifier: job.timeZone ?? "UTC") ?? TimeZone(identifier: "UTC")!
            guard let due = StateStore.date(nextRaw) else {
                // New or rescheduled job: its first fire after now.
                let first = cron.nextFire(after: now, in: zone)
                try c.execute(ControlStatements.scheduleFirstFire(job: job.id, at: first))
                report.scheduled.append(job.name)
                continue
            }
            // A next fire later than the schedule's next one after now cannot be right: it was
            // computed by a clock that was ahead (or the clock went back). Recompute it.
            if let expected = cron.nextFire(after: now, in: zone), Self.seconds(due) > Self.seconds(expected) {
                if try c.execute(ControlStatements.moveNextFire(job: job.id, from: nextRaw, to: expected)) == 1 {
                    let text =
                        "next_run_at recomputed: \(SQLTimestamp.format(due)) UTC cannot follow schedule \(job.cronExpression) at "
                        + "\(SQLTimestamp.format(now)) UTC (store time); the next fire is \(SQLTimestamp.format(expected)) UTC. "
                        + "A clock was ahead when it was computed."
                    logger.warning("\(text)", metadata: ["job": "\(job.name)"])
                    report.recomputed.append(job.name)
                }
                continue
            }
            guard due <= now, !shutdown.isSet else { continue }
            let following = cron.nextFire(after: now, in: zone)
            let isRetry = cron.nextFire(after: due.addingTimeInterval(-1), in: zone).map { Self.seconds($0) != Self.seconds(due) } ?? true
            let deadline = Double(job.jobSettings.startingDeadline)
            let busy = leaseOwner != nil && (leaseExpires ?? .distantPast) >= now
            let moveOn = ControlStatements.moveNextFire(job: job.id, from: nextRaw, to: following)
            if now.timeIntervalSince(due) > deadline && !isRetry {
                if try c.execute(moveOn) == 1 {
                    try insertRun(
                        job, trigger: "schedule", scheduledFor: due, started: now, finished: now, status: "skipped",
                        output:
                            "missed: no runner was up at \(SQLTimestamp.format(due)) UTC and the starting deadline (\(Int(deadline)) s) passed"
                    )
                    report.missed.append(job.name)
                }
                continue
            }
            if busy {
                if try c.execute(moveOn) == 1 {
                    try insertRun(
                        job, trigger: "schedule", scheduledFor: due, started: now, finished: now, status: "skipped",
                        output: "skipped: the previous run (runner \(leaseOwner!)) was still running")
                    report.skipped.append(job.name)
                }
                continue
            }
            let won = try c.execute(
                ControlStatements.claim(job: job.id, owner: owner, now: now, leaseSeconds: leaseSeconds, fire: (nextRaw, following)))
            if won == 1 { claims.append(Claim(job: job, trigger: isRetry ? "retry" : "schedule", scheduledFor: due)) }
        }
        return claims
    }

    func failedAttempts(_ jobID: Int64) throws -> Int {
        // Consecutive failures at the end of the job's history.
        let rows = try c.query(ControlStatements.recentStatuses(ofJob: jobID))
        return rows.prefix { $0[0].string == "failed" }.count
    }

    /// The run row, with its job's and organization's names (kept when the job is deleted).
    @discardableResult
    func insertRun(
        _ job: JobRow, trigger: String, scheduledFor: Date?, started: Date, finished: Date?, status: String, output: String
    ) throws -> Int64 {
        try c.execute(
            ControlStatements.insertRun(
                job: job.id, jobName: job.name, organizationName: organizationName(job.organizationID, locked: false), trigger: trigger,
                scheduledFor: scheduledFor, started: started, finished: finished, status: status, runner: owner, output: output))
        let rows = try c.query(ControlStatements.newestRun(ofJob: job.id, runner: owner))
        return rows.first?[0].int64 ?? 0
    }

    // MARK: Manual runs

    /// The guide's Play button: runs the job now unless it is running. Returns nil when it is.
    /// A run left `running` by a runner that died is recorded lost first.
    package func runNow(_ job: JobRow, onClaimed: (() -> Void)? = nil) throws -> JobOutcome? {
        if clock is StoreClock { try syncClockAndBeat() }
        let now = clock.now()
        let won = try locked {
            var report = TickReport()
            if let row = try c.query(ControlStatements.schedule(ofJob: job.id)).first {
                _ = try recoverLost(job, row: row, runningRuns: try runningRuns()[job.id] ?? [], now: now, report: &report)
            }
            return try c.execute(ControlStatements.claim(job: job.id, owner: owner, now: now, leaseSeconds: leaseSeconds, fire: nil))
        }
        guard won == 1 else { return nil }
        onClaimed?()
        return run(Claim(job: job, trigger: "manual", scheduledFor: nil))
    }

    // MARK: Running a claimed job

    @discardableResult
    func run(_ claim: Claim) -> JobOutcome {
        let job = claim.job
        let settings = job.jobSettings
        let retries = claim.trigger == "manual" ? 0 : settings.retries
        let timeout = settings.timeout.map(Double.init)
        var attempt = 0
        var outcome = JobOutcome(status: .failed, output: "not run")
        while true {
            let started = clock.now()
            let trigger = attempt == 0 ? claim.trigger : "retry"
            var runID: Int64 = 0
            persist("the start of \(job.name)'s run") {
                runID = try insertRun(
                    job, trigger: trigger, scheduledFor: claim.scheduledFor, started: started, finished: nil, status: "running", output: "")
            }
            let id = runID
            let renewing = StopFlag()
            let timedOut = StopFlag()
            let leaseLost = StopFlag()
            let lastProblem = ProblemBox()
            var log = logger
            log[metadataKey: "organization"] = "\(organizationName(job.organizationID))"
            log[metadataKey: "job"] = "\(job.name)"
            log[metadataKey: "run_id"] = "\(runID)"
            log.info("run started", metadata: ["trigger": "\(trigger)", "runner": "\(owner)"])
            let runLog = log
            let startedUptime = Self.uptime
            let renewer = Thread { [self] in
                var renewed = Self.uptime
                while !renewing.isSet {
                    Thread.sleep(forTimeInterval: min(leaseSeconds / 3, 5))
                    if renewing.isSet { break }
                    if let timeout, Self.uptime - startedUptime > timeout { timedOut.set() }
                    do {
                        try locked {
                            try c.execute(
                                ControlStatements.renewLease(job: job.id, owner: owner, until: clock.now().addingTimeInterval(leaseSeconds))
                            )
                        }
                        renewed = Self.uptime
                    } catch {
                        lastProblem.set("\(error)")
                        // Past the lease, another runner may take the job over: stop at the next
                        // chunk boundary so two runs never overlap (exactly-once holds anyway).
                        if Self.uptime - renewed > leaseSeconds * 0.9, !leaseLost.isSet {
                            leaseLost.set()
                            runLog.error(
                                "lease not renewed for \(Int(Self.uptime - renewed)) s (state store unreachable); stopping at the next chunk boundary",
                                metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
            renewer.start()
            let throttle = Throttle(every: 2)
            outcome = executor.execute(
                job, logger: log,
                progress: { [self] line in
                    guard throttle.due() else { return }
                    // A progress line is cosmetic: one lost while the store is away is not retried.
                    _ = try? locked { try c.execute(ControlStatements.runProgress(id, line: line)) }
                }
            ) { [shutdown] in shutdown.isSet || timedOut.isSet || leaseLost.isSet }
            renewing.set()
            // The first line of a run that did not succeed is its cause.
            if timedOut.isSet {
                outcome.status = .failed
            }
            if outcome.status == .failed {
                if timedOut.isSet {
                    outcome.output =
                        "timed out after \(Int(timeout ?? 0)) s; stopped at a chunk boundary, the next run continues from there\n"
                        + outcome.output
                } else if leaseLost.isSet {
                    outcome.output =
                        "stopped: the state store could not be reached to renew the lease (\(lastProblem.value ?? "no answer")); "
                        + "stopped at a chunk boundary so that no other runner's retry overlaps it, the next run continues from there\n"
                        + outcome.output
                } else if shutdown.isSet {
                    outcome.output =
                        "stopped: the runner was asked to stop (SIGTERM or Ctrl-C); stopped at a chunk boundary, the next run continues from there\n"
                        + outcome.output
                }
            }
            let finished = clock.now()
            let final = outcome
            persist("the outcome of \(job.name)'s run \(runID)") { try record(final, runID: runID, finished: finished) }
            let level: Logger.Level =
                outcome.status == .failed ? .error : outcome.status == .skipped || outcome.failedCases > 0 ? .warning : .info
            log.log(
                level: level, "run \(outcome.status.rawValue)",
                metadata: [
                    "cases": "\(outcome.cases)", "rows": "\(outcome.rows)", "failed_cases": "\(outcome.failedCases)",
                    "seconds": "\(String(format: "%.1f", finished.timeIntervalSince(started)))",
                    "cause": outcome.status != .success ? "\(outcome.output.split(separator: "\n").first.map(String.init) ?? "")" : nil,
                ].compactMapValues { $0 })
            attempt += 1
            if outcome.status != .failed || attempt > retries || shutdown.isSet || leaseLost.isSet {
                alert(claim, outcome: outcome, runID: runID, started: started, finished: finished)
                break
            }
            // Exponential backoff, still holding (and renewing) the lease.
            let wait = retryBackoff * pow(2, Double(attempt - 1))
            let until = Self.uptime + wait
            while Self.uptime < until, !shutdown.isSet {
                Thread.sleep(forTimeInterval: min(1, wait))
                // A failed renewal is tried again a second later; the lease lasts a minute.
                _ = try? locked {
                    try c.execute(
                        ControlStatements.renewLease(job: job.id, owner: owner, until: clock.now().addingTimeInterval(leaseSeconds)))
                }
            }
        }
        let final = outcome
        persist("the release of \(job.name)'s lease") { try release(job.id, outcome: final) }
        return outcome
    }

    /// A run's outcome in its `mt_job_runs` row; with `onlyIfRunning`, not over an outcome another
    /// runner recorded meanwhile.
    func record(_ outcome: JobOutcome, runID: Int64, finished: Date, onlyIfRunning: Bool = false) throws {
        try c.execute(
            ControlStatements.recordOutcome(
                runID, finished: finished, status: outcome.status.rawValue, cases: outcome.cases, rows: outcome.rows,
                failedCases: outcome.failedCases, output: outcome.output, onlyIfRunning: onlyIfRunning))
    }

    /// The job's last outcome, and its lease released (only if this runner still holds it).
    func release(_ jobID: Int64, outcome: JobOutcome) throws {
        try c.execute(
            ControlStatements.releaseLease(
                job: jobID, owner: owner, status: outcome.status.rawValue, output: outcome.output, failedCases: outcome.failedCases))
    }

    /// A run whose parent process died (`breakout run-job` orphaned): the child records the
    /// outcome itself and releases the parent's lease, so the run is never left `running`.
    package func recordOrphan(jobID: Int64, runID: Int64, parent: Int32, outcome: JobOutcome) {
        var final = outcome
        if final.status == .success {
            final.output = "finished after the process that started it (pid \(parent)) died\n" + final.output
        } else {
            final.status = .failed
            final.output =
                "stopped: the process that started this run (pid \(parent)) died; stopped at a chunk boundary, the next run continues from there\n"
                + final.output
        }
        let finished = clock.now()
        persist("the outcome of orphaned run \(runID)") {
            try record(final, runID: runID, finished: finished, onlyIfRunning: true)
            try release(jobID, outcome: final)
        }
    }

    func organizationName(_ id: Int64, locked useLock: Bool = true) -> String {
        let query = { [self] in try c.query(ControlStatements.organizationName(id)) }
        // The name only labels log lines and run rows: "#id" stands in when the store does not answer.
        let rows = useLock ? try? locked(query) : try? query()
        return rows?.first?[0].string ?? "#\(id)"
    }

    /// Seconds until the earliest `next_run_at` of the active jobs (store time), for the daemon's sleep.
    package func secondsUntilNextDue() throws -> Double? {
        let next = try locked {
            try c.query(ControlStatements.earliestNextFire).first.flatMap { StateStore.date($0[0]) }
        }
        return next.map { $0.timeIntervalSince(clock.now()) }
    }
}

/// A thread-safe boolean that only goes from false to true.
package final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    package init() {}
    package func set() { value.store(true, ordering: .releasing) }
    package var isSet: Bool { value.load(ordering: .acquiring) }
}

/// "At most once every N seconds" (of uptime: a clock no time change moves), for progress writes and lines.
final class Throttle: Sendable {
    let interval: Double
    /// Uptime of the last time `due` said yes.
    private let last = Mutex<Double>(-.infinity)

    init(every interval: Double) { self.interval = interval }

    /// True at most once per interval; always when `force`.
    func due(force: Bool = false) -> Bool {
        let now = Scheduler.uptime
        return last.withLock { last in
            guard force || now - last >= interval else { return false }
            last = now
            return true
        }
    }
}
