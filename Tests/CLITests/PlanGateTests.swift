import Foundation
import Testing

/// `plan` as a deploy pipeline's gate (issue 19): `--detailed-exitcode` exits 2 when a job's next
/// run would alter a destination's existing tables, `--fail-on-warnings` exits 1 on any warning, and
/// every warning carries a stable code in the JSON. Run against each destination engine the test
/// servers provide: the schema comparison reads the live destination.
@Suite(.serialized) struct PlanGateTests {
    enum Engine: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgresql, mysql
        var testDescription: String { rawValue }

        var urlVariable: String? {
            switch self {
            case .sqlite: nil
            case .postgresql: "BREAKOUT_TEST_POSTGRES_URL"
            case .mysql: "BREAKOUT_TEST_MYSQL_URL"
            }
        }

        /// The test server's URL; nil when it is not configured (a failure under CI=true).
        var serverURL: URL? {
            get throws {
                guard let variable = urlVariable else { return nil }
                if let value = ProcessInfo.processInfo.environment[variable], let url = URL(string: value) { return url }
                if ProcessInfo.processInfo.environment["CI"] == "true" {
                    Issue.record("\(variable) is not set under CI=true: scripts/test-servers.sh start")
                }
                return nil
            }
        }
    }

    static var password: String { ProcessInfo.processInfo.environment["BREAKOUT_TEST_PASSWORD"] ?? "" }

    /// Creates an empty database on the engine's test server and returns the organization
    /// file's connection for it; nil when the server is not configured.
    static func connection(_ engine: Engine) throws -> String? {
        if engine == .sqlite {
            return """
                  - name: local
                    type: sqlite
                    database: demo-output.db
                    default: true
                """
        }
        guard let url = try engine.serverURL else { return nil }
        let name = "plangate_\(UUID().uuidString.prefix(8).lowercased())"
        try client(engine, url, "CREATE DATABASE \(name)")
        return """
              - name: local
                type: \(engine.rawValue)
                host: 127.0.0.1
                port: \(url.port ?? 0)
                database: \(name)
                username: breakout
                password: ${env:TENANT_PASSWORD}
                default: true
            """
    }

    /// The quickstart, its organization pointed at a fresh destination of `engine`.
    static func sandbox(_ engine: Engine, dictionaries: String = "[CENSUS]", jobs: String? = nil) throws -> URL? {
        guard let connection = try connection(engine) else { return nil }
        let dir = try BreakoutCLITests.quickstartCopy()
        let org = """
            organization: demo
            name: Demo statistics office
            dictionaries: \(dictionaries)
            connections:
            \(connection)
            jobs:
            \(jobs ?? "  - name: breakout-hourly\n    type: breakout\n    schedule: \"@hourly\"")

            """
        try Data(org.utf8).write(to: dir.appendingPathComponent("organizations/demo.yaml"))
        return dir
    }

    /// The tenant's password is stored encrypted in the control tables, under this run's key.
    static let environment = [
        "TENANT_PASSWORD": password, "BREAKOUT_KEY_FILE": "",
        "BREAKOUT_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
    ]

    static func run(_ dir: URL, _ arguments: [String]) throws -> CLI.Result {
        try CLI.run(arguments + ["-c", dir.path], environment: environment)
    }

    static func json(_ result: CLI.Result) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object, "not JSON: \(result.stdout.prefix(400)) \(result.stderr)")
    }

    static func jobs(_ plan: [String: Any]) -> [[String: Any]] { plan["jobs"] as? [[String: Any]] ?? [] }
    static func warningCodes(_ plan: [String: Any]) -> [String] {
        (plan["warnings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    /// Edits the CENSUS dictionary CSWeb holds in the bundled source, as a redesign would.
    static func editDictionary(_ dir: URL, _ edit: (inout [[String: Any]], String) -> Void, record: String) throws {
        let db = dir.appendingPathComponent("data/csweb-sample.db").path
        let text = try BreakoutCLITests.sqlite(
            db, "SELECT dictionary_full_content FROM cspro_dictionaries WHERE dictionary_name = 'CENSUS'")
        var dictionary = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var levels = try #require(dictionary["levels"] as? [[String: Any]])
        var found = false
        for l in levels.indices {
            var records = levels[l]["records"] as? [[String: Any]] ?? []
            for r in records.indices where records[r]["name"] as? String == record {
                var items = records[r]["items"] as? [[String: Any]] ?? []
                edit(&items, record)
                records[r]["items"] = items
                found = true
            }
            levels[l]["records"] = records
        }
        try #require(found, "no record \(record)")
        dictionary["levels"] = levels
        let file = dir.appendingPathComponent("dictionary.json")
        try JSONSerialization.data(withJSONObject: dictionary).write(to: file)
        let updated = try CLI.execute(
            "/usr/bin/sqlite3",
            [
                db,
                "UPDATE cspro_dictionaries SET dictionary_full_content = CAST(readfile('\(file.path)') AS TEXT) WHERE dictionary_name = 'CENSUS'",
            ])
        try #require(updated.status == 0, "\(updated.stderr)")
    }

    /// Applied and broken out once: the plan then has nothing to review on any engine; a new item
    /// makes the next run a migration (exit 2, `schema_action: migrate`), a removed one a rebuild.
    @Test(arguments: Engine.allCases)
    func schemaChangesGateTheDeploy(_ engine: Engine) throws {
        guard let dir = try Self.sandbox(engine) else { return }
        var r = try Self.run(dir, ["apply", "--auto-approve"])
        try #require(r.status == 0, "\(r.stderr)")
        r = try Self.run(dir, ["process-cases", "--org", "demo"])
        try #require(r.status == 0, "\(r.stdout)\(r.stderr)")

        r = try Self.run(dir, ["plan", "--detailed-exitcode"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Destination schema: no job alters existing tables."), "\(r.stdout)")
        r = try Self.run(dir, ["plan", "--format", "json", "--fail-on-warnings"])
        #expect(r.status == 0, "\(r.stderr)")
        var plan = try Self.json(r)
        #expect(plan["format_version"] as? Int == 2)
        #expect(Self.warningCodes(plan) == [])
        #expect(Self.jobs(plan).first?["schema_action"] as? String == "none")

        // A new item in HOUSING: one column added, every other table untouched.
        try Self.editDictionary(
            dir,
            { items, _ in
                var item = items[1]
                item["name"] = "H06_ROOMS"
                item["start"] = 71
                item["length"] = 2
                items.append(item)
            }, record: "HOUSING")
        r = try Self.run(dir, ["plan", "--detailed-exitcode"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("alter existing tables: demo/breakout-hourly · CENSUS migrate"), "\(r.stdout)")
        r = try Self.run(dir, ["plan", "--format", "json"])
        plan = try Self.json(r)
        var job = try #require(Self.jobs(plan).first)
        #expect(job["schema_action"] as? String == "migrate")
        let changes = job["schema_changes"] as? [String] ?? []
        #expect(changes.contains { $0.contains("h06_rooms") }, "\(changes)")
        r = try Self.run(dir, ["plan", "--format", "sql"])
        #expect(r.stdout.contains("ALTER TABLE"), "\(r.stdout.prefix(2000))")

        // The migration runs; the gate is clean again.
        r = try Self.run(dir, ["process-cases", "--org", "demo"])
        try #require(r.status == 0, "\(r.stdout)\(r.stderr)")
        r = try Self.run(dir, ["plan", "--detailed-exitcode"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")

        // A removed item: the tables are rebuilt, which the gate reports too.
        try Self.editDictionary(dir, { items, _ in items.removeAll { $0["name"] as? String == "D02_AGE" } }, record: "DEATHS")
        r = try Self.run(dir, ["plan", "--format", "json", "--detailed-exitcode"])
        #expect(r.status == 2, "\(r.stderr)")
        plan = try Self.json(r)
        job = try #require(Self.jobs(plan).first)
        #expect(job["schema_action"] as? String == "rebuild", "\(job)")
        #expect((job["schema_changes"] as? [String] ?? []).contains { $0.contains("d02_age") }, "\(job)")
    }

    /// Renames a destination's data table behind breakout's back, with the engine's own client.
    static func renameTable(_ engine: Engine, _ dir: URL, from: String, to: String) throws {
        switch engine {
        case .sqlite, .postgresql:
            try destinationSQL(engine, dir) { "ALTER TABLE \($0(from)) RENAME TO \(engine == .sqlite ? $0(to) : to)" }
        case .mysql: try destinationSQL(engine, dir) { "RENAME TABLE \($0(from)) TO \($0(to))" }
        }
    }

    /// Runs a statement on the sandbox's destination with the engine's own client, as a DBA would;
    /// `sql` gets a function naming a CENSUS table there (`census.housing`, `census_housing`).
    static func destinationSQL(_ engine: Engine, _ dir: URL, _ sql: ((String) -> String) -> String) throws {
        let org = try String(contentsOf: dir.appendingPathComponent("organizations/demo.yaml"), encoding: .utf8)
        let database = org.split(separator: "\n").first { $0.contains("database:") }?.split(separator: " ").last.map(String.init) ?? ""
        switch engine {
        case .sqlite:
            let db = dir.appendingPathComponent(".breakout/demo/demo-output.db").path
            let result = try CLI.execute("/usr/bin/sqlite3", [db, sql { "\"census_\($0)\"" }])
            try #require(result.status == 0, "\(result.stderr)")
        case .postgresql:
            let server = try #require(try engine.serverURL)
            var url = try #require(URLComponents(url: server, resolvingAgainstBaseURL: false))
            url.path = "/\(database)"
            try client(engine, try #require(url.url), sql { "census.\($0)" })
        case .mysql:
            // MySQL keeps a dictionary's tables in the connection's database, prefixed.
            try client(engine, try #require(try engine.serverURL), sql { "`\(database)`.`census_\($0)`" })
        }
    }

    /// Runs one statement with the server's own client (`psql`, `mariadb`), as a DBA would.
    static func client(_ engine: Engine, _ url: URL, _ sql: String) throws {
        let result =
            engine == .postgresql
            ? try CLI.execute("/usr/bin/psql", [url.absoluteString, "-v", "ON_ERROR_STOP=1", "-c", sql])
            : try CLI.execute(
                "/usr/bin/mariadb",
                ["--no-defaults", "-h", "127.0.0.1", "-P", String(url.port ?? 3306), "-u", "breakout", "-p\(password)", "-e", sql])
        try #require(result.status == 0, "\(result.stderr)")
    }

    /// A data table renamed by hand: the plan says so (code `destination_drift`), where it used to
    /// say "schema: unchanged" and let the next run fail.
    @Test(arguments: Engine.allCases)
    func aRenamedTableIsDrift(_ engine: Engine) throws {
        guard let dir = try Self.sandbox(engine) else { return }
        var r = try Self.run(dir, ["apply", "--auto-approve"])
        try #require(r.status == 0, "\(r.stderr)")
        r = try Self.run(dir, ["process-cases", "--org", "demo"])
        try #require(r.status == 0, "\(r.stdout)\(r.stderr)")
        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")

        try Self.renameTable(engine, dir, from: "housing", to: "housing_old")
        r = try Self.run(dir, ["plan", "--format", "json"])
        let plan = try Self.json(r)
        let drift = (plan["warnings"] as? [[String: Any]] ?? []).first { $0["code"] as? String == "destination_drift" }
        #expect((drift?["message"] as? String ?? "").contains("housing is missing"), "\(plan["warnings"] ?? "")")
        #expect(((Self.jobs(plan).first?["drift"] as? [String]) ?? []).count == 1)
        r = try Self.run(dir, ["plan"])
        #expect(r.stdout.contains("DRIFT in 1 table (--repair)"), "\(r.stdout)")
        #expect(
            (drift?["message"] as? String ?? "").contains("Repair: breakout process-cases --org demo --connection local --repair CENSUS"),
            "\(drift ?? [:])")
        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 1)
        // The command the warning names rebuilds the tables aside and swaps them in; the plan is clean again.
        r = try Self.run(dir, ["process-cases", "--org", "demo", "--connection", "local", "--repair", "CENSUS"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("rebuilt in census__next and swapped in (table"), "\(r.stdout)")
        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    /// Rows deleted by hand: the plan counts them against the row ledger, and the repair it names
    /// reloads them; the person table is back row for row.
    @Test(arguments: Engine.allCases)
    func rowsDeletedByHandAreDriftAndRepaired(_ engine: Engine) throws {
        guard let dir = try Self.sandbox(engine) else { return }
        var r = try Self.run(dir, ["apply", "--auto-approve"])
        try #require(r.status == 0, "\(r.stderr)")
        r = try Self.run(dir, ["process-cases", "--org", "demo"])
        try #require(r.status == 0, "\(r.stdout)\(r.stderr)")
        try Self.destinationSQL(engine, dir) { "DELETE FROM \($0("person")) WHERE p02_sex = 2" }
        r = try Self.run(dir, ["plan", "--format", "json"])
        let plan = try Self.json(r)
        let message = (plan["warnings"] as? [[String: Any]] ?? []).first { $0["code"] as? String == "destination_drift" }?["message"]
        #expect((message as? String ?? "").contains("deleted outside breakout"), "\(plan["warnings"] ?? "")")
        #expect((message as? String ?? "").contains("(reloads the cases whose rows differ, in place)"), "\(message ?? "")")
        // An ordinary run has nothing pending and does not bring them back.
        r = try Self.run(dir, ["process-cases", "--org", "demo"])
        #expect(r.stdout.contains("0 cases loaded"), "\(r.stdout)")
        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 1, "\(r.stdout)")
        r = try Self.run(dir, ["process-cases", "--org", "demo", "--connection", "local", "--repair", "CENSUS"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        // Only the cases that lost a person are reloaded.
        #expect(r.stdout.contains("repaired in place: "), "\(r.stdout)")
        let reloaded = Int(r.stdout.components(separatedBy: "repaired in place: ").last?.prefix { $0.isNumber } ?? "") ?? 0
        #expect(reloaded > 0 && reloaded < 396, "\(r.stdout)")
        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        r = try Self.run(dir, ["process-cases", "--org", "demo", "--dry-run", "--repair"])
        #expect(r.status != 0 && r.stderr.contains("--dry-run cannot be combined with --repair"), "\(r.stderr)")
    }

    /// Warnings carry codes in the JSON and fail the gate with `--fail-on-warnings`.
    @Test(arguments: Engine.allCases)
    func warningsHaveCodesAndFailTheGate(_ engine: Engine) throws {
        let jobs = """
              - name: breakout-hourly
                type: breakout
                schedule: "@hourly"
              - name: breakout-census
                type: breakout
                schedule: "*/30 * * * *"
                dictionaries: [CENSUS]
            """
        guard let dir = try Self.sandbox(engine, dictionaries: "[CENSUS, RGPH]", jobs: jobs) else { return }
        var r = try Self.run(dir, ["apply", "--auto-approve"])
        try #require(r.status == 0, "\(r.stderr)")
        r = try Self.run(dir, ["plan", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try Self.json(r)
        let codes = Self.warningCodes(plan)
        #expect(codes.contains("jobs_overlap"), "\(plan["warnings"] ?? "")")
        #expect(codes.contains("dictionary_missing"), "\(plan["warnings"] ?? "")")
        let missing = (plan["warnings"] as? [[String: Any]] ?? []).first { $0["code"] as? String == "dictionary_missing" }
        #expect(missing?["organization"] as? String == "demo")
        #expect((missing?["message"] as? String ?? "").contains("RGPH"))
        // Reported once, with its code, and not again as a loader warning on stderr.
        r = try Self.run(dir, ["plan"])
        #expect(r.stdout.contains("[jobs_overlap]"), "\(r.stdout)")
        #expect(!r.stderr.contains("warning:"), "\(r.stderr)")

        r = try Self.run(dir, ["plan", "--fail-on-warnings"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("warning(s) and --fail-on-warnings was given"), "\(r.stderr)")
    }

    /// examples/multi-tenant with its state in a new SQLite store and the bundled sample as its
    /// source (the example's are CSWeb's MySQL database).
    static func multiTenant() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-mt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let example = ConfigCLITests.repository.appendingPathComponent("examples/multi-tenant")
        try FileManager.default.copyItem(
            at: example.appendingPathComponent("organizations"), to: dir.appendingPathComponent("organizations"))
        var settings = try String(contentsOf: example.appendingPathComponent("breakout.yaml"), encoding: .utf8)
        let state = try #require(settings.range(of: "state:\n  url: mysql://csweb@127.0.0.1:3306/cspro\n  password: "))
        let stateEnd = try #require(settings[state.upperBound...].firstIndex(of: "\n"))
        settings.replaceSubrange(state.lowerBound...stateEnd, with: "state:\n  url: sqlite:state.db\n")
        let source = try #require(settings.range(of: "  url: mysql://csweb@127.0.0.1:3306/cspro\n  password: "))
        let sourceEnd = try #require(settings[source.upperBound...].firstIndex(of: "\n"))
        try FileManager.default.copyItem(
            at: BreakoutCLITests.quickstart.appendingPathComponent("data"), to: dir.appendingPathComponent("data"))
        settings.replaceSubrange(source.lowerBound...sourceEnd, with: "  url: sqlite:data/csweb-sample.db\n")
        try Data(settings.utf8).write(to: dir.appendingPathComponent("breakout.yaml"))
        return dir
    }

    /// Every format of the quickstart's and the multi-tenant example's first plans, against
    /// Tests/CLITests/Golden/ (times and digests masked). After an intended change:
    /// `BREAKOUT_UPDATE_GOLDEN=1 swift test --filter PlanGateTests`, then review the diff.
    @Test(arguments: ["quickstart", "multi-tenant"])
    func plansMatchGolden(_ example: String) throws {
        let dir = example == "quickstart" ? try BreakoutCLITests.quickstartCopy() : try Self.multiTenant()
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        for (format, ext) in [("text", "txt"), ("markdown", "md"), ("json", "json"), ("sql", "sql")] {
            let r = try CLI.run(
                ["plan", "-c", dir.path, "--format", format], environment: ["BREAKOUT_KEY_FILE": ConfigCLITests.demoKeyFile])
            #expect(r.status == 0, "\(format): \(r.stderr)")
            let text = Self.masked(r.stdout, dir: dir.path)
            let file = golden.appendingPathComponent("plan-\(example).\(ext)")
            if ProcessInfo.processInfo.environment["BREAKOUT_UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
                try Data(text.utf8).write(to: file)
            }
            let expected = try String(contentsOf: file, encoding: .utf8)
            #expect(text == expected, "plan --format \(format) of \(example) differs from \(file.lastPathComponent)")
        }
    }

    /// Run times, content digests and the sandbox's path, which change from run to run.
    static func masked(_ s: String, dir: String) -> String {
        var out = s.replacingOccurrences(of: dir, with: "<dir>")
        for (pattern, replacement) in [
            (#"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?"#, "<time>"),
            (#"digest [0-9a-f]{16}"#, "digest <digest>"),
            (#""(state|config)_digest" : "[0-9a-f]+""#, "\"$1_digest\" : \"<digest>\""),
        ] {
            out = out.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return out
    }

    /// The multi-tenant example's first plan (9 rows to add, 4 jobs) as a reviewer reads it:
    /// under 6 KB, no line over 200 characters, YAML keys with their file and line.
    @Test func theMultiTenantPlanIsConcise() throws {
        let dir = try Self.multiTenant()
        let r = try CLI.run(["plan", "-c", dir.path], environment: ["BREAKOUT_KEY_FILE": ConfigCLITests.demoKeyFile])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Plan: 9 to add, 0 to change, 0 to destroy."))
        #expect(r.stdout.utf8.count < 6_000, "\(r.stdout.utf8.count) bytes")
        #expect(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 200 }, "\(r.stdout)")
        #expect(r.stdout.contains("  + job ansd/breakout-rgph   (organizations/ansd.yaml:29)\n"))
        #expect(r.stdout.contains("      timeout: 25m\n") && r.stdout.contains("      options.sslmode: prefer\n"))
        #expect(!r.stdout.contains("is_active") && !r.stdout.contains("cron_expression") && !r.stdout.contains("{"))
    }
}
