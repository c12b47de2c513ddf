import CaseSources
import Config
import Cron
import DatabaseDriver
import Drivers
import Foundation
import Generators
import Logging
import Reconcile
import SQL
import Secrets
import Testing

@testable import Runner
@testable import State

func temporaryFile(_ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-\(UUID().uuidString)-\(name)").path
    FileManager.default.createFile(atPath: path, contents: nil)
    return path
}

/// A clock tests move by hand.
final class SimulatedClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    func now() -> Date { lock.lock(); defer { lock.unlock() }; return current }
    func set(_ d: Date) { lock.lock(); current = d; lock.unlock() }
}

/// Records every execution; optionally blocks until released.
final class RecordingExecutor: JobExecutor, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var runs: [(job: Int64, at: Date)] = []
    let clock: any Clock
    let pause: Double
    var gate: DispatchSemaphore?
    var result: JobOutcome.Status = .success

    init(clock: any Clock, pause: Double = 0.01) {
        self.clock = clock
        self.pause = pause
    }

    func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
        lock.lock(); runs.append((job.id, clock.now())); lock.unlock()
        if let gate { gate.wait() }
        Thread.sleep(forTimeInterval: pause)
        return JobOutcome(status: result, output: "\(job.name): done", cases: 1, rows: 2)
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return runs.count }
}

@Suite(.serialized) struct RunnerTests {
    static let base = ISO8601DateFormatter().date(from: "2026-11-29T10:00:00Z")!

    func sandbox(_ backend: StateBackend, jobs: String) throws -> Sandbox { try Sandbox.applied(backend, jobs: jobs) }

    func scheduler(
        _ s: Sandbox, clock: any Clock, executor: any JobExecutor, owner: String, operatorAlerts: Alerts? = nil
    ) throws
        -> Scheduler
    {
        Scheduler(
            store: StateStore(connection: try s.connectState()), owner: owner, clock: clock, executor: executor, leaseSeconds: 120,
            retryBackoff: 0.01, operatorAlerts: operatorAlerts)
    }

    /// Two daemons and a crontab tick, an hour of minute-level schedules: every due fire runs exactly once.
    @Test(arguments: StateBackend.available)
    func everyFireRunsExactlyOnceAcrossRunners(_ backend: StateBackend) throws {
        let s = try sandbox(
            backend,
            jobs: job("every-minute", schedule: "* * * * *") + job("five", schedule: "*/5 * * * *")
                + job("seven", schedule: "*/7 * * * *", extra: "    time_zone: Europe/Paris\n"))
        let clock = SimulatedClock(Self.base.addingTimeInterval(-30))
        let executor = RecordingExecutor(clock: clock)
        let runners = try ["daemon-a", "daemon-b", "crontab"].map { try scheduler(s, clock: clock, executor: executor, owner: $0) }
        defer { runners.forEach { $0.store.connection.close() } }
        try runners[0].tick()  // schedules the first fires
        for minute in 0..<60 {
            clock.set(Self.base.addingTimeInterval(Double(minute * 60) + 1))
            let group = DispatchGroup()
            for r in runners {
                group.enter()
                Thread {
                    defer { group.leave() }; _ = try? r.tick()
                }.start()
            }
            group.wait()
        }
        let runs = try s.query(
            "SELECT j.job_name, r.scheduled_for, r.status, r.runner FROM mt_job_runs r JOIN mt_cron_jobs j ON j.id = r.job_id")
        #expect(runs.allSatisfy { $0["status"]?.string == "success" })
        let expected = ["every-minute": 60, "five": 12, "seven": 9]
        for (name, count) in expected {
            let mine = runs.filter { $0["job_name"]?.string == name }
            #expect(mine.count == count, "\(name): \(mine.count) runs, expected \(count)")
            #expect(Set(mine.compactMap { $0["scheduled_for"]?.string }).count == mine.count, "\(name) has a fire run twice")
        }
        #expect(executor.count == 81)
        #expect(Set(runs.compactMap { $0["runner"]?.string }).count >= 2, "the work should spread over runners")
        let job = try s.query("SELECT last_run_status, lease_owner FROM mt_cron_jobs WHERE job_name = 'five'")[0]
        #expect(job["last_run_status"]?.string == "success" && job["lease_owner"]?.isNull == true)
    }

