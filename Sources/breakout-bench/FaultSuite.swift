import Breakout
import CSPro
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL
import Verification

// The fault-injection suite (issue 9): the real `breakout` binary, real servers, faults injected
// from outside, every destination compared with the generated source's manifest.
//
//   breakout-bench faults [--cases N] [--kills K] [--seed S] [--only NAME]
//
// Needs BREAKOUT_TEST_POSTGRES_URL, BREAKOUT_TEST_MYSQL_URL, BREAKOUT_TEST_PASSWORD and
// BREAKOUT_TEST_RESTART (scripts/test-servers.sh writes them); under CI=true a missing server is a
// failure. Prints one line per scenario and `N passed, N failed`; exits 1 when anything failed.

struct ScenarioFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ScenarioFailure(message()) }
}

/// One destination database made for the suite (PostgreSQL or MariaDB database, or SQLite file),
/// with a configuration folder whose organization breaks the source out into it.
final class Workspace {
    enum Kind: String { case postgresql = "PostgreSQL", mysql = "MariaDB", sqlite = "SQLite" }
    let kind: Kind
    let dir: URL
    let admin: ConnectionConfig?
    var destination: ConnectionConfig
    let dictionary: CSProDictionary
    var sourceURL: String
    let bin: String
    /// The control tables: SQLite in the folder, or a PostgreSQL database (`stateOnServer`).
    var stateConfig: ConnectionConfig
    let stateAdmin: ConnectionConfig?

