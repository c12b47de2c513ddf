import Foundation
import Testing

/// A tenant's database server is untrusted (docs/security.md). `scripts/fake-mysql-server.py` is a
/// hostile MySQL server on 127.0.0.1 that answers statements with a LOCAL INFILE request for a file
/// of the runner host; these tests point every command that opens a MySQL connection at it and
/// check that nothing was sent.
struct FakeMySQLServer {
    let process: Process
    let port: Int
    let logPath: String
    /// The file the server asks for, holding `secret`.
    let secretPath: String
    let secret: String

    /// `mode`: `infile` (every statement answered with a file request), `ok` (plain OK packets),
    /// `on-load` (OK, but a client's own LOAD DATA is answered with a request for another file).
    init(mode: String = "infile") throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-fake-mysql-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        secret = "RUNNER-SECRET-\(UUID().uuidString)"
        secretPath = dir.appendingPathComponent("master.key").path
        try Data(secret.utf8).write(to: URL(fileURLWithPath: secretPath))
        logPath = dir.appendingPathComponent("log.jsonl").path
        let portFile = dir.appendingPathComponent("port").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            ConfigCLITests.repository.appendingPathComponent("scripts/fake-mysql-server.py").path, "--port-file", portFile,
            "--log", logPath, "--request-file", secretPath, "--mode", mode, "--timeout", "120", "--max-connections", "200",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<100 where port == nil {
            Thread.sleep(forTimeInterval: 0.05)
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        guard let port else { throw CocoaError(.fileNoSuchFile) }
        self.port = port
    }

    func stop() {
        // SIGKILL: the test runner's children may inherit SIGTERM blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The server's log: one JSON object per line.
    var events: [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    var fileRequests: Int { events.filter { $0["event"] as? String == "infile_request" }.count }
    /// Bytes the clients sent in answer to file requests (0 when every request was refused).
    var bytesReceived: Int { events.filter { $0["event"] as? String == "infile_data" }.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) } }
    var connections: Int { events.filter { $0["event"] as? String == "connect" }.count }
}

@Suite(.serialized) struct HostileServerTests {
    /// The control: a client that allows local files (the `mariadb` client with --local-infile=1)
    /// does hand the file over, so the assertions below can fail.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mariadb")))
    func theFakeServerStealsFromAClientThatAllowsIt() throws {
        let server = try FakeMySQLServer()
        defer { server.stop() }
        _ = try CLI.execute(
            "/usr/bin/mariadb",
            [
                "--no-defaults", "--local-infile=1", "-h", "127.0.0.1", "-P", String(server.port), "-u", "x",
                "-e", "select 1",
            ])
        #expect(server.bytesReceived == server.secret.utf8.count)
    }

    /// A configuration whose source, state store or destination is the hostile server.
    static func config(port: Int, source: Bool = false, state: Bool = false) throws -> URL {
        let dir = try BreakoutCLITests.quickstartCopy()
        let fake = "mysql://tenant@127.0.0.1:\(port)/tenant_db"
        var settings = try String(contentsOf: dir.appendingPathComponent("breakout.yaml"), encoding: .utf8)
        if source { settings = settings.replacingOccurrences(of: "url: sqlite:data/csweb-sample.db", with: "url: \(fake)") }
        if state { settings = settings.replacingOccurrences(of: "url: sqlite:.breakout/state.db", with: "url: \(fake)") }
        try Data(settings.utf8).write(to: dir.appendingPathComponent("breakout.yaml"))
        let org = """
            organization: demo
            name: Demo statistics office
            dictionaries: [CENSUS]
            connections:
              - name: local
                type: mysql
                host: 127.0.0.1
                port: \(port)
                database: tenant_db
                username: tenant
                password: ${env:TENANT_PASSWORD}
                default: true
            jobs:
              - name: breakout-hourly
                type: breakout
                schedule: "@hourly"

            """
        try Data(org.utf8).write(to: dir.appendingPathComponent("organizations/demo.yaml"))
        return dir
    }

    static let environment = [
        "TENANT_PASSWORD": "tenant-pw", "BREAKOUT_DB_PASSWORD": "tenant-pw",
        "BREAKOUT_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
    ]