    @Test(arguments: StateBackend.available)
    func skippedMissedLostAndManual(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("hourly", schedule: "0 * * * *", extra: "    retries: 1\n    starting_deadline: 10m\n"))
        let clock = SimulatedClock(Self.base.addingTimeInterval(-30))
        let executor = RecordingExecutor(clock: clock)
        let a = try scheduler(s, clock: clock, executor: executor, owner: "runner-a")
        defer { a.store.connection.close() }
        try a.tick()
        // A fire while another runner holds the lease: skipped.
        try s.execute(
            "UPDATE mt_cron_jobs SET lease_owner = 'runner-z', lease_expires_at = '2030-01-01 00:00:00', last_run_status = 'running'")
        clock.set(Self.base.addingTimeInterval(5))
        var report = try a.tick()
        #expect(report.skipped == ["hourly"] && executor.count == 0)
        // The manual Play button refuses politely while it runs.
        let row = try a.store.snapshot().jobs[0]
        #expect(try a.runNow(row) == nil)
        // The holder died: its lease expires, its run is failed ("runner lost"), and the retry runs.
        try s.execute(
            "INSERT INTO mt_job_runs (job_id, trigger_type, status, runner) VALUES (\(row.id), 'schedule', 'running', 'runner-z')")
        try s.execute("UPDATE mt_cron_jobs SET lease_expires_at = '2026-11-29 10:01:00'")
        clock.set(Self.base.addingTimeInterval(120))
        report = try a.tick()
        #expect(report.lost == ["hourly"])
        let lost = try s.query("SELECT status, output FROM mt_job_runs WHERE runner = 'runner-z'")[0]
        #expect(lost["status"]?.string == "failed" && lost["output"]?.string?.hasPrefix("runner lost") == true)
        report = try a.tick()
        #expect(report.ran == ["hourly"] && executor.count == 1)
        #expect(
            try s.query("SELECT trigger_type FROM mt_job_runs WHERE runner = 'runner-a' AND status = 'success'").first?[0].string == "retry"
        )
        // Down for two hours: the missed fires are recorded once, not run (past the 10-minute deadline).
        clock.set(Self.base.addingTimeInterval(3 * 3600 + 20 * 60))
        report = try a.tick()
        #expect(report.missed == ["hourly"] && executor.count == 1)
        // Within the deadline a missed fire runs once on return.
        clock.set(Self.base.addingTimeInterval(4 * 3600 + 5 * 60))
        report = try a.tick()
        #expect(report.ran == ["hourly"] && executor.count == 2)
        report = try a.tick()
        #expect(report.ran.isEmpty)
        // Manual run: trigger manual.
        let manual = try #require(try a.runNow(try a.store.snapshot().jobs[0]))
        #expect(manual.status == .success)
        #expect(try s.query("SELECT COUNT(*) FROM mt_job_runs WHERE trigger_type = 'manual'")[0][0].int64 == 1)
    }

    /// apply while a job runs: the run keeps going and is recorded; the new schedule applies after.
    @Test(arguments: StateBackend.available)
    func applyDuringARunKeepsTheRun(_ backend: StateBackend) throws {
        let s = try sandbox(backend, jobs: job("daily", schedule: "0 10 * * *"))
        let clock = SimulatedClock(Self.base.addingTimeInterval(-30))
        let executor = RecordingExecutor(clock: clock)
        executor.gate = DispatchSemaphore(value: 0)
        let a = try scheduler(s, clock: clock, executor: executor, owner: "runner-a")
        defer { a.store.connection.close() }
        try a.tick()
        clock.set(Self.base.addingTimeInterval(1))
        let done = DispatchSemaphore(value: 0)
        Thread {
            _ = try? a.tick(); done.signal()
        }.start()
        while executor.count == 0 { Thread.sleep(forTimeInterval: 0.01) }
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily", schedule: "0 12 * * *")))
        try s.apply()
        executor.gate!.signal()
        done.wait()
        let row = try s.query("SELECT cron_expression, last_run_status, lease_owner, next_run_at FROM mt_cron_jobs")[0]
        #expect(
            row["cron_expression"]?.string == "0 12 * * *" && row["last_run_status"]?.string == "success"
                && row["lease_owner"]?.isNull == true)
        #expect(try s.query("SELECT status FROM mt_job_runs")[0][0].string == "success")
        try a.tick()  // schedules the new fire
        let next = try s.query("SELECT next_run_at FROM mt_cron_jobs")[0][0]
        #expect(StateStore.date(next) == ISO8601DateFormatter().date(from: "2026-11-29T12:00:00Z"))
    }

    /// Failure and recovery alerts reach a local HTTP listener and a command, as JSON.
    @Test func alertsReachAWebhookAndACommand() throws {
        let received = temporaryFile("hook"), commandOut = temporaryFile("cmd"), environmentOut = temporaryFile("env"),
            handMade = temporaryFile("hand-made") + ".touched"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [
            "-c",
            """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    with open(sys.argv[1], 'ab') as f: f.write(body + b'\\n')
                    self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """, received,
        ]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice  // never hold the test runner's output open
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        var portText = ""
        while !portText.hasSuffix("\n") { portText += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self) }
        let port = Int(portText.trimmingCharacters(in: .whitespacesAndNewlines))!
        // The organization's file names a webhook; the command is the operator's (breakout.yaml).
        let s = try sandbox(
            .sqlite, jobs: job("daily", extra: "    alerts: {webhook: \"http://127.0.0.1:\(port)/hook\", on_recovery: true}\n"))
        let clock = SimulatedClock(Self.base)
        let executor = RecordingExecutor(clock: clock)
        executor.result = .failed
        let a = try scheduler(
            s, clock: clock, executor: executor, owner: "runner-a",
            operatorAlerts: Alerts(command: "cat >> \(commandOut); env >> \(environmentOut)", onRecovery: true))
        defer { a.store.connection.close() }
        // A command written into the row by hand is never run.
        let settings = try #require(try a.store.snapshot().jobs[0].settings)
        let forged = settings.replacingOccurrences(of: "\"alerts\":{", with: "\"alerts\":{\"command\":\"touch \(handMade)\",")
        #expect(forged != settings)
        _ = try a.store.connection.execute("UPDATE mt_cron_jobs SET settings = ?", [.text(forged)])
        #expect(try a.runNow(try a.store.snapshot().jobs[0])?.status == .failed)
        executor.result = .success
        #expect(try a.runNow(try a.store.snapshot().jobs[0])?.status == .success)
        #expect(try a.runNow(try a.store.snapshot().jobs[0])?.status == .success)  // no alert: nothing to recover from
        let hooks = try String(contentsOfFile: received, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(hooks.map { $0["event"] as? String } == ["failed", "recovered"])
        #expect(
            hooks[0]["organization"] as? String == "ansd" && hooks[0]["job"] as? String == "daily"
                && hooks[0]["status"] as? String == "failed")
        #expect(hooks[0]["run_id"] as? Int != nil && hooks[0]["trigger"] as? String == "manual")
        let commands = try String(contentsOfFile: commandOut, encoding: .utf8)
        #expect(commands.contains("\"event\":\"failed\"") && commands.contains("\"event\":\"recovered\""))
        #expect(!FileManager.default.fileExists(atPath: handMade))
        // The operator's command sees PATH and the BREAKOUT_ALERT_* variables, nothing of the runner's.
        let names = Set(
            try String(contentsOfFile: environmentOut, encoding: .utf8).split(separator: "\n").compactMap {
                $0.split(separator: "=").first.map(String.init)
            })
        #expect(names.subtracting(["PATH", "PWD", "SHLVL", "_", "OLDPWD"]).allSatisfy { $0.hasPrefix("BREAKOUT_ALERT_") }, "\(names)")
        #expect(names.contains("BREAKOUT_ALERT_JOB") && names.contains("BREAKOUT_ALERT_RUN_ID"))
    }

    /// A timeout stops the run at a chunk boundary and fails it.
    @Test func timeoutsStopTheRun() throws {
        let s = try sandbox(.sqlite, jobs: job("slow", schedule: "* * * * *", extra: "    timeout: 1s\n"))
        struct Slow: JobExecutor {
            func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
                let start = Date()
                while !stop(), Date().timeIntervalSince(start) < 20 { Thread.sleep(forTimeInterval: 0.05) }
                return JobOutcome(status: .success, output: "CENSUS: stopped at a chunk boundary")
            }
        }
        let a = Scheduler(store: StateStore(connection: try s.connectState()), owner: "r", executor: Slow(), leaseSeconds: 3)
        defer { a.store.connection.close() }
        let started = Date()
        let outcome = try #require(try a.runNow(try a.store.snapshot().jobs[0]))
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(outcome.status == .failed && outcome.output.hasPrefix("timed out after 1 s"))
    }
}

