import Config
import DatabaseDriver
import Drivers
import Foundation
import SQL
import Secrets
import Testing

@testable import Reconcile
@testable import State

@Suite struct ReconcileTests {
    static let backends = StateBackend.available

    /// plan → apply → plan over a sequence of config edits, on every state backend.
    @Test(arguments: backends)
    func planApplyPlanRoundTrips(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        let pw1 = try s.encrypt("first-secret")
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: pw1), jobs: job("daily")))
        try s.write(
            "organizations/insd.yaml",
            org(
                "insd", dictionaries: ["EHCVM"],
                connections: pgConnection("pg", password: try s.encrypt("first-secret", organization: "insd"), database: "insd_data")))

        var plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 5 to add, 0 to change, 0 to destroy.")
        #expect(!plan.text().contains("first-secret"))
        #expect(plan.text().contains("password: (sensitive)"))
        try s.apply()
        #expect(try s.plan().hasChanges == false)
        // Passwords are stored encrypted under the state key.
        let stored = try s.query("SELECT password_encrypted FROM mt_database_connections").compactMap { $0[0].string }
        #expect(stored.count == 2 && stored.allSatisfy { $0.hasPrefix("enc:v2:") && !$0.contains("first-secret") })
        #expect(try SecretValue.decrypt(stored[0], with: s.keyring, scope: .organization("ansd")) == "first-secret")

        // Add an organization.
        try s.write(
            "organizations/ined.yaml",
            org(
                "ined", dictionaries: ["SURVEY"],
                connections: pgConnection("pg", password: try s.encrypt("first-secret", organization: "ined"), database: "ined_data"),
                jobs: job("weekly", schedule: "@weekly")))
        plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 3 to add, 0 to change, 0 to destroy.")
        try s.apply()
        #expect(try s.plan().hasChanges == false)

        // Rename a job: one delete, one create.
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: pw1), jobs: job("nightly")))
        plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 1 to add, 0 to change, 1 to destroy.")
        try s.apply()

        // Change a schedule: a field-level update; run-time columns untouched, next_run_at reset.
        try s.execute(
            "UPDATE mt_cron_jobs SET last_run_status = 'success', last_run_output = 'ok', lease_owner = 'runner-1' WHERE job_name = 'nightly'"
        )
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: pw1), jobs: job("nightly", schedule: "30 3 * * *")))
        plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 0 to add, 1 to change, 0 to destroy.")
        #expect(
            plan.changes.first?.fields.map(\.field) == ["command", "cron_expression"]
                || plan.changes.first?.fields.map(\.field) == ["cron_expression"])
        try s.apply()
        let row = try s.query(
            "SELECT cron_expression, last_run_status, last_run_output, lease_owner, next_run_at FROM mt_cron_jobs WHERE job_name = 'nightly'"
        )[0]
        #expect(row["cron_expression"]?.string == "30 3 * * *")
        #expect(
            row["last_run_status"]?.string == "success" && row["last_run_output"]?.string == "ok"
                && row["lease_owner"]?.string == "runner-1")
        #expect(row["next_run_at"]?.isNull == true)

        // The same password encrypted again (another IV): no change, nothing rewritten.
        let before = try s.query("SELECT password_encrypted FROM mt_database_connections ORDER BY id").map { $0[0] }
        try s.write(
            "organizations/ansd.yaml",
            org(
                "ansd", connections: pgConnection("pg", password: try s.encrypt("first-secret")),
                jobs: job("nightly", schedule: "30 3 * * *")))
        #expect(try s.plan().hasChanges == false)
        // A new password: one sensitive change.
        try s.write(
            "organizations/ansd.yaml",
            org(
                "ansd", connections: pgConnection("pg", password: try s.encrypt("rotated-secret")),
                jobs: job("nightly", schedule: "30 3 * * *")))
        plan = try s.plan()
        #expect(
            plan.changes.count == 1 && plan.changes[0].fields.map(\.field) == ["password_encrypted"] && plan.changes[0].fields[0].sensitive)
        try s.apply()
        let after = try s.query("SELECT password_encrypted FROM mt_database_connections ORDER BY id").map { $0[0] }
        #expect(after[0] != before[0] && after[1] == before[1])

        // Deleting a connection a job still uses is refused by validation, nothing applied.
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: "", jobs: job("nightly", schedule: "30 3 * * *", extra: "    connection: pg\n")))
        #expect(throws: StateError.self) { try s.load() }

        // Delete an organization; with run history it needs allowDestroy.
        try s.write(
            "organizations/ansd.yaml",
            org(
                "ansd", connections: pgConnection("pg", password: try s.encrypt("rotated-secret")),
                jobs: job("nightly", schedule: "30 3 * * *")))
        try s.execute("UPDATE mt_cron_jobs SET last_run_at = '2026-11-28 02:00:00' WHERE job_name = 'weekly'")
        try s.remove("organizations/ined.yaml")
        plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 0 to add, 0 to change, 3 to destroy.")
        #expect(plan.changes.first { $0.kind == .organization }?.destructive == true)
        #expect(throws: StateError.self) { try s.apply() }
        #expect(try s.query("SELECT COUNT(*) FROM mt_organizations")[0][0].int64 == 3)
        try s.apply(ApplyOptions(allowDestroy: true))
        #expect(try s.query("SELECT COUNT(*) FROM mt_organizations")[0][0].int64 == 2)
        #expect(try s.plan().hasChanges == false)
        // Every apply is logged.
        #expect(try s.query("SELECT COUNT(*) FROM mt_apply_log")[0][0].int64 == 6)
    }

    /// The guide's monitoring queries run unchanged on what apply writes.
    @Test(arguments: backends)
    func guideQueriesRunUnchanged(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        try s.write(
            "organizations/ansd.yaml",
            org(
                "ansd", connections: pgConnection("pg", password: try s.encrypt("x")),
                jobs: job("daily") + job("hourly", schedule: "@hourly")))
        try s.apply()
        try s.execute(
            "UPDATE mt_cron_jobs SET last_run_status = 'failed', last_run_at = '2026-11-28 02:00:00', last_run_output = 'CENSUS: connection refused' WHERE job_name = 'daily'"
        )
        let active = try s.query(
            """
            SELECT
              cj.job_name,
              o.organization_name,
              cj.last_run_at,
              cj.last_run_status
            FROM mt_cron_jobs cj
            JOIN mt_organizations o ON o.id = cj.organization_id
            WHERE cj.is_active = 1
            ORDER BY cj.last_run_at DESC;
            """)
        #expect(Set(active.compactMap { $0["job_name"]?.string }) == ["daily", "hourly"])
        #expect(active.allSatisfy { $0["organization_name"]?.string == "ansd" })
        let failed = try s.query(
            """
            SELECT * FROM mt_cron_jobs
            WHERE last_run_status = 'failed'
            ORDER BY last_run_at DESC
            LIMIT 10;
            """)
        #expect(failed.count == 1 && failed[0]["job_name"]?.string == "daily")
        let id = failed[0]["id"]!.int64!
        let output = try s.query("SELECT last_run_output FROM mt_cron_jobs WHERE id = \(id);")
        #expect(output.first?[0].string == "CENSUS: connection refused")
    }

    /// Two applies at once: one waits for the other's lock and then finds nothing to do.
    @Test(arguments: backends)
    func racingAppliesSerialize(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        try s.write(
            "organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily")))
        _ = try s.reconciler().store.migrate()
        let results = Results()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let r = try s.reconciler()
                    defer { r.store.connection.close() }
                    let plan = try r.apply(options: ApplyOptions(lockTimeout: 30)) { _ in
                        Thread.sleep(forTimeInterval: 0.5); return true
                    }!.plan
                    results.add(plan.summaryLine)
                } catch {
                    results.add("error: \(error)")
                }
            }.start()
        }
        group.wait()
        #expect(
            results.all.sorted() == [
                "No changes. The control tables match the configuration.", "Plan: 3 to add, 0 to change, 0 to destroy.",
            ], "\(results.all)")
        #expect(try s.query("SELECT COUNT(*) FROM mt_cron_jobs")[0][0].int64 == 1)
        #expect(try s.query("SELECT COUNT(*) FROM mt_locks")[0][0].int64 == 0)

        // Without waiting, the second one fails with the holder's name.
        let holder = try s.reconciler()
        try holder.store.acquireLock("apply", owner: "ops@deploy-1", timeout: 0, staleAfter: 600)
        #expect {
            try s.apply(ApplyOptions(lockTimeout: 0))
        } throws: { error in
            "\(error)".contains("locked by ops@deploy-1")
        }
        // A lock older than its expiry (its holder died) is taken over.
        try s.execute("UPDATE mt_locks SET expires_at = '2000-01-01 00:00:00'")
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily", schedule: "@daily")))
        #expect(try s.apply(ApplyOptions(lockTimeout: 0)).summaryLine == "Plan: 0 to add, 1 to change, 0 to destroy.")
    }

    /// A saved plan is refused when the state or the config changed since it was made.
    @Test(arguments: backends)
    func stalePlansAreRefused(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        try s.write(
            "organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily")))
        try s.apply()
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily", schedule: "@daily")))
        let saved = try JSONDecoder().decode(Plan.self, from: JSONEncoder().encode(try s.plan()))
        // Someone changes the tables meanwhile.
        try s.execute("UPDATE mt_organizations SET display_name = 'changed by hand'")
        #expect { try s.apply(saved: saved) } throws: { "\($0)".contains("control tables changed since this plan was made") }
        // A fresh plan applies; a plan made before a config edit is refused.
        let fresh = try s.plan()
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily", schedule: "@weekly")))
        #expect { try s.apply(saved: fresh) } throws: { "\($0)".contains("configuration changed") }
        let current = try s.plan()
        try s.apply(saved: current)
        #expect(try s.plan().hasChanges == false)
    }

    /// Rows made by hand (the guide's INSERT) are left alone, listed, imported, and adopted without data change.
    @Test(arguments: backends)
    func handMadeRowsImportAndAdopt(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x"))))
        try s.apply()
        let now = backend == .mysql ? "NOW()" : "CURRENT_TIMESTAMP"
        try s.execute(
            """
            INSERT INTO mt_cron_jobs (
              organization_id, job_name, job_type, command,
              cron_expression, is_active, created_time, modified_time
            ) VALUES (
              1,
              'Breakout quotidien ANSD',
              'breakout',
              'php /var/www/html/bin/console csweb:process-cases-by-dict --threads=3 --maxCasesPerChunk=1000',
              '0 2 * * *',
              1,
              \(now),
              \(now)
            )
            """)
        let rowBefore = try s.query("SELECT * FROM mt_cron_jobs WHERE job_name = 'Breakout quotidien ANSD'")[0]
        var plan = try s.plan()
        #expect(plan.hasChanges == false)
        #expect(plan.unmanaged.map(\.name) == ["Breakout quotidien ANSD"])
        try s.apply()  // nothing to do; the row stays
        #expect(try s.query("SELECT COUNT(*) FROM mt_cron_jobs")[0][0].int64 == 1)

        let r = try s.reconciler()
        let output = try Importer(reconciler: r, masterKey: s.keyring.primary!).unmanaged()
        r.store.connection.close()
        #expect(output.rows == 1)
        let yaml = try #require(output.files["organizations/ansd.yaml"])
        #expect(yaml.contains("name: \"Breakout quotidien ANSD\""))
        try s.write("organizations/ansd.yaml", yaml)
        plan = try s.plan()
        #expect(plan.changes.count == 1 && plan.changes[0].action == .adopt && plan.changes[0].fields.isEmpty, "\(plan.text())")
        #expect(plan.summaryLine == "Plan: 0 to add, 1 to change, 0 to destroy.")
        try s.apply()
        #expect(try s.plan().hasChanges == false)
        let rowAfter = try s.query("SELECT * FROM mt_cron_jobs WHERE job_name = 'Breakout quotidien ANSD'")[0]
        for column in [
            "id", "organization_id", "job_name", "job_type", "command", "cron_expression", "is_active", "threads", "max_cases_per_chunk",
            "db_connection_id", "dictionaries", "time_zone", "settings",
        ] {
            #expect(rowAfter[column] == rowBefore[column], "\(column) changed on adoption")
        }
        #expect(rowAfter["managed_by"]?.string == "breakout")
    }

    /// `password_format: php-openssl` writes the layout the guide's PHP UI reads, with a plan warning.
    @Test(arguments: backends)
    func phpOpenSSLPasswordFormat(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        s.passwordFormat = "php-openssl"
        try s.writeSettings()
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("pa$$ wörd"))))
        let plan = try s.plan()
        #expect(plan.warnings.contains { $0.code == .unauthenticatedPasswordFormat && $0.message.contains("php-openssl") })
        try s.apply()
        let stored = try #require(try s.query("SELECT password_encrypted FROM mt_database_connections")[0][0].string)
        #expect(!SecretValue.isEncrypted(stored))
        #expect(try PHPOpenSSLValue.decrypt(stored, with: s.keyring) == "pa$$ wörd")
        #expect(try s.plan().hasChanges == false)
        if backend == .sqlite, FileManager.default.fileExists(atPath: "/usr/bin/php") {
            let key = try String(contentsOfFile: demoKeyFile, encoding: .utf8).split(separator: "\n").first {
                !$0.hasPrefix("#") && !$0.isEmpty
            }!
            let php = """
                $v = base64_decode($argv[1]); $iv = substr($v, 0, 16); $ct = substr($v, 16);
                echo openssl_decrypt($ct, 'aes-256-cbc', base64_decode($argv[2]), 0, $iv);
                """
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/php")
            p.arguments = ["-r", php, stored, String(key).trimmingCharacters(in: .whitespaces)]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(String(decoding: data, as: UTF8.self) == "pa$$ wörd")
        }
    }

    /// `import --out` never replaces a file with other content unless --force; it says what it
    /// would write and writes nothing. (Passwords are encrypted afresh each time, so a second
    /// import of a file with a password is other content too.)
    @Test func importNeverOverwritesWithoutForce() throws {
        let s = try Sandbox(.sqlite)
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x"))))
        try s.apply()
        try s.execute(
            """
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, is_active, created_time, modified_time)
            VALUES (1, 'fait main', 'breakout', 'php bin/console csweb:process-cases-by-dict', '0 2 * * *', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
            """)
        var env = s.environment
        env["BREAKOUT_KEY_FILE"] = demoKeyFile
        let out = s.dir.appendingPathComponent("imported")
        let file = out.appendingPathComponent("organizations/ansd.yaml")
        var r = try runCLI(["import", "-c", s.dir.path, "--out", out.path], environment: env)
        #expect(r.status == 0 && r.out.contains("wrote \(file.path)"), "\(r.err)")
        let first = try String(contentsOf: file, encoding: .utf8)  // as imported
        #expect(first.contains("fait main"))
        // Edited since: refused, nothing written, and it says what it would write.
        try Data("# reviewed by hand\n".utf8).write(to: file)
        r = try runCLI(["import", "-c", s.dir.path, "--out", out.path], environment: env)
        #expect(r.status == 1 && r.err.contains("exist with other content: ansd.yaml; nothing was written"), "\(r.err)")
        #expect(r.err.contains("--force") && r.out.contains("would write \(file.path)"))
        #expect(try String(contentsOf: file, encoding: .utf8) == "# reviewed by hand\n")
        r = try runCLI(["import", "-c", s.dir.path, "--out", out.path, "--force"], environment: env)
        #expect(r.status == 0 && r.out.contains("wrote \(file.path)"), "\(r.err)")
        let forced = try String(contentsOf: file, encoding: .utf8)
        #expect(forced.contains("fait main") && !forced.contains("reviewed by hand"))
    }

    /// With `state.key_file`, passwords in the tables are under the state key, not the config's key;
    /// plan compares them by value, so nothing is rewritten on the next plan.
    @Test func stateKeyDiffersFromTheConfigKey() throws {
        let s = try Sandbox(.sqlite)
        let stateKey = try MasterKey.generate()
        let keyPath = s.dir.appendingPathComponent("state.key").path
        try Data((stateKey.base64 + "\n").utf8).write(to: URL(fileURLWithPath: keyPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        try s.write("breakout.yaml", "version: 1\nstate:\n  url: \(s.state.url)\n  key_file: state.key\n")
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("shared"))))
        var env = s.environment
        env["BREAKOUT_KEY_FILE"] = demoKeyFile
        var r = try runCLI(["apply", "-c", s.dir.path, "--auto-approve"], environment: env)
        #expect(r.status == 0, "\(r.err)")
        let stored = try #require(try s.query("SELECT password_encrypted FROM mt_database_connections")[0][0].string)
        #expect(try SecretValue.kid(of: stored) == stateKey.kid)
        #expect(try SecretValue.decrypt(stored, with: Keyring([stateKey]), scope: .organization("ansd")) == "shared")
        r = try runCLI(["plan", "-c", s.dir.path, "--detailed-exitcode", "--offline"], environment: env)
        #expect(r.status == 0, "\(r.out)")
    }

    /// apply records the config directory's git commit when it is a checkout.
    @Test func applyLogRecordsTheGitCommit() throws {
        let s = try Sandbox(.sqlite)
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x"))))
        for args in [
            ["init", "-q"], ["-c", "user.email=t@example.org", "-c", "user.name=t", "add", "-A"],
            ["-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "config"],
        ] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", s.dir.path] + args
            try p.run()
            p.waitUntilExit()
        }
        try s.apply()
        let row = try s.query("SELECT applied_by, host, config_digest, git_commit, summary FROM mt_apply_log")[0]
        #expect(row["git_commit"]?.string?.count == 40)
        #expect(row["summary"]?.string == "Plan: 2 to add, 0 to change, 0 to destroy.")
        #expect(row["config_digest"]?.string?.count == 16)
    }

    /// Job settings are one typed value: the JSON apply stores is the same bytes as before the
    /// type existed, a hand-made row's wrong types read as defaults, and the YAML default of
    /// starting_deadline is the runner's.
    @Test func jobSettingsRoundTripAndDefaults() throws {
        let s = JobSettings(
            timeout: 60, retries: 2, include: ["PERSON"], output: "exports",
            alerts: .init(webhook: "https://hooks.example/x", onRecovery: true))
        #expect(
            s.stored == #"{"alerts":{"on_recovery":true,"webhook":"https:\/\/hooks.example\/x"},"exclude":[],"include":["PERSON"],"#
                + #""output":"exports","retries":2,"starting_deadline":3600,"timeout":60}"#)
        #expect(JobSettings(stored: s.stored) == s)
        #expect(JobSettings().stored == #"{"exclude":[],"include":[],"retries":0,"starting_deadline":3600}"#)
        let odd = JobSettings(stored: #"{"retries":"three","include":[1,"A"],"alerts":{"on_recovery":"yes"},"timeout":null}"#)
        #expect(odd.retries == 0 && odd.include == ["A"] && odd.timeout == nil && odd.alerts?.onRecovery == false)
        #expect(JobSettings(stored: "not json") == JobSettings())
        let sandbox = try Sandbox(.sqlite)
        try sandbox.write(
            "organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try sandbox.encrypt("x")), jobs: job("j")))
        #expect(try sandbox.load().organizations[0].jobs[0].startingDeadline == JobSettings.defaultStartingDeadline)
    }

    /// An older schema (version 1, as the PHP UI made it, with rows) is upgraded in place.
    @Test(arguments: backends)
    func olderSchemaUpgradesInPlace(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        let c = try s.connectState()
        defer { c.close() }
        for case .statement(let statement) in ControlTables.migrations[0].steps { try c.execute(statement) }
        try c.execute("INSERT INTO mt_organizations (organization_name, display_name, is_active) VALUES ('legacy', 'Legacy office', 1)")
        let store = StateStore(connection: c)
        #expect(try store.version() == 0)
        #expect(try store.migrate() == [1, 2, 3])
        #expect(try store.version() == 3)
        #expect(try store.migrate() == [])
        #expect(try c.query("SELECT organization_name, managed_by FROM mt_organizations")[0]["organization_name"]?.string == "legacy")
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x"))))
        let plan = try s.plan()
        #expect(plan.unmanaged.map(\.name) == ["legacy"])
    }
}

final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// The CLI built next to this test binary.
func breakoutBinary() -> URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("breakout")
}

