import DatabaseDriver
import Drivers
import Foundation
import Logging
import Reconcile
import SQL
import Testing

@testable import Dashboard
@testable import Runner
@testable import State

/// Returns a fixed outcome (failed cases, skipped), optionally after a gate opens.
final class FixedExecutor: JobExecutor, @unchecked Sendable {
    let outcome: JobOutcome
    let started = DispatchSemaphore(value: 0)
    var gate: DispatchSemaphore?
    private let lock = NSLock()
    private var n = 0
    init(_ outcome: JobOutcome) { self.outcome = outcome }
    func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
        lock.lock(); n += 1; lock.unlock()
        started.signal()
        gate?.wait()
        return outcome
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// What a long unattended life brings (issue 17): one clock, heartbeats and overdue jobs, dead
/// runs, outcomes with failed cases, a store that restarts, migrations that race.
@Suite(.serialized) struct UnattendedTests {
    static let base = ISO8601DateFormatter().date(from: "2026-11-29T10:00:00Z")!

    func sandbox(_ backend: StateBackend, jobs: String) throws -> Sandbox { try Sandbox.applied(backend, jobs: jobs) }

    /// The store's clock: measured against this host's, it is the one leases use.
    @Test(arguments: StateBackend.available)
    func storeClockMeasuresTheStoresTime(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("j"))
        let store = StateStore(connection: try s.connectState())
        defer { store.connection.close() }
        let clock = StoreClock()
        #expect(try clock.sync(store) == nil)
        // The servers here run on this host: the offset is the round trip's noise.
        #expect(abs(clock.storeOffset) < 2, "offset \(clock.storeOffset)")
        #expect(abs(clock.now().timeIntervalSince(try store.serverTime())) < 2)
    }