/// examples/multi-tenant as the guide deploys it — control tables and CSWeb's cases in one MariaDB
/// database — with its connections pointed at the local test servers, and every job run.
@Suite struct MultiTenantExampleTests {
    @Test(.enabled(if: StateBackend.available.contains(.mysql) && StateBackend.available.contains(.postgresql)))
    func everyJobOfTheExampleRuns() throws {
        let example = repository.appendingPathComponent("examples/multi-tenant")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-mt-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: example, to: dir)
        let keyring = try Keyring.load(keyFiles: [demoKeyFile], environment: [:])

        // CSWeb's database (cspro_* tables and the mt_* tables) in MariaDB; ANSD's data in PostgreSQL and MariaDB.
        let csweb = try StateBackend.mysql.fresh(), ansdPG = try StateBackend.postgresql.fresh(), ansdMy = try StateBackend.mysql.fresh()
        defer { StateBackend.mysql.drop(csweb); StateBackend.postgresql.drop(ansdPG); StateBackend.mysql.drop(ansdMy) }
        var cswebConfig = try ConnectionConfig.parse(url: csweb.url)
        cswebConfig.password = csweb.password
        let writer = CSWebDatabaseWriter(connection: try Databases.connect(cswebConfig))
        for name in ["RGPH", "SURVEY2024", "EHCVM"] { _ = try SyntheticCSWebSource.write(writer, cases: 60, dictionaryName: name) }
        writer.connection.close()

