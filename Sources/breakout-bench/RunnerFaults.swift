import CSPro
import DatabaseDriver
import Drivers
import Foundation
import SQL
import Verification

// The runner's unattended life (issue 17), in the fault-injection suite: a crash in one of two
// concurrent jobs, a broken organization file, overlapping jobs, the state store restarted
// mid-run and while the daemon idles, a daemon started with its store down, clock skew between
// two runners, SIGHUP/SIGPIPE/SIGINT/kill -9 of a follower, no runner at all.

struct RunnerFaultContext {
    let source: String
    let dictionary: CSProDictionary
    let bin: String
    let cases: Int
    let manifest: Manifest
    let servers: [Workspace.Kind]
    let restart: String?
    /// libfaketime's path, to preload into one runner.
    let faketime: String?
    let exact: (Workspace) throws -> Void
}

/// Run processes of `pid` (its children), with the job id each runs (`breakout run-job ID`).
func runProcesses(of pid: Int32) -> [(pid: Int32, job: Int64)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).compactMap { child in
        guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, Int32(fields[1]) == pid,
            let cmdline = FileManager.default.contents(atPath: "/proc/\(child)/cmdline")
        else { return nil }
        let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let i = args.firstIndex(of: "run-job"), i + 1 < args.count, let job = Int64(args[i + 1]) else { return nil }
        return (child, job)
    }
}

/// Waits (bounded) until `condition` holds; returns whether it did.
/// Pids and states (`/proc/PID/stat`'s third field) of `breakout run-job` processes whose command
/// line names `dir`: the diagnosis of a run left running.
func runJobProcesses(under dir: String) -> String {
    let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int32($0) != nil }
    let found = pids.compactMap { pid -> String? in
        guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let args = String(decoding: cmd, as: UTF8.self).split(separator: "\0")
        guard args.contains("run-job"), args.contains(where: { $0.contains(dir) }) else { return nil }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
        return "\(pid) (\(state))"
    }
    return found.isEmpty ? "none" : found.joined(separator: ", ")
}

func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}

extension Workspace {
    func jobID(_ name: String) throws -> Int64 {
        let s = try state()
        defer { s.close() }
        return try s.query(.select(Select(from: QualifiedName("mt_cron_jobs"), columns: ["id"], where: .equals("job_name", .text(name)))))
            .first?[0].int64 ?? -1
    }

    /// Every job due now (store time is this host's: the servers run here).
    func makeDue() throws {
        let s = try state()
        defer { s.close() }
        try s.execute(
            .update(Update(QualifiedName("mt_cron_jobs"), set: [Assignment("next_run_at", .timestamp(Date().addingTimeInterval(-1)))])))
    }

    /// The runs in mt_job_runs, oldest first: job name, status, output.
    func runs() throws -> [(job: String, status: String, output: String, failedCases: Int64)] {
        let s = try state()
        defer { s.close() }
        return try s.query(
            "SELECT j.job_name, r.status, r.output, r.failed_cases FROM mt_job_runs r JOIN mt_cron_jobs j ON j.id = r.job_id ORDER BY r.id"
        ).map {
            ($0[0].string ?? "", $0[1].string ?? "", $0[2].string ?? "", $0[3].int64 ?? 0)
        }
    }

    func leaseOwners() throws -> [String] {
        let s = try state()
        defer { s.close() }
        return try s.query("SELECT lease_owner FROM mt_cron_jobs WHERE lease_owner IS NOT NULL").compactMap { $0[0].string }
    }
}

/// Flushes the state store server's WAL (the suite's servers commit asynchronously): one commit
/// with synchronous_commit on waits for every earlier commit's record to be written.
func flushCommits(_ w: Workspace) throws {
    let s = try w.state()
    defer { s.close() }
    try s.execute("BEGIN")
    try s.execute("SET LOCAL synchronous_commit = on")
    _ = try s.query("SELECT txid_current()")
    try s.execute("COMMIT")
}

/// The scenarios' jobs are `@hourly`: one that straddles the top of the hour would see that real
/// fire as one run too many. Waits (at most 150 s) until the hour has passed when it is that close.
func awayFromTheHour() {
    let untilHour = 3600 - Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 3600)
    if untilHour < 150 { Thread.sleep(forTimeInterval: untilHour + 2) }
}