@discardableResult
func runCLI(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = breakoutBinary()
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite struct ApplyProcessTests {
    /// An apply killed in the middle of its transaction leaves the previous state intact; once its
    /// lock is stale, the next apply takes it over and applies everything.
    @Test(arguments: StateBackend.available)
    func killedApplyLeavesThePreviousState(_ backend: StateBackend) throws {
        let s = try Sandbox(backend)
        try s.write(
            "organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: job("daily")))
        var env = s.environment
        env["BREAKOUT_KEY_FILE"] = demoKeyFile
        try runCLI(["apply", "-c", s.dir.path, "--auto-approve"], environment: env)
        let before = try s.query("SELECT job_name, cron_expression FROM mt_cron_jobs").map { $0.values.map { $0.string ?? "" } }
        try s.write(
            "organizations/ansd.yaml",
            org(
                "ansd", connections: pgConnection("pg", password: try s.encrypt("y")), jobs: job("daily", schedule: "@daily") + job("extra")
            ))

        var slow = env
        slow["BREAKOUT_TEST_PAUSE_IN_APPLY"] = "30"
        slow["BREAKOUT_LOCK_STALE_AFTER"] = "2s"
        let p = Process()
        p.executableURL = breakoutBinary()
        p.arguments = ["apply", "-c", s.dir.path, "--auto-approve"]
        p.environment = ProcessInfo.processInfo.environment.merging(slow) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until it holds the lock (it pauses inside its transaction), then kill it.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? s.query("SELECT COUNT(*) FROM mt_locks"))?.first?[0].int64 != 1 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(try s.query("SELECT job_name, cron_expression FROM mt_cron_jobs").map { $0.values.map { $0.string ?? "" } } == before)

        // The dead apply's lock blocks until it is stale (2 s here), then the next apply wins.
        Thread.sleep(forTimeInterval: 2.5)
        var fast = env
        fast["BREAKOUT_LOCK_STALE_AFTER"] = "2s"
        let r = try runCLI(["apply", "-c", s.dir.path, "--auto-approve"], environment: fast)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("Apply complete! 1 added, 2 changed, 0 destroyed."), "\(r.out)")
        let plan = try runCLI(["plan", "-c", s.dir.path, "--detailed-exitcode"], environment: env)
        #expect(plan.status == 0 && plan.out.contains("No changes."))
    }

    @Test func planAndApplyFromTheCommandLine() throws {
        let s = try Sandbox(.sqlite)
        try s.write(
            "organizations/ansd.yaml",
            org("ansd", connections: pgConnection("pg", password: try s.encrypt("very-secret")), jobs: job("daily")))
        var env = s.environment
        env["BREAKOUT_KEY_FILE"] = demoKeyFile
        var r = try runCLI(["plan", "-c", s.dir.path, "--detailed-exitcode"], environment: env)
        #expect(r.status == 2)
        #expect(r.out.contains("Plan: 3 to add, 0 to change, 0 to destroy."))
        #expect(!r.out.contains("very-secret"))
        #expect(!FileManager.default.fileExists(atPath: String(s.state.url.dropFirst("sqlite:".count))), "plan wrote the state store")
        r = try runCLI(["plan", "-c", s.dir.path, "--format", "json"], environment: env)
        let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        #expect(json?["format_version"] as? Int == 2)
        #expect((json?["summary"] as? [String: Int])?["add"] == 3)
        r = try runCLI(["plan", "-c", s.dir.path, "--format", "markdown"], environment: env)
        #expect(r.out.contains("<details><summary><b>ansd</b>: 3 to add, 0 to change, 0 to destroy</summary>"))
        // Unattended apply without --auto-approve is refused.
        r = try runCLI(["apply", "-c", s.dir.path], environment: env)
        #expect(r.status == 1 && r.err.contains("pass --auto-approve"))
        // A saved plan applies without a prompt.
        let planFile = s.dir.appendingPathComponent("plan.json").path
        r = try runCLI(["plan", "-c", s.dir.path, "--out", planFile], environment: env)
        r = try runCLI(["apply", "-c", s.dir.path, planFile], environment: env)
        #expect(r.status == 0 && r.out.contains("Apply complete! 3 added, 0 changed, 0 destroyed."), "\(r.err)")
        r = try runCLI(["apply", "-c", s.dir.path, planFile], environment: env)
        #expect(r.status == 1 && r.err.contains("changed since this plan was made"))
        r = try runCLI(["plan", "-c", s.dir.path, "--detailed-exitcode"], environment: env)
        #expect(r.status == 0)
        // db test ORG/CONNECTION takes the connection from the config.
        r = try runCLI(["db", "test", "ansd/pg", "-c", s.dir.path], environment: env)
        #expect(r.status == 1 && r.err.contains("cannot use ansd/pg") && !r.err.contains("very-secret"))
        r = try runCLI(["db", "test", "ansd/nope", "-c", s.dir.path], environment: env)
        #expect(r.status == 1 && r.err.contains("has no connection \"nope\""))
    }

    /// Plan files: format 2 round-trips its coded warnings, format 1 files (string warnings) still
    /// load for apply, and a newer format is refused rather than misread.
    @Test func planFileFormats() throws {
        let warning = Plan.Warning(.jobsOverlap, "both break out CENSUS", location: "organizations/demo.yaml:17:11")
        let plan = Plan(stateDigest: "s", configDigest: "c", changes: [], unmanaged: [], warnings: [warning])
        let data = try JSONEncoder().encode(plan)
        let decoded = try JSONDecoder().decode(Plan.self, from: data)
        #expect(decoded.warnings == [warning] && decoded.formatVersion == 2)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["format_version"] = 1
        object["warnings"] = ["jobs overlap"]
        let v1 = try JSONDecoder().decode(Plan.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(v1.warnings.isEmpty && v1.stateDigest == "s" && v1.formatVersion == 1)
        object["format_version"] = 3
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Plan.self, from: try JSONSerialization.data(withJSONObject: object))
        }
    }

    /// Text and markdown show the organization file's keys and values, not the columns.
    @Test func changesReadInYAMLTerms() throws {
        func field(_ f: String, _ old: String?, _ new: String?) -> Plan.FieldChange {
            Plan.FieldChange(field: f, old: old, new: new, sensitive: false)
        }
        var change = Plan.Change(
            action: .update, kind: .job, organization: "ansd", name: "rgph",
            fields: [
                field("is_active", "1", "0"), field("dictionaries", #"["RGPH"]"#, #"["RGPH","EHCVM"]"#),
                field("cron_expression", "@hourly", "0 2 * * *"), field("command", "breakout process-cases …", "breakout …"),
                field("threads", "3", "5"),
                field(
                    "settings", #"{"exclude":[],"include":[],"retries":0,"starting_deadline":3600}"#,
                    #"{"exclude":["DEATHS"],"include":[],"retries":2,"starting_deadline":3600,"timeout":5400}"#),
                Plan.FieldChange(field: "password_encrypted", old: nil, new: nil, sensitive: true),
            ], destructive: false)
        change.location = "organizations/ansd.yaml:29"
        let plan = Plan(stateDigest: "s", configDigest: "c", changes: [change], unmanaged: [], warnings: [])
        let text = plan.text()
        #expect(
            text == """
                Organization ansd:
                  ~ job ansd/rgph   (organizations/ansd.yaml:29)
                      active: true → false
                      dictionaries: [RGPH] → [RGPH, EHCVM]
                      schedule: "@hourly" → 0 2 * * *
                      threads: 3 → 5
                      exclude: [] → [DEATHS]
                      retries: 0 → 2
                      timeout: null → 1h30m
                      password: (sensitive, changed)

                Plan: 0 to add, 1 to change, 0 to destroy.

                """, "\(text)")
        let md = plan.markdown()
        #expect(md.contains("-     active: true\n+     active: false\n"), "\(md)")
        #expect(!md.contains("is_active") && !md.contains("settings"))
        // Connections: engines by name, options one key each; values YAML would misread are quoted.
        let connection = Plan.Change(
            action: .create, kind: .connection, organization: "ansd", name: "pg",
            fields: [
                field("db_type", nil, "pdo_pgsql"), field("port", nil, "5432"), field("username", nil, "yes"),
                field("connection_options", nil, #"{"naming":"sql","sslmode":"require"}"#),
            ], destructive: false)
        #expect(
            Plan(stateDigest: "s", configDigest: "c", changes: [connection], unmanaged: [], warnings: []).yamlChanges(connection).map {
                "\($0.key): \($0.new ?? "")"
            } == ["type: postgresql", "port: 5432", "username: \"yes\"", "naming: sql", "options.sslmode: require"])
    }

    @Test func markdownStaysUnderTheCommentLimit() throws {
        var changes: [Plan.Change] = []
        for o in 0..<60 {
            for j in 0..<40 {
                changes.append(
                    Plan.Change(
                        action: .create, kind: .job, organization: "org\(o)", name: "job-\(j)",
                        fields: (0..<10).map {
                            Plan.FieldChange(field: "field\($0)", old: nil, new: String(repeating: "x", count: 30), sensitive: false)
                        },
                        destructive: false))
            }
        }
        let plan = Plan(stateDigest: "s", configDigest: "c", changes: changes, unmanaged: [], warnings: [])
        let md = plan.markdown()
        #expect(md.count < 60_000)
        #expect(md.contains("Plan: 2400 to add, 0 to change, 0 to destroy."))
        #expect(md.contains("not shown") || md.contains("left out"))
    }
}