    init(
        _ kind: Kind, source: String, dictionary: CSProDictionary, bin: String, sourceURL: String? = nil, job: String = "",
        connections: String = "", stateOnServer: Bool = false
    ) throws {
        self.kind = kind
        self.dictionary = dictionary
        self.bin = bin
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-faults-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("organizations"), withIntermediateDirectories: true)
        self.sourceURL = sourceURL ?? "sqlite:\(source)"
        let env = ProcessInfo.processInfo.environment
        let database = "faults_\(UInt32.random(in: 0...UInt32.max))"
        switch kind {
        case .sqlite:
            admin = nil
            // Organization f's files live in data_root/f/ (data_root: data).
            destination = ConnectionConfig(engine: .sqlite, database: dir.appendingPathComponent("data/f/dest.db").path)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("data/f"), withIntermediateDirectories: true)
        case .postgresql, .mysql:
            let url = kind == .postgresql ? env["BREAKOUT_TEST_POSTGRES_URL"] : env["BREAKOUT_TEST_MYSQL_URL"]
            guard let url else { throw ScenarioFailure("\(kind.rawValue) is not available (its URL is not set; run through make test)") }
            let a = try ConnectionConfig.parse(url: url)
            admin = a
            destination = a
            destination.database = database
        }
        var stateYAML = "url: sqlite:.breakout/state.db"
        var stateConfig = ConnectionConfig(engine: .sqlite, database: dir.appendingPathComponent(".breakout/state.db").path)
        var stateAdmin: ConnectionConfig?
        if stateOnServer {
            guard let url = env["BREAKOUT_TEST_POSTGRES_URL"] else {
                throw ScenarioFailure("PostgreSQL is not available for the state store")
            }
            let admin = try ConnectionConfig.parse(url: url)
            let name = "faults_state_\(UInt32.random(in: 0...UInt32.max))"
            let c = try Databases.connect(admin)
            defer { c.close() }
            try c.execute("CREATE DATABASE \(name)")
            // The suite's servers commit asynchronously; the state store's commits must survive
            // the restarts the runner scenarios inject, as they would on a durable server.
            try c.execute("ALTER DATABASE \(name) SET synchronous_commit = on")
            stateAdmin = admin
            stateConfig = admin
            stateConfig.database = name
            stateYAML = "url: postgresql://\(admin.user!)@\(admin.host!):\(admin.port!)/\(name)\n  password: ${env:BREAKOUT_TEST_PASSWORD}"
        }
        self.stateConfig = stateConfig
        self.stateAdmin = stateAdmin
        try createDatabase()
        let connection: String
        switch kind {
        case .sqlite: connection = "type: sqlite\n    database: dest.db"
        case .postgresql, .mysql:
            connection =
                "type: \(kind == .postgresql ? "postgresql" : "mysql")\n    host: \(destination.host!)\n    port: \(destination.port!)\n"
                + "    database: \(database)\n    username: \(destination.user!)\n    password: ${env:BREAKOUT_TEST_PASSWORD}"
        }
        try """
        version: 1
        state:
          \(stateYAML)
        source:
          type: csweb
          url: \(self.sourceURL)\(self.sourceURL.hasPrefix("mysql") ? "\n  password: ${env:BREAKOUT_TEST_PASSWORD}" : "")
        defaults: {threads: 2, max_cases_per_chunk: 100, time_zone: UTC}
        data_root: data

        """.write(to: dir.appendingPathComponent("breakout.yaml"), atomically: true, encoding: .utf8)
        try """
        organization: f
        name: Fault injection
        dictionaries: [\(dictionary.name)]
        connections:
          - name: dest
            \(connection)
            default: true
        \(connections)
        jobs:
          - name: j
            type: breakout
            schedule: "@hourly"
            retries: 1
        \(job)
        """.write(to: dir.appendingPathComponent("organizations/f.yaml"), atomically: true, encoding: .utf8)
    }

    func createDatabase() throws {
        guard let admin else { return }
        let c = try Databases.connect(admin)
        defer { c.close() }
        try c.execute(
            kind == .postgresql
                ? "CREATE DATABASE \(destination.database)"
                : "CREATE DATABASE \(destination.database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    }

    /// Empties the destination (a new database; a new file).
    func reset() throws {
        destroyDestination()
        try createDatabase()
    }

    func destroyDestination() {
        if let admin, let c = try? Databases.connect(admin) {
            _ = try? c.execute(
                kind == .postgresql
                    ? "DROP DATABASE IF EXISTS \(destination.database) WITH (FORCE)" : "DROP DATABASE IF EXISTS \(destination.database)")
            c.close()
        } else {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: destination.database + suffix) }
        }
    }

    func destroy() {
        destroyDestination()
        if let stateAdmin, let c = try? Databases.connect(stateAdmin) {
            _ = try? c.execute("DROP DATABASE IF EXISTS \(stateConfig.database) WITH (FORCE)")
            c.close()
        }
        try? FileManager.default.removeItem(at: dir)
    }

    /// The master key `apply` encrypts the destination's password with in the control tables.
    let masterKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    var env: [String: String] {
        ["BREAKOUT_TEST_PASSWORD": ProcessInfo.processInfo.environment["BREAKOUT_TEST_PASSWORD"] ?? "", "BREAKOUT_MASTER_KEY": masterKey]
    }

    func breakout(_ args: [String], extraEnv: [String: String] = [:], timeout: Double = 300) throws -> CommandResult {
        try run(bin, args + ["-c", dir.path], env: env.merging(extraEnv) { $1 }, timeout: timeout)
    }

    func spawn(_ args: [String], extraEnv: [String: String] = [:]) throws -> Child {
        try start(bin, args + ["-c", dir.path], env: env.merging(extraEnv) { $1 })
    }

    func processCases(_ extra: [String] = []) throws -> CommandResult { try breakout(["process-cases", "--org", "f"] + extra) }

    var schema: BreakoutSchema { get throws { try BreakoutSchema(dictionary: dictionary, dialect: destination.engine.dialect) } }

    func connect() throws -> any DatabaseConnection { try Databases.connect(destination) }

    func digests() throws -> [String: TableDigest] {
        let c = try connect()
        defer { c.close() }
        return try Manifest.digests(c, try schema)
    }

    /// Cases committed so far (0 while the tables do not exist).
    func committedCases() -> Int {
        guard let c = try? connect() else { return 0 }
        defer { c.close() }
        guard let s = try? schema, let row = try? c.query(.select(.count(from: s.cases.name))).first else { return 0 }
        return Int(row[0].int64 ?? 0)
    }

    /// Decoding failures recorded in breakout_errors: case key → reason.
    func errors() throws -> [String: String] {
        let c = try connect()
        defer { c.close() }
        var out: [String: String] = [:]
        for row in try c.query(.select(Select(from: try schema.errors.name, columns: ["case_key", "reason"]))) {
            out[row[0].string ?? "?"] = row[1].string ?? ""
        }
        return out
    }

    /// The number of tables in the destination database.
    func tableCount() throws -> Int {
        let c = try connect()
        defer { c.close() }
        switch kind {
        case .postgresql:
            return Int(
                try c.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
                    .first?[0].int64 ?? -1)
        case .mysql:
            return Int(try c.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").first?[0].int64 ?? -1)
        case .sqlite: return Int(try c.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").first?[0].int64 ?? -1)
        }
    }

    func state() throws -> any DatabaseConnection { try Databases.connect(stateConfig) }
}

/// A copy of the suite's generated source that a scenario may change.
struct SourceCopy {
    var path: String
    var contents: SyntheticCSWebSource.Contents
    init(_ original: String, _ contents: SyntheticCSWebSource.Contents) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("faults-source-\(UUID().uuidString.prefix(8)).db").path
        try FileManager.default.copyItem(atPath: original, toPath: path)
        self.contents = contents
    }
    func writer() throws -> CSWebDatabaseWriter {
        CSWebDatabaseWriter(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: path)))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func runFaultSuite() throws {
    let cases = option("--cases", 1500)
    let kills = option("--kills", 20)
    var generator = SystemRandomNumberGenerator()
    let seed = UInt64(option("--seed", Int(UInt32.random(in: 0...UInt32.max, using: &generator))))
    var random = SplitMix(seed: seed)
    let only = stringOption("--only")
    let environment = ProcessInfo.processInfo.environment
    let ci = environment["CI"] == "true"
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    let bin = me.deletingLastPathComponent().appendingPathComponent("breakout").path
    guard FileManager.default.isExecutableFile(atPath: bin) else {
        say("the breakout binary is not built next to breakout-bench (\(bin)); run `swift build` first")
        exit(2)
    }
    say("fault injection: \(cases) cases, \(kills) kills, seed \(seed) (rerun the same moments with --seed \(seed))")

    // The source: the two-level survey, one corrupt blob per 1,000 cases, 4-byte UTF-8 in names and notes.
    let sourcePath = FileManager.default.temporaryDirectory.appendingPathComponent("faults-source-\(getpid()).db").path
    let contents = try generateSource(
        ConnectionConfig(engine: .sqlite, database: sourcePath),
        .init(shape: .survey, cases: cases, corruptEvery: 1000))
    defer { try? FileManager.default.removeItem(atPath: sourcePath) }
    let manifest = Manifest(contents)
    let dictionary = contents.dictionary
    let corruptKeys = Set(contents.corrupt.map { contents.shape.makeCase($0).key })

    var passed = 0, failed = 0
    func scenario(_ name: String, _ body: () throws -> String) {
        if let only, !only.split(separator: ",").contains(where: { name.contains($0) }) { return }
        let started = Date()
        do {
            let detail = try body()
            passed += 1
            say(String(format: "PASS  %@ (%.1f s) — %@", name, Date().timeIntervalSince(started), detail))
        } catch {
            failed += 1
            say(String(format: "FAIL  %@ (%.1f s) — %@", name, Date().timeIntervalSince(started), "\(error)"))
        }
    }
    func exact(_ w: Workspace, _ m: Manifest = manifest) throws {
        let d = m.differences(try w.digests())
        try require(d.isEmpty, "destination differs from the manifest: " + d.joined(separator: "; "))
    }
    let servers: [Workspace.Kind] = [.postgresql, .mysql].filter { kind in
        let present = environment[kind == .postgresql ? "BREAKOUT_TEST_POSTGRES_URL" : "BREAKOUT_TEST_MYSQL_URL"] != nil
        if !present {
            if ci {
                failed += 1; say("FAIL  \(kind.rawValue) server: its URL is not set (under CI a missing server is a failure)")
            } else {
                say("skip  \(kind.rawValue): no server URL (run through make test)")
            }
        }
        return present
    }

    // Clean runs: every valid case arrives, the corrupt ones are listed with their reason.
    var cleanSeconds: [Workspace.Kind: Double] = [:]
    for kind in servers + [.sqlite] {
        scenario("clean run, 1 corrupt blob per 1,000, 4-byte UTF-8 → \(kind.rawValue)") {
            let w = try Workspace(kind, source: sourcePath, dictionary: dictionary, bin: bin)
            defer { w.destroy() }
            let started = Date()
            let r = try w.processCases()
            cleanSeconds[kind] = Date().timeIntervalSince(started)
            try require(r.status == 0, "exit \(r.status): \(r.stderr)")
            try exact(w)
            let errors = try w.errors()
            try require(Set(errors.keys) == corruptKeys, "breakout_errors lists \(errors.keys.sorted()), expected \(corruptKeys.sorted())")
            try require(errors.values.allSatisfy { !$0.isEmpty }, "a failure has no reason")
            try require(
                r.stdout.contains("\(corruptKeys.count) failed") && (corruptKeys.isEmpty || r.stderr.contains("could not be decoded")),
                "the run does not say that cases failed: \(r.text)")
            let c = try w.connect()
            defer { c.close() }
            let emoji = try c.query(.select(Select(from: try w.schema.notes.name, columns: ["content"]))).compactMap { $0[0].string }.filter
            { $0.contains("📞") }.count
            try require(emoji == contents.notes.filter { !contents.corrupt.contains($0) }.count, "4-byte UTF-8 notes: \(emoji) read back")
            return
                "\(manifest.decodable) cases, \(manifest.totalRows) rows = manifest; \(errors.count) corrupt listed (\(errors.values.first.map { String($0.prefix(60)) } ?? "-"))"
        }
    }

    // kill -9 at random moments; each time a rerun makes the destination exactly the manifest.
    let killKinds = servers.isEmpty ? [Workspace.Kind.sqlite] : servers + [.sqlite]
    for i in 0..<kills {
        let kind = killKinds[i % killKinds.count]
        scenario("kill -9 #\(i + 1) → \(kind.rawValue)") {
            let w = try Workspace(kind, source: sourcePath, dictionary: dictionary, bin: bin)
            defer { w.destroy() }
            let full = cleanSeconds[kind] ?? 2
            let delay = Double.random(in: 0.02...(full * 0.95), using: &random)
            let p = try w.spawn(["process-cases", "--org", "f"])
            Thread.sleep(forTimeInterval: delay)
            let killedMidRun = p.process.isRunning
            kill(p.pid, SIGKILL)
            _ = p.wait(timeout: 30)
            let committed = w.committedCases()
            let r = try w.processCases()
            try require(r.status == 0, "rerun exit \(r.status): \(r.stderr)")
            try exact(w)
            return String(
                format: "killed after %.2f s%@, %d cases committed; rerun = manifest", delay,
                killedMidRun ? "" : " (the run had already finished)", committed)
        }
    }

    // The runner and its run process killed mid-job (the host died): the lease expires, the run
    // is failed, the retry is exact.
    scenario("runner and its run killed -9 mid-job → lease expires, run failed, retry exact") {
        let w = try Workspace(servers.first ?? .sqlite, source: sourcePath, dictionary: dictionary, bin: bin)
        defer { w.destroy() }
        let apply = try w.breakout(["apply", "--auto-approve"])
        try require(apply.status == 0, "apply: \(apply.stderr)")
        let lease = ["BREAKOUT_LEASE_SECONDS": "2"]
        let p = try w.spawn(["jobs", "run", "f/j", "--wait"], extraEnv: lease)
        let deadline = Date().addingTimeInterval(60)
        while p.process.isRunning, w.committedCases() < cases / 5, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try require(p.process.isRunning, "the job finished before it could be killed")
        let children = runProcesses(of: p.pid)
        try require(children.count == 1, "the run is not one child process of the runner: \(children)")
        kill(p.pid, SIGKILL)
        for child in children { kill(child.pid, SIGKILL) }
        _ = p.wait(timeout: 30)
        Thread.sleep(forTimeInterval: 2.5)
        let lost = try w.breakout(["cron", "run"], extraEnv: lease)
        try require(lost.stdout.contains("runner was lost"), "cron run did not see the lost runner: \(lost.text)")
        let retry = try w.breakout(["cron", "run"], extraEnv: lease)
        try require(retry.stdout.contains("ran j"), "the retry did not run: \(retry.text)")
        try exact(w)
        let s = try w.state()
        defer { s.close() }
        let runs = try s.query("SELECT trigger_type, status FROM mt_job_runs ORDER BY id").map {
            "\($0[0].string ?? "")/\($0[1].string ?? "")"
        }
        try require(runs == ["manual/failed", "retry/success"], "runs: \(runs)")
        return "runs \(runs.joined(separator: ", ")); destination = manifest"
    }

    // SIGTERM: the daemon stops at a chunk boundary, exits 0, releases its lease; the rerun is exact.
    scenario("SIGTERM to the runner daemon mid-job → exit 0, lease released, rerun exact") {
        let w = try Workspace(servers.first ?? .sqlite, source: sourcePath, dictionary: dictionary, bin: bin)
        defer { w.destroy() }
        try require(try w.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        let s = try w.state()
        defer { s.close() }
        try s.execute("UPDATE mt_cron_jobs SET next_run_at = '\(SQLTimestamp.format(Date().addingTimeInterval(-1)))'")
        let p = try w.spawn(["run", "--max-sleep", "1"])
        let deadline = Date().addingTimeInterval(60)
        while p.process.isRunning, w.committedCases() < cases / 5, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try require(p.process.isRunning && w.committedCases() < manifest.decodable, "the job finished before SIGTERM")
        kill(p.pid, SIGTERM)
        let r = p.wait(timeout: 60)
        try require(!r.timedOut, "the daemon did not stop within 60 s")
        try require(r.status == 0 && !r.signaled, "exit \(r.status): \(r.stderr)")
        let lease = try s.query("SELECT lease_owner, last_run_status FROM mt_cron_jobs").first!
        try require(lease[0] == .null, "lease still held by \(lease[0])")
        try require(lease[1].string != "running", "the job still shows running")
        let committed = w.committedCases()
        let rerun = try w.processCases()
        try require(rerun.status == 0, "rerun exit \(rerun.status): \(rerun.stderr)")
        try exact(w)
        return "stopped with \(committed) cases committed, last run \(lease[1].string ?? "?"), lease released; rerun = manifest"
    }

    scenario("SIGTERM to process-cases mid-run → exit 0 at a chunk boundary, rerun exact") {
        let w = try Workspace(servers.last ?? .sqlite, source: sourcePath, dictionary: dictionary, bin: bin)
        defer { w.destroy() }
        let p = try w.spawn(["process-cases", "--org", "f"])
        let deadline = Date().addingTimeInterval(60)
        while p.process.isRunning, w.committedCases() < cases / 5, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try require(p.process.isRunning, "the run finished before SIGTERM")
        kill(p.pid, SIGTERM)
        let r = p.wait(timeout: 60)
        try require(r.status == 0 && !r.signaled, "exit \(r.status) (signal: \(r.signaled)): \(r.stderr)")
        try require(r.stdout.contains("stopped at a chunk boundary"), "the summary does not say it stopped: \(r.stdout)")
        let committed = w.committedCases()
        let rerun = try w.processCases()
        try require(rerun.status == 0, "rerun exit \(rerun.status): \(rerun.stderr)")
        try exact(w)
        return "stopped with \(committed) of \(manifest.decodable) cases; rerun = manifest"
    }

    // The destination server restarted in the middle of a run.
    if let restart = environment["BREAKOUT_TEST_RESTART"] {
        for kind in servers {
            scenario("\(kind.rawValue) restarted mid-run → clean failure or retry, rerun exact") {
                let w = try Workspace(kind, source: sourcePath, dictionary: dictionary, bin: bin)
                defer { w.destroy() }
                let p = try w.spawn(["process-cases", "--org", "f", "--max-cases-per-chunk", "50"])
                let deadline = Date().addingTimeInterval(60)
                while p.process.isRunning, w.committedCases() < cases / 4, Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
                try require(p.process.isRunning, "the run finished before the restart")
                // system(), not Process: the restarted server inherits the shell's descriptors, and
                // Foundation would wait for them to close before it saw the shell exit.
                let log = FileManager.default.temporaryDirectory.appendingPathComponent("faults-restart-\(getpid()).log").path
                let status = system("\(restart) \(kind == .postgresql ? "postgres" : "mariadb") >\(log) 2>&1 </dev/null")
                try require(status == 0, "restart failed (\(status)): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                let r = p.wait(timeout: 120)
                try require(!r.timedOut, "the run hung after the restart")
                try require(!r.signaled, "the run crashed (signal)")
                let outcome =
                    r.status == 0
                    ? "the run retried and finished"
                    : "the run failed cleanly: \(r.stderr.split(separator: "\n").first { $0.hasPrefix("error") }.map(String.init) ?? r.stderr.prefix(120).description)"
                try require(r.status == 0 || r.stderr.contains("error:"), "exit \(r.status) without an error message: \(r.text)")
                var rerun = try w.processCases()
                for _ in 0..<10 where rerun.status != 0 {
                    Thread.sleep(forTimeInterval: 1)
                    rerun = try w.processCases()
                }
                try require(rerun.status == 0, "rerun exit \(rerun.status): \(rerun.stderr)")
                try exact(w)
                return "\(outcome); rerun = manifest"
            }
        }
    } else {
        if ci { failed += 1 }
        say("\(ci ? "FAIL" : "skip")  server restart: BREAKOUT_TEST_RESTART is not set")
    }

    scenario("source server unreachable → clear failure, nothing written") {
        let w = try Workspace(
            servers.first ?? .sqlite, source: sourcePath, dictionary: dictionary, bin: bin,
            sourceURL: "mysql://breakout@127.0.0.1:1/cspro")
        defer { w.destroy() }
        let before = try w.tableCount()
        let r = try w.processCases()
        try require(r.status == 1 && !r.signaled, "exit \(r.status): \(r.text)")
        let message = r.stderr.split(separator: "\n").first { $0.hasPrefix("error") }.map(String.init) ?? ""
        try require(
            message.contains("127.0.0.1") || message.lowercased().contains("source"), "the error does not name the source: \(r.stderr)")
        try require(try w.tableCount() == before, "tables were created in the destination")
        return message
    }

    // A re-synced case whose new blob is corrupt keeps its previous rows.
    for kind in servers.prefix(1) + [.sqlite] {
        scenario("re-sync with a corrupt blob keeps the old rows → \(kind.rawValue)") {
            var source = try SourceCopy(sourcePath, contents)
            defer { source.remove() }
            let w = try Workspace(kind, source: source.path, dictionary: dictionary, bin: bin)
            defer { w.destroy() }
            try require(try w.processCases().status == 0, "first run failed")
            let deleted = Set(contents.deleted), corrupt = Set(contents.corrupt)
            let n = (1...cases).first { !deleted.contains($0) && !corrupt.contains($0) && $0 % 31 == 0 }!
            let key = contents.shape.makeCase(n).key
            let writer = try source.writer()
            try SyntheticCSWebSource.corruptResync(writer, &source.contents, case: n)
            let r = try w.processCases()
            try require(r.status == 0, "exit \(r.status): \(r.stderr)")
            try exact(w)
            let errors = try w.errors()
            try require(errors[key] != nil, "the corrupt re-sync of \(key) is not in breakout_errors")
            // Repaired: the new version replaces the old rows and the error goes.
            try SyntheticCSWebSource.resync(writer, &source.contents, cases: [n])
            writer.connection.close()
            let again = try w.processCases()
            try require(again.status == 0, "exit \(again.status): \(again.stderr)")
            try exact(w, Manifest(source.contents))
            try require(try w.errors()[key] == nil, "the error of \(key) was not cleared")
            return "case \(key) kept its rows and notes, error \"\(errors[key]!.prefix(50))\"; repaired on the next sync"
        }
    }

    // Any number of workers gives the same tables.
    for kind in servers {
        scenario("threads 1…8 give identical tables → \(kind.rawValue)") {
            let w = try Workspace(kind, source: sourcePath, dictionary: dictionary, bin: bin)
            defer { w.destroy() }
            var seconds: [String] = []
            for threads in 1...8 {
                try w.reset()
                let started = Date()
                let r = try w.processCases(["--threads", String(threads), "--max-cases-per-chunk", "64"])
                try require(r.status == 0, "threads \(threads): exit \(r.status): \(r.stderr)")
                do { try exact(w) } catch { throw ScenarioFailure("threads \(threads): \(error)") }
                seconds.append(String(format: "%.1f", Date().timeIntervalSince(started)))
            }
            return "all 8 = manifest (seconds: \(seconds.joined(separator: " ")))"
        }
    }

    // The runner's unattended life: one line per scenario. Clock skew needs faketime (CI installs it).
    // libfaketime preloaded into the runner itself (not the faketime wrapper, which would stand
    // between the suite and the runner's pid).
    let faketime = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ].first { FileManager.default.fileExists(atPath: $0) }
    if faketime == nil {
        if ci { failed += 1 }
        say("\(ci ? "FAIL" : "skip")  clock skew between two runners: faketime is not installed (apt-get install faketime)")
    }
    runnerFaultScenarios(
        RunnerFaultContext(
            source: sourcePath, dictionary: dictionary, bin: bin, cases: cases, manifest: manifest, servers: servers,
            restart: environment["BREAKOUT_TEST_RESTART"], faketime: faketime, exact: { try exact($0) }),
        scenario: scenario)

    for line in try badInputScenarios(bin: bin, servers: servers) {
        if let only, !only.split(separator: ",").contains(where: { line.name.contains($0) }) { continue }
        if line.passed { passed += 1 } else { failed += 1 }
        say("\(line.passed ? "PASS" : "FAIL")  \(line.name) — \(line.detail)")
    }

    say("\(passed) passed, \(failed) failed")
    if failed > 0 { exit(1) }
}

/// Deterministic random numbers for the kill moments (the seed is printed, so a failure can be replayed).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A line on standard output, written at once (the suite's lines appear as scenarios finish).
/// A line on standard output, written at once (not held in a buffer when the output is a file),
/// so that a long run can be followed with `tail -f`.
func say(_ line: String = "") { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