func runnerFaultScenarios(_ x: RunnerFaultContext, scenario outer: (String, () throws -> String) -> Void) {
    func scenario(_ name: String, _ body: () throws -> String) {
        withoutActuallyEscaping(body) { body in
            outer(name) {
                awayFromTheHour()
                return try body()
            }
        }
    }
    let slow = "    threads: 1\n    max_cases_per_chunk: 15\n"
    /// For scenarios that must act while a run is still going: 3 cases a chunk outlasts any poll.
    let slower = "    threads: 1\n    max_cases_per_chunk: 3\n"
    let second = "  - name: second\n    type: sqlite\n    database: second.db\n"
    let mainKind = x.servers.first ?? .sqlite

    scenario("crash (SIGSEGV) in one of two concurrent jobs → it is failed with the signal, the other exact, the daemon carries on") {
        let w = try Workspace(
            mainKind, source: x.source, dictionary: x.dictionary, bin: x.bin,
            job: "  - name: k\n    type: breakout\n    schedule: \"@hourly\"\n    connection: second\n\(slow)", connections: second)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        try w.makeDue()
        // The backtracer off: a SIGSEGV from outside then ends the process as a real crash does.
        let daemon = try w.spawn(["run", "--max-sleep", "1"], extraEnv: ["SWIFT_BACKTRACE": "enable=no"])
        defer { kill(daemon.pid, SIGKILL) }
        let k = try w.jobID("k")
        var victim: Int32?
        try require(
            eventually(60) {
                victim = runProcesses(of: daemon.pid).first { $0.job == k }?.pid
                return victim != nil
            }, "job k's run process never started")
        Thread.sleep(forTimeInterval: 0.3)
        kill(victim!, SIGSEGV)
        try require(
            eventually(120) { ((try? w.runs()) ?? []).filter { $0.status != "running" }.count == 2 },
            "the two runs did not both finish: \(((try? w.runs()) ?? []).map { "\($0.job) \($0.status)" })")
        let runs = try w.runs()
        let kRun = runs.first { $0.job == "k" }!, jRun = runs.first { $0.job == "j" }!
        try require(
            kRun.status == "failed" && kRun.output.contains("killed by signal 11 (SIGSEGV, a crash)"),
            "k: \(kRun.status) \(kRun.output.prefix(200))")
        try require(jRun.status == "success", "j: \(jRun.status) \(jRun.output.prefix(200))")
        try require(daemon.process.isRunning, "the daemon died with the crashed run")
        try require(try w.leaseOwners().isEmpty, "a lease is still held: \((try? w.leaseOwners()) ?? [])")
        kill(daemon.pid, SIGTERM)
        let r = daemon.wait(timeout: 60)
        try require(r.status == 0 && !r.signaled, "daemon exit \(r.status)")
        try x.exact(w)
        return "k: \(kRun.output.split(separator: ";").first ?? ""); j = manifest; the daemon stayed up and stopped cleanly"
    }

    scenario("a broken organization file → cron run and status carry on for the others; validate names the file") {
        let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        try "organization: broken\nname: [unclosed\n".write(
            to: w.dir.appendingPathComponent("organizations/broken.yaml"), atomically: true, encoding: .utf8)
        try w.makeDue()
        let tick = try w.breakout(["cron", "run"])
        try require(tick.status == 0 && tick.stdout.contains("ran j"), "cron run: \(tick.text)")
        let status = try w.breakout(["status"])
        try require(status.status == 0 && status.stdout.contains("f/j"), "status: \(status.text)")
        let validate = try w.breakout(["validate"])
        try require(validate.status == 1 && validate.stderr.contains("organizations/broken.yaml:"), "validate: \(validate.text)")
        try x.exact(w)
        return "cron run ran j, status exit 0; validate: \(validate.stderr.split(separator: "\n").first ?? "")"
    }

    scenario("two jobs overlap on one destination → the second is skipped, naming the first; validate warned") {
        // 3 cases a chunk: the first run lasts far longer than the second takes to start and wait
        // its 1 s (with 15, a slow start of the second could find the first finished: both succeed).
        let w = try Workspace(
            mainKind, source: x.source, dictionary: x.dictionary, bin: x.bin,
            job: slower + "  - name: k\n    type: breakout\n    schedule: \"@hourly\"\n" + slower)
        defer { w.destroy() }
        let validate = try w.breakout(["validate"])
        try require(validate.stderr.contains("both break out \(x.dictionary.name)"), "validate did not warn: \(validate.text)")
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        try w.makeDue()
        let tick = try w.breakout(["cron", "run"], extraEnv: ["BREAKOUT_DESTINATION_WAIT": "1"])
        try require(tick.status == 0, "cron run: \(tick.text)")
        let runs = try w.runs()
        let skipped = runs.filter { $0.status == "skipped" }, done = runs.filter { $0.status == "success" }
        try require(skipped.count == 1 && done.count == 1, "runs: \(runs.map { "\($0.job) \($0.status)" })")
        try require(skipped[0].output.hasPrefix("destination busy: f/\(done[0].job) run "), "skip reason: \(skipped[0].output)")
        try x.exact(w)
        return skipped[0].output.split(separator: ";").first.map(String.init) ?? ""
    }

    if let restart = x.restart, x.servers.contains(.postgresql) {
        scenario("state store (PostgreSQL) restarted mid-run → the run's real outcome is recorded") {
            let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, job: slower, stateOnServer: true)
            defer { w.destroy() }
            try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
            let p = try w.spawn(["jobs", "run", "f/j", "--wait"], extraEnv: ["BREAKOUT_LEASE_SECONDS": "30"])
            try require(eventually(60) { w.committedCases() > 30 }, "the run did not start")
            // The test servers run without durability (fsync and synchronous_commit off): a
            // flush first, so the immediate restart loses no commit made before it.
            try flushCommits(w)
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("faults-restart-\(getpid()).log").path
            let status = system("\(restart) postgres >\(log) 2>&1 </dev/null")
            try require(status == 0, "restart failed (\(status))")
            let during = p.process.isRunning ? "the run was still going when the store came back" : "the run ended during the outage"
            let r = p.wait(timeout: 180)
            try require(!r.timedOut && r.status == 0, "follower exit \(r.status): \(r.stderr.suffix(400))")
            let runs = try w.runs()
            try require(runs.map(\.status) == ["success"], "runs: \(runs.map { "\($0.status): \($0.output.prefix(120))" })")
            try require(try w.leaseOwners().isEmpty, "the lease is still held")
            try x.exact(w)
            return "\(during); success recorded, lease released, destination = manifest"
        }

        scenario("state store restarted while the daemon idles → it reconnects and runs the next fire") {
            let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, stateOnServer: true)
            defer { w.destroy() }
            try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
            let daemon = try w.spawn(["run", "--max-sleep", "1"])
            defer { kill(daemon.pid, SIGKILL) }
            Thread.sleep(forTimeInterval: 2)
            try flushCommits(w)
            let status = system("\(restart) postgres >/dev/null 2>&1 </dev/null")
            try require(status == 0, "restart failed (\(status))")
            try require(daemon.process.isRunning, "the daemon exited when the store went away")
            try require(eventually(30) { (try? w.makeDue()) != nil }, "the store did not come back")
            try require(
                eventually(90) { ((try? w.runs()) ?? []).contains { $0.status == "success" } },
                "no run after the restart: \((try? w.runs()) ?? [])")
            kill(daemon.pid, SIGTERM)
            let r = daemon.wait(timeout: 60)
            try require(r.status == 0, "daemon exit \(r.status): \(r.stderr.suffix(300))")
            try x.exact(w)
            let said = r.stderr.split(separator: "\n").first { $0.contains("re-established") || $0.contains("reachable again") }
            return "the daemon stayed up and ran the next fire"
                + (said.map { " (" + ($0.components(separatedBy: ": ").dropFirst().first ?? "").prefix(60) + ")" } ?? "")
        }
    }

    scenario("daemon started while its state store is down → waits and says why, stops on SIGTERM") {
        let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin)
        defer { w.destroy() }
        let yaml = w.dir.appendingPathComponent("breakout.yaml")
        let text = try String(contentsOf: yaml, encoding: .utf8).replacingOccurrences(
            of: "url: sqlite:.breakout/state.db",
            with: "url: postgresql://breakout@127.0.0.1:1/nowhere")
        try text.write(to: yaml, atomically: true, encoding: .utf8)
        let daemon = try w.spawn(["run"])
        Thread.sleep(forTimeInterval: 3)
        try require(daemon.process.isRunning, "the daemon exited instead of waiting for its store")
        kill(daemon.pid, SIGTERM)
        let r = daemon.wait(timeout: 30)
        try require(r.status == 0 && !r.signaled, "exit \(r.status)")
        let said = r.stderr.split(separator: "\n").first { $0.contains("state store not reachable") }
        try require(said != nil, "it did not say why it waits: \(r.stderr)")
        return String(said!.prefix(110))
    }

    if let faketime = x.faketime, x.servers.contains(.postgresql) {
        scenario("two runners, one 5 minutes ahead → store time: no live run declared lost, one run per fire") {
            let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, job: slow, stateOnServer: true)
            defer { w.destroy() }
            try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
            let lease = ["BREAKOUT_LEASE_SECONDS": "4"]
            let honest = try w.spawn(["run", "--max-sleep", "1"], extraEnv: lease)
            defer { kill(honest.pid, SIGKILL) }
            // Through /usr/bin/env, which execs the runner (same pid): preloaded straight into the
            // Swift binary by a parent without libfaketime, libfaketime loses its arguments.
            let ahead = try start(
                "/usr/bin/env", [w.bin, "run", "--max-sleep", "1", "-c", w.dir.path],
                env: w.env.merging(lease.merging(["LD_PRELOAD": faketime, "FAKETIME": "+5m"]) { $1 }) { $1 })
            defer { kill(ahead.pid, SIGKILL) }
            Thread.sleep(forTimeInterval: 2)
            try w.makeDue()
            try require(eventually(120) { ((try? w.runs()) ?? []).contains { $0.status != "running" } }, "the run did not finish")
            Thread.sleep(forTimeInterval: 2)
            let runs = try w.runs()
            kill(honest.pid, SIGTERM)
            kill(ahead.pid, SIGTERM)
            let skewed = ahead.wait(timeout: 60)
            _ = honest.wait(timeout: 60)
            try require(runs.count == 1 && runs[0].status == "success", "runs: \(runs.map { "\($0.status): \($0.output.prefix(100))" })")
            try require(
                skewed.stderr.contains("ahead of the state store's"),
                "the skewed runner did not log its clock (exit \(skewed.status)): \(skewed.text.suffix(300))")
            try x.exact(w)
            return "one run, success, none lost; the runner ahead logged its clock"
        }
    }

    scenario("SIGHUP and SIGPIPE to a follower → the run finishes; SIGINT → stopped, cause first") {
        let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, job: slow)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        var p = try w.spawn(["jobs", "run", "f/j", "--wait"])
        try require(eventually(60) { w.committedCases() > 30 }, "the run did not start")
        kill(p.pid, SIGHUP)
        for child in runProcesses(of: p.pid) { kill(child.pid, SIGHUP) }
        kill(p.pid, SIGPIPE)
        var r = p.wait(timeout: 120)
        try require(r.status == 0 && !r.signaled, "follower exit \(r.status) signaled \(r.signaled)")
        var runs = try w.runs()
        try require(runs.last?.status == "success", "run: \(runs.last.map { "\($0.status) \($0.output.prefix(100))" } ?? "none")")
        try require(
            runs.last?.failedCases == Int64(x.manifest.corrupt),
            "failed cases \(runs.last?.failedCases ?? -1), expected \(x.manifest.corrupt)")
        try x.exact(w)
        try w.reset()
        p = try w.spawn(["jobs", "run", "f/j", "--wait"])
        try require(eventually(60) { w.committedCases() > 30 }, "the second run did not start")
        kill(p.pid, SIGINT)
        r = p.wait(timeout: 60)
        runs = try w.runs()
        let first = runs.last?.output.split(separator: "\n").first.map(String.init) ?? ""
        try require(r.status == 1 && first.hasPrefix("stopped: the runner was asked to stop"), "exit \(r.status); first line: \(first)")
        return "HUP+PIPE: success with \(x.manifest.corrupt) failed cases counted; INT: \(first.prefix(60))"
    }

    scenario("kill -9 of a follower → its run stops at a chunk boundary and is recorded, never left running") {
        // 3 cases a chunk: the run lasts far longer than the poll that sees it start, so the kill
        // lands mid-run. (With 15 a slow poll could see the child finish first; the parent then
        // dies before recording the outcome, a case the next runner's lease recovery handles.)
        let w = try Workspace(
            .sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, job: slower)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        let p = try w.spawn(["jobs", "run", "f/j", "--wait"])
        try require(eventually(60) { w.committedCases() > 30 }, "the run did not start")
        kill(p.pid, SIGKILL)
        _ = p.wait(timeout: 10)
        let atKill = w.committedCases()
        try require(
            atKill < x.cases - x.manifest.corrupt, "the run had finished before the kill (\(atKill) cases): the scenario tests nothing")
        try require(
            eventually(30) { ((try? w.runs()) ?? []).last?.status == "failed" },
            "the run stayed \(((try? w.runs()) ?? []).last?.status ?? "?") (\(atKill) cases at the kill, \(w.committedCases()) now; "
                + "run-job processes alive: \(runJobProcesses(under: w.dir.path)))")
        let run = try w.runs().last!
        try require(run.output.hasPrefix("stopped: the process that started this run"), "output: \(run.output.prefix(200))")
        try require(eventually(10) { ((try? w.leaseOwners()) ?? ["?"]).isEmpty }, "the lease is still held")
        let again = try w.breakout(["jobs", "run", "f/j", "--wait"])
        try require(again.status == 0, "Play after the kill: \(again.text.prefix(300))")
        try x.exact(w)
        return "recorded: \(run.output.prefix(70))…; Play works; destination = manifest"
    }

    // A full disk: the export's folder on a 64 KiB tmpfs (mounting one needs root; CI runs as root).
    if getuid() == 0 {
        scenario("full disk during an export → the run fails saying so, nothing is published, the next run and other jobs work") {
            let export = "  - name: e\n    type: export\n    schedule: \"@daily\"\n    output: exports\n"
            let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin, job: export)
            defer { w.destroy() }
            try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
            let exports = w.dir.appendingPathComponent("data/f/exports")
            try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
            let mount = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", exports.path])
            try require(mount.status == 0, "mount: \(mount.text)")
            var mounted = true
            defer { if mounted { _ = try? run("/bin/umount", ["-l", exports.path]) } }
            let full = try w.breakout(["jobs", "run", "f/e", "--wait"])
            try require(full.status == 1, "the export on a full disk exited \(full.status): \(full.text.suffix(300))")
            let run1 = try w.runs().last!
            try require(
                run1.status == "failed" && run1.output.contains("could not write") && run1.output.contains("nothing was published"),
                "run: \(run1.status) \(run1.output.prefix(300))")
            let left = FileManager.default.subpaths(atPath: exports.path) ?? []
            try require(left.allSatisfy { !$0.contains("/") }, "left on the full disk: \(left)")
            let other = try w.breakout(["jobs", "run", "f/j", "--wait"])
            try require(other.status == 0, "the breakout job after the full disk: \(other.text.suffix(300))")
            try x.exact(w)
            _ = try run("/bin/umount", [exports.path])
            mounted = false
            let again = try w.breakout(["jobs", "run", "f/e", "--wait"])
            try require(again.status == 0, "the export with room again: \(again.text.suffix(300))")
            let published = (FileManager.default.subpaths(atPath: exports.path) ?? []).filter { $0.hasSuffix("datapackage.json") }
            try require(published.count == 1, "published: \(published)")
            return "\(run1.output.split(separator: "\n").first.map { String($0.prefix(90)) } ?? "")…; then j exact, e published"
        }
    }

    scenario("no runner at all → status says so, names the overdue job and what to check") {
        let w = try Workspace(.sqlite, source: x.source, dictionary: x.dictionary, bin: x.bin)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        let s = try w.state()
        defer { s.close() }
        try s.execute(
            .update(Update(QualifiedName("mt_cron_jobs"), set: [Assignment("next_run_at", .timestamp(Date().addingTimeInterval(-600)))])))
        let never = try w.breakout(["status"])
        try require(
            never.stdout.hasPrefix("WARNING: no runner has ever run against these control tables"), "status: \(never.stdout.prefix(300))")
        try require(never.stdout.contains("OVERDUE") && never.stdout.contains("f/j"), "no overdue job: \(never.stdout)")
        _ = try w.breakout(["cron", "run"])
        try s.execute(
            .update(Update(QualifiedName("mt_runners"), set: [Assignment("last_tick_at", .timestamp(Date().addingTimeInterval(-3600)))])))
        let since = try w.breakout(["status", "--format", "json"])
        try require(since.stdout.contains("no runner has run since"), "json: \(since.stdout.prefix(400))")
        try require(never.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "status is wider than 80 columns")
        return "\(never.stdout.split(separator: "\n").first ?? "")"
    }
}
