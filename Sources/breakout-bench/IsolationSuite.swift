import Drivers
import Foundation
import SQL
import Secrets

// The isolation suite (issue 15, docs/security.md): every attack an organization file, a
// hand-made control-table row or a tenant's database server can make, replayed against the real
// `breakout` binary; each must end in a refusal or a held boundary. At the end, every output,
// every file written and what the alert command saw is searched for the runner's secrets.
//
//   breakout-bench isolation
//
// Run by `make test` after the fault-injection suite (it needs scripts/fake-mysql-server.py in the
// current directory and, for the credential scenarios, BREAKOUT_TEST_POSTGRES_URL,
// BREAKOUT_TEST_MYSQL_URL and BREAKOUT_TEST_PASSWORD). Prints one line per attack and
// `N passed, N failed`; exits 1 when anything failed.

/// A config tree with two organizations (ansd owns CENSUS, insd owns OTHER), the operator's key
/// file (0600), and the bundled CSWeb source.
final class Tenancy {
    let dir: URL
    let bin: String
    let key: String
    let keyFile: String
    /// Secrets the runner holds: none may appear anywhere an organization can see.
    let secrets: [String]
    var outputs: [String] = []

    init(bin: String) throws {
        self.bin = bin
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-isolation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("organizations"), withIntermediateDirectories: true)
        key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        keyFile = dir.appendingPathComponent("master.key").path
        try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile)
        secrets = [key, "operator-Pa55-\(UInt32.random(in: 0...UInt32.max))"]
        let source = FileManager.default.currentDirectoryPath + "/examples/quickstart/data/csweb-sample.db"
        try FileManager.default.copyItem(atPath: source, toPath: dir.appendingPathComponent("csweb.db").path)
        try settings()
        try organization(
            "ansd", dictionaries: ["CENSUS"], connections: "  - name: local\n    type: sqlite\n    database: ansd.db\n    default: true\n")
        try organization(
            "insd", dictionaries: ["OTHER"], connections: "  - name: local\n    type: sqlite\n    database: insd.db\n    default: true\n")
    }

    /// breakout.yaml; `extra` is appended (the operator's alerts, say).
    func settings(_ extra: String = "") throws {
        try write(
            "breakout.yaml",
            "version: 1\nstate:\n  url: sqlite:state.db\nsource:\n  type: csweb\n  url: sqlite:csweb.db\ndata_root: data\n" + extra)
    }

    func organization(_ slug: String, dictionaries: [String], connections: String, jobs: String = "", extra: String = "") throws {
        try write(
            "organizations/\(slug).yaml",
            "organization: \(slug)\nname: \(slug.uppercased())\ndictionaries: [\(dictionaries.joined(separator: ", "))]\n"
                + extra + "connections:\n" + connections + (jobs.isEmpty ? "" : "jobs:\n" + jobs))
    }

    func write(_ relative: String, _ text: String) throws {
        try Data(text.utf8).write(to: dir.appendingPathComponent(relative))
    }

    var environment: [String: String] {
        [
            "BREAKOUT_KEY_FILE": keyFile, "BREAKOUT_MASTER_KEY": "", "OPERATOR_PASSWORD": secrets[1], "PGPASSWORD": secrets[1],
            "MYSQL_PWD": secrets[1],
        ]
    }

    @discardableResult
    func breakout(_ args: [String], env extra: [String: String] = [:]) throws -> CommandResult {
        let r = try run(bin, args + ["-c", dir.path], env: environment.merging(extra) { $1 }, timeout: 120)
        outputs.append(r.text)
        return r
    }

    /// Runs SQL on the state store (a hand-made row).
    func state(_ sql: String) throws -> [Row] {
        let c = try Databases.connect(ConnectionConfig(engine: .sqlite, database: dir.appendingPathComponent("state.db").path))
        defer { c.close() }
        return try c.query(sql)
    }

    func destroy() { try? FileManager.default.removeItem(at: dir) }
}

/// scripts/fake-mysql-server.py: a hostile server on 127.0.0.1 that asks every statement for a file.
final class HostileMySQL {
    let child: Child
    let port: Int
    let log: String
    let stolen: String
    let secret = "STOLEN-\(UUID().uuidString)"