        func hostPort(_ url: String) -> (String, Int, String) {
            let c = try! ConnectionConfig.parse(url: url)
            return (c.host!, c.port!, c.database)
        }
        let password = try SecretValue.encrypt(csweb.password ?? "", with: keyring.primary!, scope: .settings)
        let ansdPassword = try SecretValue.encrypt(csweb.password ?? "", with: keyring.primary!, scope: .organization("ansd"))
        var settings = try String(contentsOf: dir.appendingPathComponent("breakout.yaml"), encoding: .utf8)
        for line in settings.split(separator: "\n") where line.contains("url: mysql://") || line.contains("password: enc:v") {
            let indent = line.prefix { $0 == " " }
            settings = settings.replacingOccurrences(
                of: String(line),
                with: line.contains("url:")
                    ? "\(indent)url: \(csweb.url.replacingOccurrences(of: "breakout@", with: "breakout@"))"
                    : "\(indent)password: \(password)")
        }
        try Data(settings.utf8).write(to: dir.appendingPathComponent("breakout.yaml"))
        var ansd = try String(contentsOf: dir.appendingPathComponent("organizations/ansd.yaml"), encoding: .utf8)
        let (pgHost, pgPort, pgDB) = hostPort(ansdPG.url), (myHost, myPort, myDB) = hostPort(ansdMy.url)
        for (old, new) in [
            ("host: postgres", "host: \(pgHost)"), ("port: 5432", "port: \(pgPort)"), ("database: ansd_data", "database: \(pgDB)"),
            ("username: ansd_user", "username: breakout"), ("sslmode: prefer", "sslmode: disable"),
            ("host: mysql", "host: \(myHost)"), ("port: 3306", "port: \(myPort)"), ("database: ansd_mysql", "database: \(myDB)"),
            ("username: ansd_backup", "username: breakout"),
        ] {
            ansd = ansd.replacingOccurrences(of: old, with: new)
        }
        for line in ansd.split(separator: "\n") where line.contains("password: enc:v") {
            ansd = ansd.replacingOccurrences(of: String(line), with: "    password: \(ansdPassword)")
        }
        try Data(ansd.utf8).write(to: dir.appendingPathComponent("organizations/ansd.yaml"))
        // INSD's include names records of its real dictionary; the generated one calls the household record HOUSING.
        let insdPath = dir.appendingPathComponent("organizations/insd.yaml")
        try Data(
            try String(contentsOf: insdPath, encoding: .utf8).replacingOccurrences(
                of: "include: [HOUSEHOLD, PERSON]", with: "include: [HOUSING, PERSON]"
            ).utf8
        ).write(to: insdPath)

