import Config
import Cron
import DatabaseDriver
import Foundation
import Logging
import SQL
import State

/// Where "now" comes from: the system clock, or a test's simulated one.
public protocol Clock: Sendable {
    func now() -> Date
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Date { Date() }
}

/// What running one job produced.
public struct JobOutcome: Sendable {
    public enum Status: String, Sendable { case success, failed }
    public var status: Status
    public var output: String
    public var cases: Int64
    public var rows: Int64

    public init(status: Status, output: String, cases: Int64 = 0, rows: Int64 = 0) {
        self.status = status
        self.output = output
        self.cases = cases
        self.rows = rows
    }
}

/// Runs one job row (the breakout engine in production, a recorder in tests).
public protocol JobExecutor: Sendable {
    /// `stop` turns true when the run must end at the next chunk boundary (timeout, shutdown);
    /// `logger` carries the run's organization, job and run id.
    func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome
    /// The same, reporting progress as a short line (`CENSUS 1200/3000 cases`) while it runs.
    func execute(_ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool) -> JobOutcome
}

extension JobExecutor {
    public func execute(_ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
        execute(job, logger: logger, stop: stop)
    }
}

/// How one scheduler pass went.
public struct TickReport: Sendable {
    public var ran: [String] = []
    public var skipped: [String] = []
    public var missed: [String] = []
    public var lost: [String] = []
    public var scheduled: [String] = []
}

/// The scheduler and runner: claims due fires with a lease in the state store (a conditional
/// UPDATE on `next_run_at` and the lease), so each fire runs once whatever the number of runners;
/// runs the job, renewing the lease; records the run in `mt_job_runs` and `mt_cron_jobs`.
public final class Scheduler: @unchecked Sendable {
    public let store: StateStore
    public let owner: String
    let clock: any Clock
    let executor: any JobExecutor
    /// Seconds a lease lasts without renewal; renewed every third of it while a job runs.
    public var leaseSeconds: Double
    /// Base of the exponential backoff between retries (seconds).
    public var retryBackoff: Double
    /// Set by SIGTERM/SIGINT: no new claims; running jobs stop at their next chunk boundary.
    public let shutdown = StopFlag()
    /// Serialises use of the store connection between the scheduler and lease renewals.
    let lock = NSLock()
    /// The operator's alerts (breakout.yaml `alerts`): a command, and/or a webhook, for every job.
    public var operatorAlerts: Alerts?
    /// Where run events go (`--log-format`, `--log-level`).
    public var logger = Logger(label: "breakout.runner")

    public init(store: StateStore, owner: String = Scheduler.defaultOwner(), clock: any Clock = SystemClock(), executor: any JobExecutor,
                leaseSeconds: Double = 60, retryBackoff: Double = 30) {
        self.store = store
        self.owner = owner
        self.clock = clock
        self.executor = executor
        self.leaseSeconds = leaseSeconds
        self.retryBackoff = retryBackoff
    }

    public static func defaultOwner() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    var c: any DatabaseConnection { store.connection }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// A fire time as stored: whole seconds.
    static func seconds(_ d: Date) -> Date { Date(timeIntervalSince1970: d.timeIntervalSince1970.rounded(.down)) }

    static func settings(_ job: JobRow) -> [String: Any] { StoredValue.object(job.settings) }

    struct Claim {
        var job: JobRow
        var trigger: String
        var scheduledFor: Date?
    }

    // MARK: Tick