    init(mode: String = "infile") throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        log = base.path + ".jsonl"
        stolen = base.path + ".secret"
        try Data(secret.utf8).write(to: URL(fileURLWithPath: stolen))
        let portFile = base.path + ".port"
        child = try start(
            "/usr/bin/python3",
            [
                FileManager.default.currentDirectoryPath + "/scripts/fake-mysql-server.py", "--port-file", portFile,
                "--log", log, "--request-file", stolen, "--mode", mode, "--timeout", "300", "--max-connections", "500",
            ])
        var port: Int?
        for _ in 0..<200 where port == nil {
            Thread.sleep(forTimeInterval: 0.05)
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        guard let port else { throw ScenarioFailure("the fake MySQL server did not start") }
        self.port = port
    }

    var events: [[String: Any]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
    var requests: Int { events.filter { $0["event"] as? String == "infile_request" }.count }
    var bytes: Int { events.filter { $0["event"] as? String == "infile_data" }.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) } }

    func stop() {
        kill(child.pid, SIGKILL)
        _ = child.wait(timeout: 5)
    }
}

func runIsolationSuite() throws {
    let environment = ProcessInfo.processInfo.environment
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent().appendingPathComponent(
        "breakout"
    ).path
    guard FileManager.default.isExecutableFile(atPath: bin) else {
        say("the breakout binary is not built next to breakout-bench (\(bin)); run `swift build` first")
        exit(2)
    }
    var passed = 0, failed = 0
    func attack(_ name: String, _ body: () throws -> String) {
        do {
            let detail = try body()
            passed += 1
            say("PASS  \(name) — \(detail)")
        } catch {
            failed += 1
            say("FAIL  \(name) — \(error)")
        }
    }
    let t = try Tenancy(bin: bin)
    defer { t.destroy() }
    try require(t.breakout(["apply", "--auto-approve"]).status == 0, "the tenancy does not apply")
    /// A hand-made job row of insd; returns what its run said.
    func handMadeRun(
        _ name: String, dictionaries: String = "NULL", command: String = "NULL", connection: String = "NULL",
        type: String = "breakout", settings: String = "NULL"
    ) throws -> String {
        _ = try t.state(
            """
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, dictionaries, db_connection_id, settings,
                                      is_active, created_time, modified_time)
            VALUES ((SELECT id FROM mt_organizations WHERE organization_name = 'insd'), '\(name)', '\(type)', \(command), '0 2 * * *', \(dictionaries),
                    \(connection), \(settings), 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
            """)
        let r = try t.breakout(["jobs", "run", "insd/\(name)", "--wait"])
        try require(r.status != 0, "the run of \(name) succeeded")
        return try t.state("SELECT last_run_output FROM mt_cron_jobs WHERE job_name = '\(name)'").first?[0].string ?? ""
    }
    /// A hand-made connection row of insd; returns its id.
    func handMadeConnection(
        _ name: String, type: String, host: String? = nil, port: Int? = nil, database: String, password: String? = nil,
        options: String? = nil
    ) throws -> Int64 {
        func text(_ v: String?) -> String { v.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL" }
        _ = try t.state(
            """
            INSERT INTO mt_database_connections (organization_id, connection_name, db_type, host, port, database_name, username, password_encrypted,
                                                 connection_options, is_default, is_active, created_time, modified_time)
            VALUES ((SELECT id FROM mt_organizations WHERE organization_name = 'insd'), \(text(name)), \(text(type)), \(text(host)), \(port.map(String.init) ?? "NULL"),
                    \(text(database)), 'x', \(text(password)), \(text(options)), 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
            """)
        return try t.state("SELECT id FROM mt_database_connections WHERE connection_name = \(text(name))")[0][0].int64!
    }
    func refused(_ output: String, _ reason: String) throws -> String {
        try require(output.contains(reason), "expected \"\(reason)\", got: \(output.prefix(300))")
        return String(output.split(separator: "\n").first ?? "").prefix(140) + ""
    }
    func validateRefuses(_ org: String, _ text: String, _ reason: String) throws -> String {
        let path = "organizations/\(org).yaml"
        let before = try String(contentsOf: t.dir.appendingPathComponent(path), encoding: .utf8)
        defer { try? t.write(path, before) }
        try t.write(path, text)
        let r = try t.breakout(["validate"])
        try require(r.status == 1 && r.stderr.contains(reason), "validate: exit \(r.status): \(r.stderr.prefix(300))")
        return String(r.stderr.split(separator: "\n").first { $0.contains(reason) } ?? "").prefix(160) + ""
    }

    /// A tenancy whose ansd connection is the hostile server.
    func hostileTenancy(_ s: HostileMySQL, jobs: String = "") throws -> Tenancy {
        let hostile = try Tenancy(bin: bin)
        try hostile.organization(
            "ansd", dictionaries: ["CENSUS"],
            connections: "  - name: local\n    type: mysql\n    host: 127.0.0.1\n    port: \(s.port)\n"
                + "    database: x\n    username: x\n    password: ${env:OPERATOR_PASSWORD}\n    default: true\n", jobs: jobs)
        return hostile
    }

    // 1. A tenant's MySQL server asks for a local file in answer to every statement.
    attack("hostile MySQL server: db test, plan, process-cases (destination and source), status, apply, cron run serve no file") {
        let s = try HostileMySQL()
        defer { s.stop() }
        let hostile = try hostileTenancy(s, jobs: "  - name: daily\n    schedule: \"@daily\"\n")
        defer { hostile.destroy() }
        var commands: [[String]] = [
            ["db", "test", "ansd/local", "--from-config"], ["plan"], ["process-cases", "--org", "ansd", "--dry-run"],
            ["process-cases", "--org", "ansd"],
        ]
        try hostile.breakout(["apply", "--auto-approve"])
        commands += [["jobs", "run", "ansd/daily", "--wait"]]
        for c in commands { try hostile.breakout(c) }
        let settings = try String(contentsOf: hostile.dir.appendingPathComponent("breakout.yaml"), encoding: .utf8)
        try hostile.write(
            "breakout.yaml", settings.replacingOccurrences(of: "url: sqlite:csweb.db", with: "url: mysql://x@127.0.0.1:\(s.port)/cspro"))
        try hostile.breakout(["process-cases", "--org", "ansd"])
        try hostile.write(
            "breakout.yaml", settings.replacingOccurrences(of: "url: sqlite:state.db", with: "url: mysql://x@127.0.0.1:\(s.port)/cspro"))
        for c in [["status"], ["apply", "--auto-approve"], ["cron", "run"]] { try hostile.breakout(c) }
        t.outputs += hostile.outputs
        try require(s.requests >= 8, "the server asked only \(s.requests) times")
        try require(s.bytes == 0, "\(s.bytes) bytes of a local file reached the server")
        return "\(s.requests) file requests, 0 bytes sent"
    }
    attack("hostile MySQL server: the anonymous GET /metrics (lag probe) serves no file") {
        let s = try HostileMySQL()
        defer { s.stop() }
        let hostile = try hostileTenancy(s, jobs: "  - name: daily\n    schedule: \"@daily\"\n")
        defer { hostile.destroy() }
        try require(hostile.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        let port = Int.random(in: 20_000...40_000)
        let serve = try start(bin, ["serve", "-c", hostile.dir.path, "--listen", "127.0.0.1:\(port)"], env: hostile.environment)
        defer { kill(serve.pid, SIGKILL); t.outputs.append(serve.wait(timeout: 5).text) }
        var body = ""
        for _ in 0..<100 where !body.contains("breakout_") {
            Thread.sleep(forTimeInterval: 0.1)
            body = (try? run("/usr/bin/curl", ["-s", "--max-time", "20", "http://127.0.0.1:\(port)/metrics"], timeout: 30))?.stdout ?? ""
        }
        t.outputs.append(body)
        try require(body.contains("breakout_"), "no metrics")
        try require(s.requests > 0 && s.bytes == 0, "requests \(s.requests), bytes \(s.bytes)")
        return "\(s.requests) file requests, 0 bytes sent"
    }
    attack("hostile MySQL server answers breakout's own LOAD DATA by asking for another file") {
        let s = try HostileMySQL(mode: "on-load")
        defer { s.stop() }
        let hostile = try hostileTenancy(s)
        defer { hostile.destroy() }
        try hostile.breakout(["process-cases", "--org", "ansd"])
        t.outputs += hostile.outputs
        let loads = s.events.filter { ($0["sql"] as? String)?.contains("LOAD DATA LOCAL INFILE") == true }.count
        try require(loads > 0, "the breakout never reached its bulk load")
        try require(s.bytes == 0, "\(s.bytes) bytes sent")
        return "\(loads) loads, \(s.requests) requests for another file, 0 bytes sent"
    }

    // 2. Hand-made rows that point at another organization.
    attack("job row of insd naming ansd's dictionary") {
        try refused(
            try handMadeRun("steal-list", dictionaries: "'[\"CENSUS\"]'"), "dictionary CENSUS is not owned by insd (it belongs to ansd)")
    }
    attack("job row of insd whose command names ansd's dictionary") {
        try refused(
            try handMadeRun("steal-command", command: "'php bin/console csweb:process-cases-by-dict CENSUS'"), "is not owned by insd")
    }
    attack("job row of insd writing into ansd's connection") {
        let id = try t.state(
            "SELECT c.id FROM mt_database_connections c JOIN mt_organizations o ON o.id = c.organization_id WHERE o.organization_name = 'ansd'"
        )[0][0].int64!
        return try refused(
            try handMadeRun("borrow", dictionaries: "'[\"OTHER\"]'", connection: String(id)), "belongs to organization ansd, not to insd")
    }
    for (name, database, reason) in [
        ("..", "../ansd/ansd.db", "contains \"..\""), ("absolute", t.dir.appendingPathComponent("state.db").path, "is absolute"),
        ("symbolic link", "link/ansd.db", "passes through the symbolic link"),
    ] {
        attack("connection row of insd reaching another file by \(name)") {
            try FileManager.default.createDirectory(at: t.dir.appendingPathComponent("data/insd"), withIntermediateDirectories: true)
            if name == "symbolic link" {
                try? FileManager.default.createSymbolicLink(
                    atPath: t.dir.appendingPathComponent("data/insd/link").path,
                    withDestinationPath: t.dir.appendingPathComponent("data/ansd").path)
            }
            let connection = "escape-\(name.replacingOccurrences(of: " ", with: "-"))"
            let id = try handMadeConnection(connection, type: "pdo_sqlite", database: database)
            return try refused(try handMadeRun("via-\(connection)", dictionaries: "'[\"OTHER\"]'", connection: String(id)), reason)
        }
    }
    attack("export row of insd writing into ansd's folder") {
        try refused(
            try handMadeRun("export-escape", dictionaries: "'[\"OTHER\"]'", type: "export", settings: "'{\"output\":\"../ansd/exports\"}'"),
            "contains \"..\"")
    }
    attack("connection row of insd with a passfile option") {
        let id = try handMadeConnection(
            "passfile", type: "pdo_pgsql", host: "127.0.0.1", database: "x", options: "{\"passfile\":\"/root/.pgpass\"}")
        return try refused(
            try handMadeRun("via-passfile", dictionaries: "'[\"OTHER\"]'", connection: String(id)), "option \"passfile\" is not allowed")
    }
    attack("connection row of insd with the destination of a connection of ansd") {
        try t.organization(
            "ansd", dictionaries: ["CENSUS"],
            connections: "  - name: local\n    type: sqlite\n    database: ansd.db\n    default: true\n"
                + "  - name: pg\n    type: postgresql\n    host: db.example\n    database: ansd_data\n    username: ansd\n")
        try require(t.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        let id = try handMadeConnection("shared", type: "pdo_pgsql", host: "DB.example", port: 5432, database: "ansd_data")
        return try refused(
            try handMadeRun("via-shared", dictionaries: "'[\"OTHER\"]'", connection: String(id)),
            "two organizations never share a destination")
    }
    attack("connection row of insd to a host outside the operator's tenant_hosts") {
        try t.settings("tenant_hosts: [db.example]\n")
        defer { try? t.settings() }
        let id = try handMadeConnection("internal", type: "pdo_mysql", host: "127.0.0.1", port: 3306, database: "cspro")
        return try refused(
            try handMadeRun("via-internal", dictionaries: "'[\"OTHER\"]'", connection: String(id)),
            "tenant_hosts in breakout.yaml does not allow")
    }
    attack("ansd's encrypted password copied into insd's connection row") {
        let value = try SecretValue.encrypt("ansd-password", with: try MasterKey(base64: t.key), scope: .organization("ansd"))
        let id = try handMadeConnection("copied", type: "pdo_pgsql", host: "127.0.0.1", port: 1, database: "x", password: value)
        return try refused(try handMadeRun("via-copied", dictionaries: "'[\"OTHER\"]'", connection: String(id)), "integrity check failed")
    }

    // 3. Commands: none from organizations; the operator's see nothing secret.
    attack("organization file with an alert command") {
        try validateRefuses(
            "insd",
            "organization: insd\nname: INSD\ndictionaries: [OTHER]\nalerts: {command: \"cat \(t.keyFile)\"}\nconnections:\n"
                + "  - name: local\n    type: sqlite\n    database: insd.db\n    default: true\n",
            "\"command\" is not allowed in an organization file")
    }
    attack("hand-made row with an alert command; the operator's command sees no secret") {
        let marker = t.dir.appendingPathComponent("hand-made-ran").path, seen = t.dir.appendingPathComponent("alert-env").path
        try t.settings("alerts: {command: \"env > \(seen)\"}\n")
        defer { try? t.settings() }
        _ = try handMadeRun("alerting", dictionaries: "'[\"OTHER\"]'", settings: "'{\"alerts\":{\"command\":\"touch \(marker)\"}}'")
        try require(!FileManager.default.fileExists(atPath: marker), "the row's command ran")
        let env = (try? String(contentsOfFile: seen, encoding: .utf8)) ?? ""
        try require(env.contains("BREAKOUT_ALERT_JOB=alerting"), "the operator's command did not run")
        t.outputs.append(env)
        let names = env.split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) }
        try require(names.allSatisfy { $0.hasPrefix("BREAKOUT_ALERT_") || ["PATH", "PWD", "SHLVL", "_"].contains($0) }, "it saw \(names)")
        return "the row's command never ran; the operator's saw \(names.sorted().joined(separator: " "))"
    }

    // 4. What organization files may declare.
    attack("organization file: SQLite file outside its folder, .., options with credentials") {
        try validateRefuses(
            "insd",
            "organization: insd\nname: INSD\ndictionaries: [OTHER]\nconnections:\n  - name: local\n    type: sqlite\n    database: ../../state.db\n"
                + "    default: true\n  - name: pg\n    type: postgresql\n    host: db\n    database: x\n    username: u\n"
                + "    options: {passfile: /root/.pgpass}\n", "contains \"..\"")
    }
    attack("organization file: another organization's destination") {
        try t.organization(
            "ansd", dictionaries: ["CENSUS"],
            connections: "  - name: local\n    type: sqlite\n    database: ansd.db\n    default: true\n"
                + "  - name: pg\n    type: postgresql\n    host: db.example\n    database: ansd_data\n    username: ansd\n")
        defer {
            try? t.organization(
                "ansd", dictionaries: ["CENSUS"],
                connections: "  - name: local\n    type: sqlite\n    database: ansd.db\n    default: true\n")
        }
        return try validateRefuses(
            "insd",
            "organization: insd\nname: INSD\ndictionaries: [OTHER]\nconnections:\n  - name: pg\n    type: postgresql\n"
                + "    host: DB.example\n    database: ansd_data\n    username: insd\n    default: true\n",
            "two organizations never share a destination")
    }
    attack("organization file: another organization's encrypted value") {
        let value = try SecretValue.encrypt("ansd-password", with: try MasterKey(base64: t.key), scope: .organization("ansd"))
        return try validateRefuses(
            "insd",
            "organization: insd\nname: INSD\ndictionaries: [OTHER]\nconnections:\n  - name: pg\n    type: postgresql\n"
                + "    host: insd.example\n    database: insd\n    username: insd\n    password: \(value)\n    default: true\n",
            "this value was encrypted for organization ansd, not for organization insd")
    }

    // 5. Credentials from the runner's environment and home are never used.
    for (engine, variable) in [("postgresql", "BREAKOUT_TEST_POSTGRES_URL"), ("mysql", "BREAKOUT_TEST_MYSQL_URL")] {
        attack("\(engine): a connection without a password does not pick up PGPASSWORD, MYSQL_PWD or ~/.pgpass") {
            guard let url = environment[variable], let password = environment["BREAKOUT_TEST_PASSWORD"] else {
                if environment["CI"] == "true" { throw ScenarioFailure("\(variable) is not set") }
                return "skipped: \(variable) is not set"
            }
            let config = try ConnectionConfig.parse(url: url)
            let home = t.dir.appendingPathComponent("home")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            try Data("*:*:*:*:\(password)\n".utf8).write(to: home.appendingPathComponent(".pgpass"))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: home.appendingPathComponent(".pgpass").path)
            try t.organization(
                "insd", dictionaries: ["OTHER"],
                connections: "  - name: server\n    type: \(engine)\n    host: \(config.host!)\n    port: \(config.port!)\n"
                    + "    database: \(config.database)\n    username: \(config.user!)\n    default: true\n")
            defer {
                try? t.organization(
                    "insd", dictionaries: ["OTHER"],
                    connections: "  - name: local\n    type: sqlite\n    database: insd.db\n    default: true\n")
            }
            let r = try t.breakout(
                ["db", "test", "insd/server", "--from-config"], env: ["PGPASSWORD": password, "MYSQL_PWD": password, "HOME": home.path])
            try require(r.status == 1 && r.stderr.contains("authentication"), "db test: exit \(r.status): \(r.text.prefix(300))")
            return "refused by the server: " + (r.stderr.split(separator: "\n").first.map(String.init) ?? "").prefix(100)
        }
    }

    // 6. Files.
    attack("a key file other users can read") {
        let open = t.dir.appendingPathComponent("open.key").path
        try Data((t.key + "\n").utf8).write(to: URL(fileURLWithPath: open))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: open)
        let r = try t.breakout(["validate"], env: ["BREAKOUT_KEY_FILE": open])
        try require(r.status != 0 && r.stderr.contains("run `chmod 600"), "exit \(r.status): \(r.stderr.prefix(200))")
        return "refused with the chmod to run"
    }
    attack("state store, destination and export files are 0600, their folders 0700") {
        try t.organization(
            "ansd", dictionaries: ["CENSUS"], connections: "  - name: local\n    type: sqlite\n    database: ansd.db\n    default: true\n",
            jobs:
                "  - name: daily\n    schedule: \"@daily\"\n  - name: monthly\n    type: export\n    schedule: \"@monthly\"\n    output: exports\n"
        )
        try require(t.breakout(["apply", "--auto-approve"]).status == 0, "apply failed")
        try require(t.breakout(["jobs", "run", "ansd/daily", "--wait"]).status == 0, "the breakout failed")
        try require(t.breakout(["jobs", "run", "ansd/monthly", "--wait"]).status == 0, "the export failed")
        var checked = 0
        let exports = FileManager.default.subpaths(atPath: t.dir.appendingPathComponent("data/ansd/exports").path) ?? []
        let paths = ["state.db", "data/ansd", "data/ansd/ansd.db"] + exports.map { "data/ansd/exports/" + $0 }
        for path in paths {
            let attributes = try FileManager.default.attributesOfItem(atPath: t.dir.appendingPathComponent(path).path)
            let mode = attributes[.posixPermissions] as? Int ?? -1
            let folder = attributes[.type] as? FileAttributeType == .typeDirectory
            try require(mode == (folder ? 0o700 : 0o600), "\(path) has mode \(String(format: "%o", mode))")
            checked += 1
        }
        return "\(checked) files and folders checked"
    }

    // 7. No secret anywhere an organization could see.
    attack("no secret in any output, file written or child process") {
        var places = t.outputs.enumerated().map { ("output \($0.offset)", Data($0.element.utf8)) }
        for path in FileManager.default.subpaths(atPath: t.dir.path) ?? []
        where path != "master.key" && !path.hasPrefix("open.key") && !path.hasPrefix("home") {
            if let data = FileManager.default.contents(atPath: t.dir.appendingPathComponent(path).path) { places.append((path, data)) }
        }
        for (place, data) in places {
            for secret in t.secrets where data.range(of: Data(secret.utf8)) != nil { throw ScenarioFailure("a secret is in \(place)") }
        }
        return "\(places.count) outputs and files searched"
    }

    say("\(passed) passed, \(failed) failed")
    if failed > 0 { exit(1) }
}