        let env = ["BREAKOUT_KEY_FILE": demoKeyFile]
        var r = try runCLI(["apply", "-c", dir.path, "--auto-approve"], environment: env)
        #expect(r.status == 0, "\(r.err)")
        r = try runCLI(["jobs", "list", "-c", dir.path], environment: env)
        #expect(r.out.contains("ansd/breakout-quotidien") && r.out.contains("insd/breakout-weekdays"))
        for job in ["ansd/breakout-quotidien", "ansd/breakout-rgph", "ansd/export-mensuel"] {
            r = try runCLI(["jobs", "run", job, "-c", dir.path, "--wait"], environment: env)
            #expect(r.status == 0, "\(job): \(r.out) \(r.err)")
        }
        // ANSD's PostgreSQL now holds both dictionaries, every level.
        var pgConfig = try ConnectionConfig.parse(url: ansdPG.url)
        pgConfig.password = ansdPG.password
        let pg = try Databases.connect(pgConfig)
        defer { pg.close() }
        for schema in ["rgph", "survey2024"] {
            let people = try pg.query("SELECT COUNT(*) FROM \"\(schema)\".\"person\"").first?[0].int64 ?? 0
            #expect(people > 100, "\(schema).person has \(people) rows")
        }
        let state = try Databases.connect(cswebConfig)
        defer { state.close() }
        let statuses = try state.query(
            "SELECT j.job_name, j.last_run_status FROM mt_cron_jobs j JOIN mt_organizations o ON o.id = j.organization_id WHERE o.organization_name = 'ansd'"
        )
        #expect(statuses.allSatisfy { $0[1].string == "success" }, "\(statuses)")
        let exports = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("data/ansd/exports").path).sorted()
        #expect(exports == ["RGPH", "SURVEY2024"])
        // INSD's job writes to SQL Server, which this machine does not have: it runs and fails with the reason.
        r = try runCLI(["jobs", "run", "insd/breakout-weekdays", "-c", dir.path, "--wait"], environment: env)
        #expect(r.status == 1)
        let insd = try state.query("SELECT last_run_status, last_run_output FROM mt_cron_jobs WHERE job_name = 'breakout-weekdays'")[0]
        #expect(insd[0].string == "failed")
        #expect(insd[1].string?.contains("sqlserver") == true, "\(insd[1].string ?? "")")
    }
}