    /// A next fire a clock that was ahead computed (a day late for an every-minute job) is
    /// recomputed at the next tick, instead of silencing the job until then.
    @Test(arguments: StateBackend.available)
    func impossibleNextFireIsRecomputed(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("every-minute", schedule: "* * * * *"))
        let clock = SimulatedClock(Self.base)
        let executor = FixedExecutor(JobOutcome(status: .success, output: "ok"))
        let a = Scheduler(store: StateStore(connection: try s.connectState()), owner: "a", clock: clock, executor: executor)
        defer { a.store.connection.close() }
        try s.execute("UPDATE mt_cron_jobs SET next_run_at = '2026-11-30 10:00:00'")
        let report = try a.tick()
        #expect(report.recomputed == ["every-minute"])
        #expect(try s.query("SELECT next_run_at FROM mt_cron_jobs")[0][0].string?.hasPrefix("2026-11-29 10:01:00") == true)
        clock.set(Self.base.addingTimeInterval(61))
        #expect(try a.tick().ran == ["every-minute"])
    }

    /// Heartbeats: a runner's tick is recorded; an hour without one says "no runner has run since".
    @Test(arguments: StateBackend.available)
    func heartbeatsAndTheNoRunnerWarning(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("hourly", schedule: "0 * * * *"))
        let store = StateStore(connection: try s.connectState())
        defer { store.connection.close() }
        #expect(
            try DashboardData(store, now: Self.base).liveness.warning?.hasPrefix("no runner has ever run against these control tables")
                == true)
        let clock = SimulatedClock(Self.base)
        let a = Scheduler(
            store: store, owner: "a", clock: clock, executor: FixedExecutor(JobOutcome(status: .success, output: "ok")),
            heartbeat: RunnerRow(
                name: "host-a cron", host: "host-a", kind: "cron", pid: 42, version: "test", startedAt: nil, lastTickAt: nil,
                tickSeconds: 60, clockOffsetMilliseconds: 0))
        try a.tick()
        let runners = try store.runners()
        #expect(runners.map(\.name) == ["host-a cron"] && runners[0].pid == 42)
        #expect(runners[0].lastTickAt.map { abs($0.timeIntervalSince(Self.base)) < 1 } == true)
        #expect(try DashboardData(store, now: Self.base.addingTimeInterval(60)).liveness.warning == nil)
        let later = try DashboardData(store, now: Self.base.addingTimeInterval(3600))
        #expect(
            later.liveness.warning?.hasPrefix("no runner has run since 2026-11-29 10:00:00 UTC (60 min ago)") == true,
            "\(later.liveness.warning ?? "nil")")
        // The 10:00 fire was scheduled at 10:00 for 11:00; at 11:05 nobody claimed it: overdue.
        let overdue = try DashboardData(store, now: Self.base.addingTimeInterval(3900))
        #expect(overdue.jobs[0].overdueSince == Self.base.addingTimeInterval(3600))
        let metrics = try Metrics.text(store)
        #expect(
            metrics.contains(
                "breakout_runner_last_tick_timestamp_seconds{runner=\"host-a cron\",kind=\"cron\"} \(Int(Self.base.timeIntervalSince1970))")
        )
        #expect(metrics.contains("breakout_no_runner 1"), "the real clock is days past the simulated tick")
    }

    /// A run left `running` by a runner that no longer holds the job's lease is recorded lost.
    @Test(arguments: StateBackend.available)
    func runWithoutItsLeaseIsRecordedLost(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("j", schedule: "0 * * * *"))
        let a = Scheduler(
            store: StateStore(connection: try s.connectState()), owner: "a", clock: SimulatedClock(Self.base),
            executor: FixedExecutor(JobOutcome(status: .success, output: "ok")))
        defer { a.store.connection.close() }
        let id = try a.store.snapshot().jobs[0].id
        try s.execute(
            "INSERT INTO mt_job_runs (job_id, trigger_type, status, runner, output) VALUES (\(id), 'manual', 'running', 'ghost', 'running: RGPH 10/20 cases')"
        )
        let report = try a.tick()
        #expect(report.lost == ["j"])
        let run = try s.query("SELECT status, output FROM mt_job_runs")[0]
        #expect(run["status"]?.string == "failed")
        #expect(run["output"]?.string?.hasPrefix("runner lost: ghost no longer holds the job's lease") == true)
    }

    /// A success with undecodable cases stays `success` and carries their count; a busy
    /// destination is `skipped`, not retried.
    @Test(arguments: StateBackend.available)
    func outcomesCarryFailedCasesAndSkips(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("a", extra: "    retries: 2\n"))
        let clock = SimulatedClock(Self.base)
        let withFailures = Scheduler(
            store: StateStore(connection: try s.connectState()), owner: "r", clock: clock,
            executor: FixedExecutor(
                JobOutcome(status: .success, output: "RGPH: 100 cases loaded, 59 failed", cases: 100, rows: 500, failedCases: 59)))
        defer { withFailures.store.connection.close() }
        let row = try withFailures.store.snapshot().jobs[0]
        #expect(try withFailures.runNow(row)?.failedCases == 59)
        var r = try s.query("SELECT status, failed_cases, organization_name, job_name FROM mt_job_runs")[0]
        #expect(r["status"]?.string == "success" && r["failed_cases"]?.int64 == 59)
        #expect(r["organization_name"]?.string == "ansd" && r["job_name"]?.string == "a")
        #expect(try s.query("SELECT last_run_status, last_run_failed_cases FROM mt_cron_jobs")[0]["last_run_failed_cases"]?.int64 == 59)
        let busy = FixedExecutor(
            JobOutcome(status: .skipped, output: "destination busy: ansd/b run 7 is writing RGPH into postgresql rgph"))
        let skipper = Scheduler(
            store: StateStore(connection: try s.connectState()), owner: "r2", clock: clock, executor: busy, retryBackoff: 0.01)
        defer { skipper.store.connection.close() }
        // A scheduled fire (retries apply): the skip is final, not retried.
        try s.execute("UPDATE mt_cron_jobs SET next_run_at = '2026-11-29 02:00:00'")
        clock.set(Self.base.addingTimeInterval(-7 * 3600 - 59 * 60))
        _ = try skipper.tick()
        #expect(busy.count == 1)
        r = try s.query("SELECT status, output FROM mt_job_runs ORDER BY id DESC")[0]
        #expect(r["status"]?.string == "skipped" && r["output"]?.string?.hasPrefix("destination busy: ansd/b run 7") == true)
        #expect(try s.query("SELECT last_run_status FROM mt_cron_jobs")[0][0].string == "skipped")
    }

    /// The store connection breaks in the middle of a run (the server restarted, or killed the
    /// session): the scheduler reconnects and records the run's real outcome.
    @Test(arguments: StateBackend.available.filter { $0 != .sqlite })
    func brokenStoreConnectionIsReopenedAndTheOutcomeRecorded(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("j"))
        let store = try StateStore(connect: { try s.connectState() })
        defer { store.connection.close() }
        let executor = FixedExecutor(JobOutcome(status: .success, output: "RGPH: 20 cases", cases: 20, rows: 80))
        executor.gate = DispatchSemaphore(value: 0)
        let a = Scheduler(store: store, owner: "r", executor: executor, leaseSeconds: 30)
        let session =
            try store.connection.query(backend == .postgresql ? "SELECT pg_backend_pid()" : "SELECT CONNECTION_ID()")[0][0].string ?? ""
        let row = try store.snapshot().jobs[0]
        let done = DispatchSemaphore(value: 0)
        let result = Results()
        Thread {
            let outcome = try? a.runNow(row)
            result.add(outcome?.status.rawValue ?? "nil")
            done.signal()
        }.start()
        executor.started.wait()
        try s.execute(backend == .postgresql ? "SELECT pg_terminate_backend(\(session))" : "KILL \(session)")
        executor.gate?.signal()
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(result.all == ["success"])
        let run = try s.query("SELECT status, cases_loaded FROM mt_job_runs")[0]
        #expect(run["status"]?.string == "success" && run["cases_loaded"]?.int64 == 20)
        #expect(try s.query("SELECT lease_owner FROM mt_cron_jobs")[0][0].isNull)
    }

    /// Two first `apply` on a new store: migrations run under the apply lock, so neither fails.
    @Test(arguments: StateBackend.available)
    func concurrentMigrationsDoNotRace(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        let results = Results()
        let group = DispatchGroup()
        for i in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let store = StateStore(connection: try s.connectState())
                    defer { store.connection.close() }
                    _ = try store.migrate(owner: "apply-\(i)", timeout: 30)
                    results.add("v\(try store.version())")
                } catch {
                    results.add("\(error)")
                }
            }.start()
        }
        group.wait()
        #expect(results.all == ["v3", "v3", "v3"], "\(results.all)")
    }

    /// Deleting a running job is destructive (needs --allow-destroy); its history stays.
    @Test func deletingARunningJobNeedsAllowDestroy() throws {
        let s = try sandbox(.sqlite, jobs: job("a") + job("b"))
        let far = SQLTimestamp.format(Date().addingTimeInterval(3600))
        try s.execute(
            "UPDATE mt_cron_jobs SET lease_owner = 'host:1:x', lease_expires_at = '\(far)', last_run_status = 'running' WHERE job_name = 'b'"
        )
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("a")))
        let plan = try s.plan()
        let delete = try #require(plan.changes.first { $0.action == .delete })
        #expect(delete.destructive && delete.note?.hasPrefix("it is running now (runner host:1:x)") == true)
        #expect(throws: StateError.self) { try s.apply() }
        var options = ApplyOptions()
        options.allowDestroy = true
        try s.apply(options)
        #expect(try s.query("SELECT job_name FROM mt_cron_jobs").map { $0[0].string } == ["a"])
    }
}