    /// Every command that opens a MySQL connection, against a server that asks each statement for
    /// a file: requests are made, and not one byte comes back.
    @Test func noCommandServesALocalFile() throws {
        let server = try FakeMySQLServer()
        defer { server.stop() }
        var ran: [String] = []
        func attempt(_ what: String, _ arguments: [String]) throws {
            let before = server.connections
            let result = try CLI.run(arguments, environment: Self.environment)
            #expect(server.connections > before, "\(what) did not reach the server: \(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains(server.secret))
            ran.append(what)
        }
        try attempt(
            "db test",
            ["db", "test", "--type", "mysql", "--host", "127.0.0.1", "--port", String(server.port), "--database", "x", "--user", "u"])
        let destination = try Self.config(port: server.port)
        try attempt("db test ORG/CONN", ["db", "test", "demo/local", "-c", destination.path, "--from-config"])
        try attempt("plan", ["plan", "-c", destination.path])
        try attempt("process-cases --dry-run", ["process-cases", "-c", destination.path, "--org", "demo", "--dry-run"])
        try attempt("process-cases", ["process-cases", "-c", destination.path, "--org", "demo"])
        let source = try Self.config(port: server.port, source: true)
        try attempt("process-cases (source)", ["process-cases", "-c", source.path, "--org", "demo"])
        try attempt("plan (source)", ["plan", "-c", source.path])
        let state = try Self.config(port: server.port, state: true)
        try attempt("status (state store)", ["status", "-c", state.path])
        try attempt("apply (state store)", ["apply", "-c", state.path, "--auto-approve"])
        try attempt("cron run (state store)", ["cron", "run", "-c", state.path])
        #expect(ran.count == 10)
        #expect(server.fileRequests >= ran.count, "the server asked \(server.fileRequests) times")
        #expect(server.bytesReceived == 0)
    }

    /// The lag probe behind an anonymous GET /metrics connects to every tenant's destination.
    @Test func metricsServesNoLocalFile() throws {
        let server = try FakeMySQLServer()
        defer { server.stop() }
        let dir = try Self.config(port: server.port)
        #expect(try CLI.run(["apply", "-c", dir.path, "--auto-approve"], environment: Self.environment).status == 0)
        let port = Int.random(in: 20_000...40_000)
        let serve = Process()
        serve.executableURL = CLI.binary
        serve.arguments = ["serve", "-c", dir.path, "--listen", "127.0.0.1:\(port)"]
        serve.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { kill(serve.processIdentifier, SIGKILL); serve.waitUntilExit() }
        var body = ""
        for _ in 0..<100 where body.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
            body = (try? DashboardTests.request("http://127.0.0.1:\(port)/metrics"))?.body ?? ""
        }
        #expect(body.contains("breakout_"))
        #expect(server.connections > 0 && server.fileRequests > 0)
        #expect(server.bytesReceived == 0)
        #expect(!body.contains(server.secret))
    }

    /// A destination that answers breakout's own LOAD DATA LOCAL INFILE with a request for another
    /// file is refused too: the bulk path serves only its in-memory stream, under its own name.
    @Test func bulkLoadServesOnlyItsOwnStream() throws {
        let server = try FakeMySQLServer(mode: "on-load")
        defer { server.stop() }
        let dir = try Self.config(port: server.port)
        let result = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"], environment: Self.environment)
        let loads = server.events.filter { ($0["sql"] as? String)?.uppercased().contains("LOAD DATA LOCAL INFILE") == true }
        #expect(!loads.isEmpty, "the breakout never reached its bulk load: \(result.stderr)")
        #expect(server.fileRequests >= 1)
        #expect(server.bytesReceived == 0)
    }
}