    /// One pass: recover runs whose runner died, record skipped and missed fires, claim the due
    /// ones and run them (in parallel), wait for them.
    @discardableResult
    public func tick() throws -> TickReport {
        var report = TickReport()
        let claims = try locked { try claimDue(&report) }
        let group = DispatchGroup()
        for claim in claims {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                run(claim)
            }.start()
            report.ran.append(claim.job.name)
        }
        group.wait()
        return report
    }

    func jobRows() throws -> [JobRow] { try store.snapshot().jobs }

    func value(_ d: Date?) -> SQLValue { d.map { .timestamp(Self.seconds($0)) } ?? .null }

    func claimDue(_ report: inout TickReport) throws -> [Claim] {
        let now = clock.now()
        var claims: [Claim] = []
        for job in try jobRows() {
            let raw = try c.query(.select(Select(from: ControlTables.jobs, columns: ["next_run_at", "lease_owner", "lease_expires_at", "last_run_status"],
                                                 where: .equals("id", .integer(job.id)))))
            guard let row = raw.first else { continue }
            let leaseOwner = row["lease_owner"]?.string
            let leaseExpires = row["lease_expires_at"].flatMap(StateStore.date)
            let nextRaw = row["next_run_at"] ?? .null

            // A lease past its expiry: the runner died. Mark its run failed; retry if allowed.
            if let leaseOwner, let leaseExpires, leaseExpires < now {
                let won = try c.execute(.update(Update(ControlTables.jobs, set: [
                    Assignment("lease_owner", .null), Assignment("lease_expires_at", .null), Assignment("last_run_status", .text("failed")),
                    Assignment("last_run_output", .text("runner lost: \(leaseOwner) stopped renewing its lease (expired \(SQLTimestamp.format(leaseExpires)) UTC)")),
                ], where: .and([.equals("id", .integer(job.id)), .equals("lease_owner", .text(leaseOwner)), .equals("lease_expires_at", row["lease_expires_at"]!)]))))
                if won == 1 {
                    try c.execute(.update(Update(ControlTables.runs, set: [
                        Assignment("status", .text("failed")), Assignment("finished_at", .timestamp(now)),
                        Assignment("output", .text("runner lost: \(leaseOwner) stopped renewing its lease")),
                    ], where: .and([.equals("job_id", .integer(job.id)), .equals("runner", .text(leaseOwner)), .equals("status", .text("running"))]))))
                    report.lost.append(job.name)
                    let retries = Self.settings(job)["retries"] as? Int ?? 0
                    if retries > 0, try failedAttempts(job.id) <= retries {
                        // Due again now, as a retry.
                        try c.execute(.update(Update(ControlTables.jobs, set: [Assignment("next_run_at", .timestamp(Self.seconds(now)))],
                                                     where: .equals("id", .integer(job.id)))))
                    }
                    continue
                }
            }
            guard job.isActive else { continue }
            guard let cron = try? CronExpression(job.cronExpression) else { continue }
            let zone = TimeZone(identifier: job.timeZone ?? "UTC") ?? TimeZone(identifier: "UTC")!
            guard let due = StateStore.date(nextRaw) else {
                // New or rescheduled job: its first fire after now.
                let first = cron.nextFire(after: now, in: zone)
                try c.execute(.update(Update(ControlTables.jobs, set: [Assignment("next_run_at", value(first))],
                                             where: .and([.equals("id", .integer(job.id)), .isNull("next_run_at")]))))
                report.scheduled.append(job.name)
                continue
            }
            guard due <= now, !shutdown.isSet else { continue }
            let following = cron.nextFire(after: now, in: zone)
            let isRetry = cron.nextFire(after: due.addingTimeInterval(-1), in: zone).map { Self.seconds($0) != Self.seconds(due) } ?? true
            let deadline = Double(Self.settings(job)["starting_deadline"] as? Int ?? 3600)
            let busy = leaseOwner != nil && (leaseExpires ?? .distantPast) >= now
            let moveOn = Update(ControlTables.jobs, set: [Assignment("next_run_at", value(following))],
                                where: .and([.equals("id", .integer(job.id)), .equals("next_run_at", nextRaw)]))
            if now.timeIntervalSince(due) > deadline && !isRetry {
                if try c.execute(.update(moveOn)) == 1 {
                    try insertRun(job.id, trigger: "schedule", scheduledFor: due, started: now, finished: now, status: "skipped",
                                  output: "missed: no runner was up at \(SQLTimestamp.format(due)) UTC and the starting deadline (\(Int(deadline)) s) passed")
                    report.missed.append(job.name)
                }
                continue
            }
            if busy {
                if try c.execute(.update(moveOn)) == 1 {
                    try insertRun(job.id, trigger: "schedule", scheduledFor: due, started: now, finished: now, status: "skipped",
                                  output: "skipped: the previous run (runner \(leaseOwner!)) was still running")
                    report.skipped.append(job.name)
                }
                continue
            }
            let won = try c.execute(.update(Update(ControlTables.jobs, set: [
                Assignment("next_run_at", value(following)), Assignment("lease_owner", .text(owner)),
                Assignment("lease_expires_at", .timestamp(now.addingTimeInterval(leaseSeconds))),
                Assignment("last_run_status", .text("running")), Assignment("last_run_at", .timestamp(now)),
            ], where: .and([.equals("id", .integer(job.id)), .equals("next_run_at", nextRaw),
                            .or([.isNull("lease_owner"), .compare("lease_expires_at", .less, .timestamp(now))])]))))
            if won == 1 { claims.append(Claim(job: job, trigger: isRetry ? "retry" : "schedule", scheduledFor: due)) }
        }
        return claims
    }

    func failedAttempts(_ jobID: Int64) throws -> Int {
        // Consecutive failures at the end of the job's history.
        let rows = try c.query(.select(Select(from: ControlTables.runs, columns: ["status"], where: .equals("job_id", .integer(jobID)),
                                              orderBy: [SortKey("id", descending: true)], limit: 20)))
        return rows.prefix { $0[0].string == "failed" }.count
    }

    @discardableResult
    func insertRun(_ jobID: Int64, trigger: String, scheduledFor: Date?, started: Date, finished: Date?, status: String, output: String) throws -> Int64 {
        try c.execute(.insert(Insert(into: ControlTables.runs, columns: ["job_id", "trigger_type", "scheduled_for", "started_at", "finished_at", "status", "runner", "output"],
                                     rows: [[.integer(jobID), .text(trigger), value(scheduledFor), .timestamp(started), finished.map { .timestamp($0) } ?? .null,
                                             .text(status), .text(owner), .text(Self.cap(output))]])))
        let rows = try c.query(.select(Select(from: ControlTables.runs, columns: ["id"], where: .and([.equals("job_id", .integer(jobID)), .equals("runner", .text(owner))]),
                                              orderBy: [SortKey("id", descending: true)], limit: 1)))
        return rows.first?[0].int64 ?? 0
    }

    static func cap(_ s: String) -> String { s.count > 65_000 ? String(s.prefix(65_000)) + "\n… (output cut at 65,000 characters)" : s }

    // MARK: Manual runs

    /// The guide's Play button: runs the job now unless it is running. Returns nil when it is.
    public func runNow(_ job: JobRow, onClaimed: (() -> Void)? = nil) throws -> JobOutcome? {
        let now = clock.now()
        let won = try locked {
            try c.execute(.update(Update(ControlTables.jobs, set: [
                Assignment("lease_owner", .text(owner)), Assignment("lease_expires_at", .timestamp(now.addingTimeInterval(leaseSeconds))),
                Assignment("last_run_status", .text("running")), Assignment("last_run_at", .timestamp(now)),
            ], where: .and([.equals("id", .integer(job.id)), .or([.isNull("lease_owner"), .compare("lease_expires_at", .less, .timestamp(now))])]))))
        }
        guard won == 1 else { return nil }
        onClaimed?()
        return run(Claim(job: job, trigger: "manual", scheduledFor: nil))
    }

    // MARK: Running a claimed job

    @discardableResult
    func run(_ claim: Claim) -> JobOutcome {
        let job = claim.job
        let settings = Self.settings(job)
        let retries = claim.trigger == "manual" ? 0 : settings["retries"] as? Int ?? 0
        let timeout = (settings["timeout"] as? Int).map(Double.init)
        var attempt = 0
        var outcome = JobOutcome(status: .failed, output: "not run")
        while true {
            let started = clock.now()
            let runID = (try? locked { try insertRun(job.id, trigger: attempt == 0 ? claim.trigger : "retry", scheduledFor: claim.scheduledFor,
                                                     started: started, finished: nil, status: "running", output: "") }) ?? 0
            let renewing = StopFlag()
            let timedOut = StopFlag()
            var log = logger
            log[metadataKey: "organization"] = "\(organizationName(job.organizationID))"
            log[metadataKey: "job"] = "\(job.name)"
            log[metadataKey: "run_id"] = "\(runID)"
            log.info("run started", metadata: ["trigger": "\(attempt == 0 ? claim.trigger : "retry")", "runner": "\(owner)"])
            let renewer = Thread { [self] in
                while !renewing.isSet {
                    Thread.sleep(forTimeInterval: min(leaseSeconds / 3, 5))
                    if renewing.isSet { break }
                    let now = clock.now()
                    if let timeout, now.timeIntervalSince(started) > timeout { timedOut.set() }
                    _ = try? locked {
                        try c.execute(.update(Update(ControlTables.jobs, set: [Assignment("lease_expires_at", .timestamp(now.addingTimeInterval(leaseSeconds)))],
                                                     where: .and([.equals("id", .integer(job.id)), .equals("lease_owner", .text(owner))]))))
                    }
                }
            }
            renewer.start()
            let throttle = ProgressThrottle()
            outcome = executor.execute(job, logger: log, progress: { [self] line in
                guard throttle.due() else { return }
                _ = try? locked {
                    try c.execute(.update(Update(ControlTables.runs, set: [Assignment("output", .text("running: " + line))],
                                                 where: .and([.equals("id", .integer(runID)), .equals("status", .text("running"))]))))
                }
            }) { [shutdown] in shutdown.isSet || timedOut.isSet }
            renewing.set()
            if timedOut.isSet {
                outcome.status = .failed
                outcome.output = "timed out after \(Int(timeout ?? 0)) s; stopped at a chunk boundary, the next run continues from there\n" + outcome.output
            }
            let finished = clock.now()
            _ = try? locked {
                try c.execute(.update(Update(ControlTables.runs, set: [
                    Assignment("finished_at", .timestamp(finished)), Assignment("status", .text(outcome.status.rawValue)),
                    Assignment("cases_loaded", .integer(outcome.cases)), Assignment("rows_loaded", .integer(outcome.rows)),
                    Assignment("output", .text(Self.cap(outcome.output))),
                ], where: .equals("id", .integer(runID)))))
            }
            let level: Logger.Level = outcome.status == .success ? .info : .error
            log.log(level: level, "run \(outcome.status.rawValue)", metadata: [
                "cases": "\(outcome.cases)", "rows": "\(outcome.rows)", "seconds": "\(String(format: "%.1f", finished.timeIntervalSince(started)))",
                "error": outcome.status == .failed ? "\(outcome.output.split(separator: "\n").first.map(String.init) ?? "")" : nil,
            ].compactMapValues { $0 })
            attempt += 1
            if outcome.status == .success || attempt > retries || shutdown.isSet {
                alert(claim, outcome: outcome, runID: runID, started: started, finished: finished)
                break
            }
            // Exponential backoff, still holding (and renewing) the lease.
            let wait = retryBackoff * pow(2, Double(attempt - 1))
            let until = Date().addingTimeInterval(wait)
            while Date() < until, !shutdown.isSet {
                Thread.sleep(forTimeInterval: min(1, wait))
                _ = try? locked {
                    try c.execute(.update(Update(ControlTables.jobs, set: [Assignment("lease_expires_at", .timestamp(clock.now().addingTimeInterval(leaseSeconds)))],
                                                 where: .and([.equals("id", .integer(job.id)), .equals("lease_owner", .text(owner))]))))
                }
            }
        }
        _ = try? locked {
            try c.execute(.update(Update(ControlTables.jobs, set: [
                Assignment("last_run_status", .text(outcome.status.rawValue)), Assignment("last_run_output", .text(Self.cap(outcome.output))),
                Assignment("lease_owner", .null), Assignment("lease_expires_at", .null),
            ], where: .and([.equals("id", .integer(job.id)), .equals("lease_owner", .text(owner))]))))
        }
        return outcome
    }

    func organizationName(_ id: Int64) -> String {
        (try? locked { try c.query(.select(Select(from: ControlTables.organizations, columns: ["organization_name"], where: .equals("id", .integer(id))))) })?
            .first?[0].string ?? "#\(id)"
    }

    /// The earliest `next_run_at` of the active jobs (for the daemon's sleep).
    public func nextDue() throws -> Date? {
        try locked {
            try c.query("SELECT MIN(next_run_at) FROM mt_cron_jobs WHERE is_active = 1").first.flatMap { StateStore.date($0[0]) }
        }
    }
}

/// A thread-safe boolean that only goes from false to true.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public func set() { lock.lock(); value = true; lock.unlock() }
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// At most one progress write every two seconds.
final class ProgressThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    func due() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard Date().timeIntervalSince(last) >= 2 else { return false }
        last = Date()
        return true
    }
}