/// CSWeb's legacy per-dictionary settings, with passwords as MySQL's AES_ENCRYPT(pw, 'cspro').
@Suite struct LegacyImportTests {
    @Test(.enabled(if: StateBackend.available.contains(.mysql)))
    func legacySettingsBecomeAnOrganization() throws {
        let s = try Sandbox(.mysql)
        try s.execute(
            "CREATE TABLE cspro_dictionaries (id smallint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, dictionary_name varchar(191) NOT NULL UNIQUE, dictionary_label varchar(255) NOT NULL, dictionary_full_content longtext NOT NULL)"
        )
        try s.execute(
            """
            CREATE TABLE cspro_dictionaries_schema (dictionary_id smallint unsigned NOT NULL PRIMARY KEY, host_name varchar(191) NOT NULL,
              schema_name varchar(191) NOT NULL, schema_user_name varchar(255) NOT NULL, schema_password varbinary(255) NOT NULL,
              additional_config text, map_info text)
            """)
        try s.execute(
            "INSERT INTO cspro_dictionaries (dictionary_name, dictionary_label, dictionary_full_content) VALUES ('RGPH', 'Census', '{}'), ('EHCVM', 'Survey', '{}')"
        )
        try s.execute(
            """
            INSERT INTO cspro_dictionaries_schema VALUES
              (1, 'db.example:3307', 'rgph_breakout', 'rgph_user', AES_ENCRYPT('Le mot de passe!', 'cspro'), '{"processCasesOptions":{"include":["PERSON","HOUSING"],"exclude":[]}}', NULL),
              (2, 'db.example', 'ehcvm_breakout', 'ehcvm_user', AES_ENCRYPT('autre', 'cspro'), NULL, NULL)
            """)
        let r = try s.reconciler()
        defer { r.store.connection.close() }
        let output = try Importer(reconciler: r, masterKey: s.keyring.primary!).legacy(from: try s.connectState(), organization: "csweb")
        #expect(output.rows == 2)
        let yaml = try #require(output.files["organizations/csweb.yaml"])
        #expect(!yaml.contains("Le mot de passe!"))
        try s.write("organizations/csweb.yaml", yaml)
        let configuration = try s.load()
        let o = try #require(configuration.organizations.first)
        #expect(o.dictionaries.map(\.value) == ["EHCVM", "RGPH"])
        let rgph = try #require(o.connections.first { $0.name.value == "rgph-mysql" })
        #expect(rgph.host == "db.example" && rgph.port == 3307 && rgph.database == "rgph_breakout" && rgph.username == "rgph_user")
        #expect(try Resolver(configuration, keyring: s.keyring, environment: s.environment).plaintext(rgph.password!) == "Le mot de passe!")
        let job = try #require(o.jobs.first { $0.dictionaries == ["RGPH"] })
        #expect(job.include == ["PERSON", "HOUSING"] && job.connection == "rgph-mysql" && !job.isActive)
        // And apply takes it as it is.
        try s.apply()
        #expect(try s.plan().hasChanges == false)
    }
}