/// Rows written into the control tables by hand are checked at run time: a job cannot break out
/// another organization's dictionary, nor write into another organization's connection.
@Suite struct RunTimeOwnershipTests {
    @Test func handMadeRowsCannotReachAnotherOrganization() throws {
        let dir = try BreakoutCLITests.quickstartCopy()
        let other = """
            organization: other
            name: Another office
            dictionaries: [OTHER]
            connections:
              - name: theirs
                type: sqlite
                database: .breakout/other.db
                default: true

            """
        try Data(other.utf8).write(to: dir.appendingPathComponent("organizations/other.yaml"))
        let apply = try CLI.run(["apply", "-c", dir.path, "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stderr)")
        let state = dir.appendingPathComponent(".breakout/state.db").path
        let ids = try RunnerCLITests.sqlite(state, "SELECT organization_name, id FROM mt_organizations ORDER BY organization_name")
        #expect(ids == "demo|1\nother|2\n")
        let demoConnection = try RunnerCLITests.sqlite(state, "SELECT id FROM mt_database_connections WHERE organization_id = 1")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try RunnerCLITests.sqlite(
            state,
            """
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, dictionaries, is_active, created_time, modified_time)
            VALUES (2, 'steal-by-list', 'breakout', NULL, '0 2 * * *', '["CENSUS"]', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
                   (2, 'steal-by-command', 'breakout', 'php bin/console csweb:process-cases-by-dict CENSUS', '0 2 * * *', NULL, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, dictionaries, db_connection_id, is_active, created_time, modified_time)
            VALUES (2, 'write-into-demo', 'breakout', NULL, '0 2 * * *', '["OTHER"]', \(demoConnection), 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
            """)
        for (job, reason) in [
            ("steal-by-list", "dictionary CENSUS is not owned by other (it belongs to demo); the run is refused"),
            ("steal-by-command", "dictionary CENSUS is not owned by other (it belongs to demo); the run is refused"),
            ("write-into-demo", "its db_connection_id \(demoConnection) belongs to organization demo, not to other; the run is refused"),
        ] {
            let r = try CLI.run(["jobs", "run", "other/\(job)", "-c", dir.path, "--wait"])
            #expect(r.status == 1, "\(job): \(r.stdout)")
            let output = try RunnerCLITests.sqlite(state, "SELECT last_run_output FROM mt_cron_jobs WHERE job_name = '\(job)'")
            #expect(output.contains(reason), "\(job): \(output)")
        }
        // Nothing reached either destination.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".breakout/demo/demo-output.db").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".breakout/other/other.db").path))

        // Hand-made connection rows are held to the organization's folder and the options allow-list.
        _ = try RunnerCLITests.sqlite(
            state,
            """
            INSERT INTO mt_database_connections (organization_id, connection_name, db_type, database_name, connection_options, is_default, is_active, created_time, modified_time)
            VALUES (2, 'escape', 'pdo_sqlite', '../demo/demo-output.db', NULL, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
                   (2, 'absolute', 'pdo_sqlite', '\(state)', NULL, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
                   (2, 'linked', 'pdo_sqlite', 'link/demo-output.db', NULL, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
                   (2, 'optioned', 'pdo_sqlite', 'mine.db', '{"passfile":"/root/.pgpass"}', 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
            """)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".breakout/other"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: dir.appendingPathComponent(".breakout/other/link").path,
            withDestinationPath: dir.appendingPathComponent(".breakout/demo").path)
        for (connection, reason) in [
            ("escape", "the path \"../demo/demo-output.db\" contains \"..\""), ("absolute", "is absolute"),
            ("linked", "passes through the symbolic link"), ("optioned", "option \"passfile\" is not allowed for sqlite connections"),
        ] {
            let id = try RunnerCLITests.sqlite(state, "SELECT id FROM mt_database_connections WHERE connection_name = '\(connection)'")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try RunnerCLITests.sqlite(
                state,
                """
                INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, cron_expression, dictionaries, db_connection_id, is_active, created_time, modified_time)
                VALUES (2, 'via-\(connection)', 'breakout', '0 2 * * *', '["OTHER"]', \(id), 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
                """)
            let r = try CLI.run(["jobs", "run", "other/via-\(connection)", "-c", dir.path, "--wait"])
            #expect(r.status == 1)
            let output = try RunnerCLITests.sqlite(state, "SELECT last_run_output FROM mt_cron_jobs WHERE job_name = 'via-\(connection)'")
            #expect(output.contains(reason) && output.contains("the run is refused"), "\(connection): \(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".breakout/demo/demo-output.db").path))
    }

    /// What holds microdata or secrets is the runner user's alone, whatever the umask.
    @Test func filesAreCreatedPrivate() throws {
        let dir = try RunnerCLITests.prepared(
            jobExtra: "  - name: monthly-export\n    type: export\n    schedule: \"0 3 1 * *\"\n    output: exports\n")
        #expect(try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait"]).status == 0)
        #expect(try CLI.run(["jobs", "run", "demo/monthly-export", "-c", dir.path, "--wait"]).status == 0)
        func mode(_ relative: String) throws -> Int {
            try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(relative).path)[.posixPermissions] as? Int ?? -1
        }
        #expect(try mode(".breakout/state.db") == 0o600)
        #expect(try mode(".breakout/demo") == 0o700)
        #expect(try mode(".breakout/demo/demo-output.db") == 0o600)
        let exports = dir.appendingPathComponent(".breakout/demo/exports/CENSUS")
        let folder = try FileManager.default.contentsOfDirectory(atPath: exports.path)[0]
        #expect(try mode(".breakout/demo/exports/CENSUS/\(folder)") == 0o700)
        #expect(try mode(".breakout/demo/exports/CENSUS/\(folder)/person.csv") == 0o600)
    }
}
