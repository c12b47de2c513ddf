import Foundation
import Synchronization
import Testing

/// Runs the built `breakout` binary, as users and scripts do.
struct CLI {
    static var binary: URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0])
        return testBinary.deletingLastPathComponent().appendingPathComponent("breakout")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "BREAKOUT_DB_PASSWORD")
        env.merge(environment) { $1 }
        return try execute(binary.path, arguments, environment: env, stdin: stdin)
    }

    /// Runs any program to its end, with its output captured (the environment is inherited when nil).
    static func execute(_ path: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil) throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct CLITests {
    @Test func versionAndHelp() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: breakout <subcommand>"))
        #expect(help.stdout.contains("db"))
        let dbHelp = try CLI.run(["db", "test", "--help"])
        #expect(dbHelp.stdout.contains("BREAKOUT_DB_PASSWORD"))
    }

    @Test func dbTestOnSQLiteReportsVersionLatencyAndCreate() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-cli-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try CLI.run(["db", "test", "--type", "pdo_sqlite", "--database", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Connected to sqlite:\(path)"))
        #expect(result.stdout.contains("server:        SQLite 3."))
        #expect(result.stdout.contains("round trip:"))
        #expect(result.stdout.contains("create tables: yes"))
    }

    @Test func dbTestRefusesUnknownTypesAndMissingHost() throws {
        let unknown = try CLI.run(["db", "test", "--type", "oracle", "--database", "x"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("Unknown database type \"oracle\""))
        let noHost = try CLI.run(["db", "test", "--type", "postgresql", "--database", "x"])
        #expect(noHost.status == 64)
        #expect(noHost.stderr.contains("--host is required for postgresql"))
    }

    @Test func dbTestConnectionFailureIsExitOneWithAHint() throws {
        let result = try CLI.run(
            ["db", "test", "--type", "mysql", "--host", "127.0.0.1", "--port", "1", "--database", "x", "--user", "u"],
            environment: ["BREAKOUT_DB_PASSWORD": "Sup3r-Secret-Value"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: cannot use mysql://u@127.0.0.1:1/x: mysql connection error"))
        #expect(result.stderr.contains("hint: check that the server runs"))
        #expect(!result.stderr.contains("Sup3r-Secret-Value") && !result.stdout.contains("Sup3r-Secret-Value"))
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["BREAKOUT_TEST_POSTGRES_URL"] != nil))
    func dbTestAgainstTheTestPostgres() throws {
        let url = ProcessInfo.processInfo.environment["BREAKOUT_TEST_POSTGRES_URL"]!
        let password = ProcessInfo.processInfo.environment["BREAKOUT_TEST_PASSWORD"] ?? ""
        let port = url.split(separator: ":").last!.split(separator: "/").first!
        let ok = try CLI.run(
            [
                "db", "test", "--type", "postgresql", "--host", "127.0.0.1", "--port", String(port), "--database", "breakout_test",
                "--user", "breakout",
            ],
            environment: ["BREAKOUT_DB_PASSWORD": password])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("server:        PostgreSQL"))
        #expect(!ok.stdout.contains(password))
        let bad = try CLI.run(
            [
                "db", "test", "--type", "postgresql", "--host", "127.0.0.1", "--port", String(port), "--database", "breakout_test",
                "--user", "breakout",
            ],
            environment: ["BREAKOUT_DB_PASSWORD": "not-the-password"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("postgresql authentication error"))
        #expect(bad.stderr.contains("hint: check --user and the BREAKOUT_DB_PASSWORD environment variable"))
        #expect(!bad.stderr.contains("not-the-password"))
    }
}

@Suite struct SecretsCLITests {
    @Test func keygenEncryptDecryptRoundTrip() throws {
        let keygen = try CLI.run(["secrets", "keygen"])
        #expect(keygen.status == 0)
        let key = keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Data(base64Encoded: key)?.count == 32)
        let env = ["BREAKOUT_MASTER_KEY": key]
        let encrypted = try CLI.run(["secrets", "encrypt"], environment: env, stdin: "secret123\n")
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let value = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(value.hasPrefix("enc:v2:"))
        #expect(!encrypted.stdout.contains("secret123") && !encrypted.stderr.contains("secret123"))
        let decrypted = try CLI.run(["secrets", "decrypt"], environment: env, stdin: value + "\n")
        #expect(decrypted.status == 0)
        #expect(decrypted.stdout == "secret123\n")
    }

    @Test func wrongKeyAndMissingKeyAreClearErrors() throws {
        let a = try CLI.run(["secrets", "keygen"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let b = try CLI.run(["secrets", "keygen"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let value = try CLI.run(["secrets", "encrypt"], environment: ["BREAKOUT_MASTER_KEY": a], stdin: "Sup3rS3cret").stdout
        let wrong = try CLI.run(["secrets", "decrypt"], environment: ["BREAKOUT_MASTER_KEY": b], stdin: value)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.hasPrefix("error: encrypted with key "))
        #expect(!wrong.stderr.contains("Sup3rS3cret"))
        let none = try CLI.run(["secrets", "encrypt"], environment: ["BREAKOUT_MASTER_KEY": "", "BREAKOUT_KEY_FILE": ""], stdin: "x")
        #expect(none.status == 1)
        #expect(none.stderr.contains("no master key loaded"))
    }
}

@Suite struct ConfigCLITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let multiTenant = repository.appendingPathComponent("examples/multi-tenant").path
    /// A private (0600) copy of the public demo key: key files must be 0600, and git keeps files 0644.
    static let demoKeyFile: String = {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-demo-\(UUID().uuidString).key").path
        try! FileManager.default.copyItem(atPath: repository.appendingPathComponent("examples/multi-tenant/demo.key").path, toPath: copy)
        try! FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
        return copy
    }()

    @Test func validateExamples() throws {
        let quick = try CLI.run(["validate", "-c", Self.repository.appendingPathComponent("examples/quickstart").path])
        #expect(quick.status == 0, "\(quick.stderr)")
        #expect(quick.stdout == "Configuration valid: 1 organization, 1 connection, 1 job.\n")
        let multi = try CLI.run(["validate", "-c", Self.multiTenant], environment: ["BREAKOUT_KEY_FILE": Self.demoKeyFile])
        #expect(multi.status == 0, "\(multi.stderr)")
        #expect(multi.stdout == "Configuration valid: 2 organizations, 3 connections, 4 jobs.\n")
    }

    @Test func validateReportsEveryErrorAndExitsOne() throws {
        let result = try CLI.run(["validate", "-c", Self.multiTenant], environment: ["BREAKOUT_KEY_FILE": "", "BREAKOUT_MASTER_KEY": ""])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        // Five errors, the guide's overlapping pair of ANSD jobs (a warning), and the summary.
        #expect(lines.count == 7)
        #expect(lines.contains { $0.contains("warning: jobs \"breakout-quotidien\" and \"breakout-rgph\" both break out RGPH") })
        #expect(
            lines.first
                == "breakout.yaml:8:13: error: cannot check the encrypted state password: no master key loaded (set BREAKOUT_MASTER_KEY or BREAKOUT_KEY_FILE)"
        )
        #expect(lines.last == "error: 5 errors in 3 files; nothing was applied")
    }

    /// No secret of the examples appears in anything the commands print, whatever goes wrong.
    @Test func noExampleSecretEverAppearsInOutput() throws {
        // Each value is bound to its file: breakout.yaml's, or one organization's (--org).
        let values = try [
            ("/breakout.yaml", [String]()), ("/organizations/ansd.yaml", ["--org", "ansd"]),
            ("/organizations/insd.yaml", ["--org", "insd"]),
        ]
        .flatMap { file, scope in
            try String(contentsOfFile: Self.multiTenant + file, encoding: .utf8).split(whereSeparator: { $0.isWhitespace })
                .filter { $0.hasPrefix("enc:v2:") }.map { (String($0), scope) }
        }
        #expect(values.count == 5)
        let env = ["BREAKOUT_KEY_FILE": Self.demoKeyFile]
        let plaintexts = try values.map {
            try CLI.run(["secrets", "decrypt"] + $0.1, environment: env, stdin: $0.0).stdout.trimmingCharacters(in: .newlines)
        }
        #expect(plaintexts.allSatisfy { !$0.isEmpty })
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("leak-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: Self.multiTenant, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let newKey = FileManager.default.temporaryDirectory.appendingPathComponent("new-\(UUID().uuidString).key").path
        try CLI.run(["secrets", "keygen"]).stdout.write(toFile: newKey, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: newKey)
        defer { try? FileManager.default.removeItem(atPath: newKey) }
        // Rotation keeps each file's mode (an atomic write would otherwise give it the umask's).
        let ansdFile = copy + "/organizations/ansd.yaml"
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: ansdFile)
        let runs = [
            try CLI.run(["validate", "-c", Self.multiTenant], environment: env),
            try CLI.run(
                ["validate", "-c", Self.multiTenant], environment: ["BREAKOUT_MASTER_KEY": try CLI.run(["secrets", "keygen"]).stdout]),
            try CLI.run(["secrets", "rotate", "-c", copy, "--new-key-file", newKey], environment: env),
            try CLI.run(["validate", "-c", copy, "--key-file", newKey]),
            try CLI.run(["secrets", "rotate", "-c", copy, "--new-key-file", newKey]),
        ]
        #expect(runs[2].status == 0 && runs[2].stdout.contains("Rotated 5 values to key "))
        #expect((try FileManager.default.attributesOfItem(atPath: ansdFile)[.posixPermissions] as? Int) == 0o600)
        #expect(runs[3].status == 0, "\(runs[3].stderr)")
        for run in runs {
            for secret in plaintexts {
                #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret))
            }
        }
    }
}

@Suite struct CSProCLITests {
    static let fixtures = ConfigCLITests.repository.appendingPathComponent("Tests/CSProTests/Fixtures").path

    static var dictionaries: [String] {
        ["cspro-examples/dictionaries-json80", "cspro-examples/dictionaries-legacy77", "feature-showcase", "cspro", "csweb"].flatMap {
            folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(fixtures)/\(folder)")) ?? []).filter { $0.hasSuffix(".dcf") }.sorted()
                .map { "\(folder)/\($0)" }
        }
    }

    /// `dictionary inspect` works on every fixture dictionary, as text and as JSON.
    @Test func inspectEveryFixtureDictionary() throws {
        #expect(Self.dictionaries.count == 115)
        for path in Self.dictionaries {
            let text = try CLI.run(["dictionary", "inspect", "\(Self.fixtures)/\(path)"])
            #expect(text.status == 0 && text.stdout.hasPrefix("Dictionary "), "\(path): \(text.stderr)")
            let json = try CLI.run(["dictionary", "inspect", "\(Self.fixtures)/\(path)", "--format", "json"])
            #expect(json.status == 0 && (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil, "\(path)")
        }
        let csdb = try CLI.run(["dictionary", "inspect", "\(Self.fixtures)/cspro/ThreeLevelTest.csdb"])
        #expect(csdb.stdout.hasPrefix("Dictionary HOUSEHOLD_DICT \"household\"\n"))
        #expect(csdb.stdout.contains("    P04_DOB "))
        let missing = try CLI.run(["dictionary", "inspect", "/nonexistent.dcf"])
        #expect(missing.status == 1 && missing.stderr == "error: no such file: /nonexistent.dcf\n")
    }

    /// `cases show` on every fixture data source.
    @Test func showCasesOfEveryFixtureSource() throws {
        let f = Self.fixtures
        let sources: [([String], Int)] = [
            (["\(f)/cspro/ThreeLevelTest.csdb"], 1),
            (["\(f)/cspro-examples/data/1_Data_Entry__CAPI_Census__Data__Household.csdb"], 4),
            (["\(f)/cspro-examples/data/1_Data_Entry__Labor_Force_Survey__Menu__Sample.csdb"], 4),
            (
                [
                    "\(f)/cspro-examples/data/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__smallStan.dat", "--dictionary",
                    "\(f)/cspro-examples/dictionaries-legacy77/2_Edits___Batch_Programs__Dynamic__Hot_Deck__Imputations__Popstan.dcf",
                ], 100
            ),
            (
                [
                    "\(f)/cspro-examples/data/2_Edits___Batch_Programs__Writing_a_CSV_File__PopstanEx.dat", "--dictionary",
                    "\(f)/cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Writing_a_CSV_File__Popstan2.dcf",
                ], 55
            ),
            (["\(f)/csweb/popstan_census_postman_case.dat", "--dictionary", "\(f)/csweb/popstan_census_postman.dcf"], 1),
        ]
        for (arguments, count) in sources {
            let text = try CLI.run(["cases", "show"] + arguments)
            #expect(text.status == 0, "\(arguments[0]): \(text.stderr)")
            #expect(text.stdout.split(separator: "\n").filter { $0.hasPrefix("Case ") }.count == count, "\(arguments[0])")
            let json = try CLI.run(["cases", "show"] + arguments + ["--format", "json"])
            let lines = json.stdout.split(separator: "\n")
            #expect(lines.count == count)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        }
        let one = try CLI.run([
            "cases", "show", "\(f)/cspro-examples/data/1_Data_Entry__CAPI_Census__Data__Household.csdb", "--case", "1109037A0003",
        ])
        #expect(one.stdout.hasPrefix("Case 1109037A0003  id "))
        let none = try CLI.run(["cases", "show", "\(f)/cspro/ThreeLevelTest.csdb", "--case", "nope"])
        #expect(none.status == 1 && none.stderr.contains("no case with key \"nope\""))
        let noDictionary = try CLI.run(["cases", "show", "\(f)/csweb/popstan_census_postman_case.dat"])
        #expect(noDictionary.status == 1 && noDictionary.stderr == "error: a .dat source needs --dictionary FILE\n")
    }
}

/// `process-cases` and `dictionary ddl` as users run them.
@Suite struct BreakoutCLITests {
    static let quickstart = ConfigCLITests.repository.appendingPathComponent("examples/quickstart")

    /// A copy of examples/quickstart in a temporary directory (with its own .breakout output).
    static func quickstartCopy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-qs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for entry in ["breakout.yaml", "organizations", "data"] {
            try FileManager.default.copyItem(at: quickstart.appendingPathComponent(entry), to: dir.appendingPathComponent(entry))
        }
        return dir
    }

    static func sqlite(_ db: String, _ sql: String) throws -> String {
        try CLI.execute("/usr/bin/sqlite3", [db, sql]).stdout
    }

    /// Every data table of the demo dictionary, rows in id order (ids are deterministic, so two
    /// runs that loaded the same cases give identical text).
    static func dataTables(_ db: String) throws -> String {
        var out = ""
        for table in [
            "census_cases", "census_notes", "census_level-1", "census_housing", "census_deaths", "census_level-2", "census_person",
            "census_births", "census_value_labels",
        ] {
            out += "== \(table)\n" + (try sqlite(db, "SELECT * FROM \"\(table)\" ORDER BY 1, 2"))
        }
        return out
    }

    @Test func quickstartBreaksOutThenHasNothingPending() throws {
        let dir = try Self.quickstartCopy()
        let first = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("CENSUS: 396 cases loaded (396 new, 0 updated, 9 flagged deleted), 4 failed"))
        #expect(first.stdout.contains("census_person: "))
        #expect(first.stderr.contains("4 case(s) could not be decoded"))
        let second = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo", "--format", "json"])
        #expect(second.status == 0)
        let summaries = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [[String: Any]]
        #expect(summaries?.first?["newCases"] as? Int == 0)
        #expect(summaries?.first?["schema"] as? String == "unchanged")
        let db = dir.appendingPathComponent(".breakout/demo/demo-output.db").path
        #expect(try Self.sqlite(db, "SELECT COUNT(*) FROM census_breakout_errors") == "4\n")
    }

    /// `db test ORG/CONNECTION` tests the applied row by default, and says so; --from-config tests
    /// the organization file's values before they are applied.
    @Test func dbTestTestsTheAppliedConnection() throws {
        let dir = try Self.quickstartCopy()
        #expect(try CLI.run(["apply", "-c", dir.path, "--auto-approve"]).status == 0)
        #expect(try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"]).status == 0)  // makes the destination's folder
        let file = dir.appendingPathComponent("organizations/demo.yaml")
        let yaml = try String(contentsOf: file, encoding: .utf8)
        try Data(yaml.replacingOccurrences(of: "database: demo-output.db", with: "database: edited.db").utf8).write(to: file)
        let applied = try CLI.run(["db", "test", "demo/local", "-c", dir.path])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("Testing demo/local as applied (mt_database_connections row 1)"), "\(applied.stdout)")
        #expect(applied.stdout.contains("demo-output.db") && !applied.stdout.contains("edited.db"))
        let declared = try CLI.run(["db", "test", "demo/local", "-c", dir.path, "--from-config"])
        #expect(declared.status == 0, "\(declared.stderr)")
        #expect(declared.stdout.contains("as organizations/demo.yaml line") && declared.stdout.contains("edited.db"), "\(declared.stdout)")
        let missing = try CLI.run(["db", "test", "demo/other", "-c", dir.path])
        #expect(missing.status == 1 && missing.stderr.contains("has no connection \"other\" in the control tables"))
    }

    @Test func dryRunPrintsSQLAndCreatesNothing() throws {
        let dir = try Self.quickstartCopy()
        let plan = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo", "--dry-run", "--format", "sql"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.hasPrefix("-- breakout dry run for dictionary CENSUS: 400 pending case(s)"))
        #expect(plan.stdout.contains("CREATE TABLE IF NOT EXISTS \"census_level-2\""))
        #expect(plan.stdout.contains("INSERT INTO \"census_births\""))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".breakout").path))
    }

    /// `breakout plan` shows the config changes and, per job, the SQL its next run would execute.
    @Test func planShowsEachJobsSQLAndWritesNothing() throws {
        let dir = try Self.quickstartCopy()
        let text = try CLI.run(["plan", "-c", dir.path, "--detailed-exitcode"])
        #expect(text.status == 2)
        #expect(text.stdout.contains("Plan: 3 to add, 0 to change, 0 to destroy."))
        #expect(
            text.stdout.contains(
                "  demo/breakout-hourly · CENSUS → sqlite demo/local: 400 cases pending (1 chunk); schema create (new tables)\n"))
        // Concise by default: no SQL, no line a reviewer has to scroll sideways.
        #expect(!text.stdout.contains("CREATE TABLE"))
        #expect(text.stdout.split(separator: "\n").allSatisfy { $0.count <= 200 })
        let withSQL = try CLI.run(["plan", "-c", dir.path, "--show-sql"])
        #expect(withSQL.stdout.contains("CREATE TABLE IF NOT EXISTS \"census_level-2\""))
        #expect(withSQL.stdout.split(separator: "\n").allSatisfy { $0.count <= 200 }, "long statements are abbreviated")
        #expect(withSQL.stdout.contains(" characters, digest "))
        let offline = try CLI.run(["plan", "-c", dir.path, "--offline"])
        #expect(!offline.stdout.contains("CREATE TABLE"))
        let sql = try CLI.run(["plan", "-c", dir.path, "--format", "sql"])
        #expect(sql.stdout.hasPrefix("-- breakout plan: Plan: 3 to add"))
        #expect(sql.stdout.contains("INSERT INTO \"census_person\""))
        let json = try CLI.run(["plan", "-c", dir.path, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let jobs = object?["jobs"] as? [[String: Any]]
        #expect(jobs?.first?["pending_cases"] as? Int == 400)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".breakout").path))
        // After apply and a run, the plan is empty and the job has nothing pending.
        #expect(try CLI.run(["apply", "-c", dir.path, "--auto-approve"]).status == 0)
        #expect(try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"]).status == 0)
        let after = try CLI.run(["plan", "-c", dir.path, "--detailed-exitcode"])
        #expect(after.status == 0)
        #expect(after.stdout.contains(": 0 cases pending; schema unchanged"), "\(after.stdout)")
        // The markdown comment: no empty SQL block for a job with nothing to execute.
        let md = try CLI.run(["plan", "-c", dir.path, "--format", "markdown"])
        #expect(md.stdout.contains("- `demo/breakout-hourly · CENSUS → sqlite demo/local: 0 cases pending; schema unchanged`"))
        #expect(!md.stdout.contains("```sql\n\n```"))
    }

    /// `.csdb` and `.dat` sources declared in breakout.yaml.
    @Test func fileSourcesFromTheConfig() throws {
        let dir = try Self.quickstartCopy()
        let fixtures = CSProCLITests.fixtures
        try Data(
            "version: 1\nstate:\n  url: sqlite:.breakout/state.db\nsource:\n  type: csdb\n  path: \(fixtures)/cspro/ThreeLevel*.csdb\ndata_root: .breakout\n"
                .utf8
        )
        .write(to: dir.appendingPathComponent("breakout.yaml"))
        try Data(
            "organization: demo\nname: Demo\ndictionaries: [HOUSEHOLD_DICT]\nconnections:\n  - name: local\n    type: sqlite\n    database: out.db\n    default: true\n"
                .utf8
        )
        .write(to: dir.appendingPathComponent("organizations/demo.yaml"))
        var r = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("HOUSEHOLD_DICT: 1 cases loaded (1 new"))
        #expect(r.stdout.contains("household_dict_person_rec: "))
        r = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"])
        #expect(r.stdout.contains("0 cases loaded"))

        let dat = fixtures + "/cspro-examples/data/2_Edits___Batch_Programs__Writing_a_CSV_File__PopstanEx.dat"
        let dcf = fixtures + "/cspro-examples/dictionaries-json80/2_Edits___Batch_Programs__Writing_a_CSV_File__Popstan2.dcf"
        let name = try CLI.run(["dictionary", "inspect", dcf, "--format", "json"])
        let dictName = ((try JSONSerialization.jsonObject(with: Data(name.stdout.utf8))) as? [String: Any])?["name"] as? String ?? "?"
        try Data(
            "version: 1\nstate:\n  url: sqlite:.breakout/state.db\nsource:\n  type: dat\n  path: \(dat)\n  dictionary: \(dcf)\ndata_root: .breakout\n"
                .utf8
        )
        .write(to: dir.appendingPathComponent("breakout.yaml"))
        try Data(
            "organization: demo\nname: Demo\ndictionaries: [\(dictName)]\nconnections:\n  - name: local\n    type: sqlite\n    database: .breakout/dat.db\n    default: true\n"
                .utf8
        )
        .write(to: dir.appendingPathComponent("organizations/demo.yaml"))
        r = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\(dictName): 55 cases loaded (55 new"))
        // db test of a configured connection (not applied: its values from the organization file).
        let probe = try CLI.run(["db", "test", "demo/local", "-c", dir.path, "--from-config"])
        #expect(probe.status == 0, "\(probe.stderr)")
        #expect(probe.stdout.contains("create tables: yes"))
    }

    @Test func errorsNameTheProblemAndTheFix() throws {
        let dir = try Self.quickstartCopy()
        let org = try CLI.run(["process-cases", "-c", dir.path, "--org", "nope"])
        #expect(org.status == 1)
        #expect(org.stderr.contains("error: no organization \"nope\""))
        #expect(org.stderr.contains("hint: known organizations: demo"))
        let dict = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo", "SURVEY"])
        #expect(dict.status == 1)
        #expect(dict.stderr.contains("does not own dictionary SURVEY"))
        let include = try CLI.run(["process-cases", "-c", dir.path, "--org", "demo", "--include", "PERSONS"])
        #expect(include.status == 1)
        #expect(include.stderr.contains("did you mean PERSON?"))
    }

    @Test func dictionaryDDLForEveryDialect() throws {
        let dcf = CSProCLITests.fixtures + "/cspro/ThreeLevelTest.embedded.dcf"
        for (dialect, marker) in [
            ("postgresql", "CREATE SCHEMA IF NOT EXISTS \"household_dict\""), ("mysql", "ENGINE=InnoDB"),
            ("sqlserver", "IF OBJECT_ID(N'[household_dict].[level-3]', N'U') IS NULL"), ("pdo_sqlite", "\"household_dict_person_rec\""),
        ] {
            let r = try CLI.run(["dictionary", "ddl", dcf, "--dialect", dialect])
            #expect(r.status == 0, "\(dialect): \(r.stderr)")
            #expect(r.stdout.contains(marker), "\(dialect)")
            #expect(r.stdout.contains("sub_one(2)"))
        }
        let sqlNaming = try CLI.run(["dictionary", "ddl", dcf, "--dialect", "postgresql", "--naming", "sql"])
        #expect(sqlNaming.stdout.contains("\"sub_one_2\""))
        let bad = try CLI.run(["dictionary", "ddl", dcf, "--dialect", "oracle"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("hint: use postgresql, mysql, sqlserver or sqlite"))
    }

    /// kill -9 in the middle of a run, then a rerun, leaves exactly the tables of one clean run.
    @Test func killNineMidRunThenRerunEqualsCleanRun() throws {
        let bench = CLI.binary.deletingLastPathComponent().appendingPathComponent("breakout-bench").path
        let interrupted = try Self.quickstartCopy()
        let clean = try Self.quickstartCopy()
        for dir in [interrupted, clean] {
            #expect(
                try CLI.execute(bench, ["source", "--cases", "3000", "--out", dir.appendingPathComponent("data/csweb-sample.db").path])
                    .status == 0)
        }
        let db = interrupted.appendingPathComponent(".breakout/demo/demo-output.db").path
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["process-cases", "-c", interrupted.path, "--org", "demo", "--max-cases-per-chunk", "40"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until some chunks have committed, then kill without warning.
        var committed = 0
        let deadline = Date().addingTimeInterval(60)
        while committed < 400, Date() < deadline, process.isRunning {
            Thread.sleep(forTimeInterval: 0.02)
            committed =
                Int((try? Self.sqlite(db, "SELECT COUNT(*) FROM census_cases"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run finished before it could be killed; make the source larger")
        let loadedBefore =
            Int(try Self.sqlite(db, "SELECT COUNT(*) FROM census_cases").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(loadedBefore > 0 && loadedBefore < 2960)

        let rerun = try CLI.run(["process-cases", "-c", interrupted.path, "--org", "demo", "--max-cases-per-chunk", "40"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let once = try CLI.run(["process-cases", "-c", clean.path, "--org", "demo", "--max-cases-per-chunk", "40"])
        #expect(once.status == 0)
        let a = try Self.dataTables(db), b = try Self.dataTables(clean.appendingPathComponent(".breakout/demo/demo-output.db").path)
        #expect(a.count > 100_000)
        #expect(a == b)
    }
}

/// The runner as operators run it: crontab ticks, the daemon, jobs run/list.
@Suite struct RunnerCLITests {
    static func sqlite(_ db: String, _ sql: String) throws -> String { try BreakoutCLITests.sqlite(db, sql) }

    static func prepared(cases: Int = 400, jobExtra: String = "") throws -> URL {
        let dir = try BreakoutCLITests.quickstartCopy()
        if cases != 400 {
            let bench = CLI.binary.deletingLastPathComponent().appendingPathComponent("breakout-bench").path
            _ = try CLI.execute(
                bench, ["source", "--cases", String(cases), "--out", dir.appendingPathComponent("data/csweb-sample.db").path])
        }
        if !jobExtra.isEmpty {
            let path = dir.appendingPathComponent("organizations/demo.yaml")
            try Data((try String(contentsOf: path, encoding: .utf8) + jobExtra).utf8).write(to: path)
        }
        let apply = try CLI.run(["apply", "-c", dir.path, "--auto-approve"])
        #expect(apply.status == 0, "\(apply.stderr)")
        return dir
    }

    @Test func jobsRunListAndHandMadeCommands() throws {
        let dir = try Self.prepared()
        let state = dir.appendingPathComponent(".breakout/state.db").path
        var r = try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("CENSUS: 396 cases loaded"))
        #expect(
            try Self.sqlite(
                state,
                "SELECT last_run_status, trigger_type, status, cases_loaded FROM mt_cron_jobs j JOIN mt_job_runs r ON r.job_id = j.id")
                == "success|manual|success|396\n")
        let output = try Self.sqlite(state, "SELECT last_run_output FROM mt_cron_jobs")
        #expect(output.hasPrefix("CENSUS: 396 cases loaded (396 new"))
        r = try CLI.run(["jobs", "list", "-c", dir.path])
        #expect(r.stdout.contains("demo/breakout-hourly") && r.stdout.contains("success"))

        // The guide's hand-made row runs as the equivalent breakout; an unknown command fails clearly.
        _ = try Self.sqlite(
            state,
            """
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, is_active, created_time, modified_time)
            VALUES (1, 'Breakout quotidien', 'breakout', 'php /var/www/html/bin/console csweb:process-cases-by-dict --threads=3 --maxCasesPerChunk=1000 CENSUS', '0 2 * * *', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
                   (1, 'Broken', 'breakout', 'php bin/console csweb:something-else', '0 3 * * *', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
            """)
        r = try CLI.run(["jobs", "run", "demo/Breakout quotidien", "-c", dir.path, "--wait"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("CENSUS: 0 cases loaded"))
        r = try CLI.run(["jobs", "run", "demo/Broken", "-c", dir.path, "--wait"])
        #expect(r.status == 1)
        #expect(
            try Self.sqlite(state, "SELECT last_run_status, last_run_output FROM mt_cron_jobs WHERE job_name = 'Broken'").contains(
                "failed|job demo/Broken: cannot run the command"))
    }

    /// A YAML error left in one organization's file (not even applied) stops validate, plan and
    /// apply, and no organization's scheduled runs (issue 17).
    @Test func brokenOrganizationFileStopsNobodysRuns() throws {
        let dir = try Self.prepared()
        try Data("organization: broken\nname: [unclosed\n".utf8).write(to: dir.appendingPathComponent("organizations/broken.yaml"))
        for command in [
            ["jobs", "run", "demo/breakout-hourly", "--wait"], ["cron", "run"], ["status"], ["jobs", "list"],
            ["logs", "demo/breakout-hourly"],
        ] {
            let r = try CLI.run(command + ["-c", dir.path])
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect(!r.stderr.contains("broken.yaml"), "\(command): \(r.stderr)")
        }
        for command in [["validate"], ["plan"], ["apply", "--auto-approve"]] {
            let r = try CLI.run(command + ["-c", dir.path])
            #expect(r.status == 1 && r.stderr.contains("organizations/broken.yaml:"), "\(command): \(r.stderr)")
        }
    }

    /// `jobs run` without --wait (the guide's Play button) starts this very binary in the
    /// background, not whatever `./breakout` sits in the current directory (issue 17).
    @Test func playButtonStartsThisBinaryFromAnyDirectory() throws {
        let dir = try Self.prepared()
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-cwd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let marker = elsewhere.appendingPathComponent("impostor-ran").path
        try Data("#!/bin/sh\ntouch \(marker)\n".utf8).write(to: elsewhere.appendingPathComponent("breakout"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: elsewhere.appendingPathComponent("breakout").path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "breakout jobs run demo/breakout-hourly -c '\(dir.path)'"]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = CLI.binary.deletingLastPathComponent().path + ":/usr/bin:/bin"
        p.environment = env
        p.currentDirectoryURL = elsewhere
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let state = dir.appendingPathComponent(".breakout/state.db").path
        var status = ""
        for _ in 0..<300 where status != "success\n" {
            Thread.sleep(forTimeInterval: 0.1)
            status = (try? Self.sqlite(state, "SELECT last_run_status FROM mt_cron_jobs")) ?? ""
        }
        #expect(status == "success\n")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// The processes whose parent is `pid` (a runner's run processes).
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
                return false
            }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    /// A runner and its run process killed with SIGKILL mid-run (the host crashed): after the
    /// lease expires the run is marked failed and retried, and the tables equal those of one
    /// clean run.
    @Test func killedRunnerIsFailedThenRetried() throws {
        let dir = try Self.prepared(cases: 3000)
        let path = dir.appendingPathComponent("organizations/demo.yaml")
        let yaml = try String(contentsOf: path, encoding: .utf8).replacingOccurrences(
            of: "schedule: \"@hourly\"", with: "schedule: \"@hourly\"\n    retries: 1\n    max_cases_per_chunk: 40\n    threads: 1")
        try Data(yaml.utf8).write(to: path)
        #expect(try CLI.run(["apply", "-c", dir.path, "--auto-approve"]).status == 0)
        let state = dir.appendingPathComponent(".breakout/state.db").path
        let output = dir.appendingPathComponent(".breakout/demo/demo-output.db").path
        var env = ProcessInfo.processInfo.environment
        env["BREAKOUT_LEASE_SECONDS"] = "2"
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait"]
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, p.isRunning,
            (Int((try? Self.sqlite(output, "SELECT COUNT(*) FROM census_cases"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
                ?? 0) < 400
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let runProcesses = Self.children(of: p.processIdentifier)
        #expect(runProcesses.count == 1, "the run is one child process of the runner")
        kill(p.processIdentifier, SIGKILL)
        for child in runProcesses { kill(child, SIGKILL) }
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(try Self.sqlite(state, "SELECT status FROM mt_job_runs") == "running\n")
        Thread.sleep(forTimeInterval: 2.5)
        var r = try CLI.run(["cron", "run", "-c", dir.path], environment: ["BREAKOUT_LEASE_SECONDS": "2"])
        #expect(r.stdout.contains("breakout-hourly: its runner was lost"), "\(r.stdout) \(r.stderr)")
        r = try CLI.run(["cron", "run", "-c", dir.path], environment: ["BREAKOUT_LEASE_SECONDS": "2"])
        #expect(r.stdout.contains("ran breakout-hourly"), "\(r.stdout) \(r.stderr)")
        #expect(try Self.sqlite(state, "SELECT trigger_type, status FROM mt_job_runs ORDER BY id") == "manual|failed\nretry|success\n")
        // Same tables as one clean run.
        let clean = try Self.prepared(cases: 3000)
        #expect(try CLI.run(["process-cases", "-c", clean.path, "--org", "demo"]).status == 0)
        #expect(
            try BreakoutCLITests.dataTables(output)
                == (try BreakoutCLITests.dataTables(clean.appendingPathComponent(".breakout/demo/demo-output.db").path)))
    }

    /// Export jobs: CSV per table and a datapackage.json in a dated folder, published whole.
    @Test func exportJobWritesCSVAndDatapackage() throws {
        let dir = try Self.prepared(
            jobExtra: "  - name: monthly-export\n    type: export\n    schedule: \"0 3 1 * *\"\n    output: exports\n")
        let r = try CLI.run(["jobs", "run", "demo/monthly-export", "-c", dir.path, "--wait"])
        #expect(r.status == 0, "\(r.stderr)")
        // The current cases only: 396 decoded, 9 of them flagged deleted.
        #expect(r.stdout.contains("CENSUS: exported 387 cases") && r.stdout.contains("9 deleted cases left out"), "\(r.stdout)")
        let parent = dir.appendingPathComponent(".breakout/demo/exports/CENSUS")
        let folders = try FileManager.default.contentsOfDirectory(atPath: parent.path)
        #expect(folders.count == 1 && !folders[0].hasPrefix("."), "\(folders)")
        let folder = parent.appendingPathComponent(folders[0])
        let person = try String(contentsOf: folder.appendingPathComponent("person.csv"), encoding: .utf8)
        let lines = person.split(separator: "\r\n")
        #expect(lines.count == 1 + 1360)  // the persons of current cases: as many as census_person_view has
        #expect(lines[0] == "person-id,level-2-id,p01_name,p02_sex,p03_age,p04_income,p05_phone")
        let package =
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("datapackage.json"))) as? [String: Any]
        let resources = package?["resources"] as? [[String: Any]] ?? []
        #expect(
            resources.map { $0["path"] as? String ?? "" }.sorted() == [
                "births.csv", "cases.csv", "deaths.csv", "housing.csv", "level-1.csv", "level-2.csv", "notes.csv", "person.csv",
                "value_labels.csv",
            ])
        let personFields =
            ((resources.first { $0["path"] as? String == "person.csv" }?["schema"] as? [String: Any])?["fields"] as? [[String: Any]]) ?? []
        #expect(personFields.first { $0["name"] as? String == "p04_income" }?["type"] as? String == "number")
        #expect(personFields.first { $0["name"] as? String == "p01_name" }?["type"] as? String == "string")
        let labels = try String(contentsOf: folder.appendingPathComponent("value_labels.csv"), encoding: .utf8)
        #expect(labels.contains("P02_SEX,P02_SEX_VS1,2,,,FR,Féminin"))

        // include_deleted keeps them, flagged.
        let all = try Self.prepared(
            jobExtra:
                "  - name: monthly-export\n    type: export\n    schedule: \"0 3 1 * *\"\n    output: exports\n    include_deleted: true\n")
        let kept = try CLI.run(["jobs", "run", "demo/monthly-export", "-c", all.path, "--wait"])
        #expect(kept.stdout.contains("CENSUS: exported 396 cases") && kept.stdout.contains("9 of them flagged deleted"), "\(kept.stdout)")
        let allParent = all.appendingPathComponent(".breakout/demo/exports/CENSUS")
        let allFolder = allParent.appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: allParent.path)[0])
        let everyone = try String(contentsOf: allFolder.appendingPathComponent("person.csv"), encoding: .utf8)
        #expect(everyone.split(separator: "\r\n").count == 1390)
    }

    /// `formats: [stata]` through the runner: a .dta per record and no CSV, listed in
    /// datapackage.json; and the one-off `breakout export` writes the same files.
    @Test func exportJobWritesStataFiles() throws {
        let dir = try Self.prepared(
            jobExtra: "  - name: monthly-export\n    type: export\n    schedule: \"0 3 1 * *\"\n    output: exports\n    formats: [stata]\n"
        )
        let r = try CLI.run(["jobs", "run", "demo/monthly-export", "-c", dir.path, "--wait"])
        #expect(r.status == 0, "\(r.stderr)")
        let parent = dir.appendingPathComponent(".breakout/demo/exports/CENSUS")
        let folders = try FileManager.default.contentsOfDirectory(atPath: parent.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: parent.appendingPathComponent(folders[0]).path).sorted()
        #expect(files == ["births.dta", "datapackage.json", "deaths.dta", "housing.dta", "person.dta"], "\(files)")
        let head = try FileHandle(forReadingFrom: parent.appendingPathComponent(folders[0]).appendingPathComponent("person.dta"))
        #expect(
            String(decoding: try head.read(upToCount: 45) ?? Data(), as: UTF8.self).hasPrefix("<stata_dta><header><release>118</release>"))

        let once = try CLI.run(["export", "-c", dir.path, "--org", "demo", "--format", "stata", "--output", "once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stdout.contains("  dta: births.dta deaths.dta housing.dta person.dta\n"), "\(once.stdout)")
        #expect(once.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 || $0.hasPrefix("  /") }, "\(once.stdout)")
        let wrong = try CLI.run(["export", "-c", dir.path, "--org", "demo", "--format", "xlsx"])
        #expect(wrong.status != 0 && wrong.stderr.contains("unknown export format \"xlsx\""), "\(wrong.stderr)")
    }

    /// `--log-format json`: one object per line, each carrying organization, job and run id.
    @Test func jsonLogLinesCarryTheRun() throws {
        let dir = try Self.prepared()
        let r = try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait", "--log-format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let messages = lines.compactMap { $0["message"] as? String }
        #expect(messages.contains("run started") && messages.contains("progress") && messages.contains("run success"), "\(r.stderr)")
        #expect(
            lines.allSatisfy { $0["organization"] as? String == "demo" && $0["job"] as? String == "breakout-hourly" && $0["run_id"] != nil }
        )
        #expect(lines.first { $0["message"] as? String == "run success" }?["cases"] as? String == "396")
        let text = try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait"])
        #expect(text.stderr.contains("info demo/breakout-hourly run=2: run started"), "\(text.stderr)")
        let bad = try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait", "--log-format", "xml"])
        #expect(bad.status != 0 && bad.stderr.contains("--log-format must be text or json"))
    }

    /// `status` (the guide's dashboard in a terminal) and `logs`.
    @Test func statusAndLogs() throws {
        let dir = try Self.prepared()
        let state = dir.appendingPathComponent(".breakout/state.db").path
        #expect(try CLI.run(["jobs", "run", "demo/breakout-hourly", "-c", dir.path, "--wait"]).status == 0)
        _ = try Self.sqlite(
            state,
            """
            INSERT INTO mt_cron_jobs (organization_id, job_name, job_type, command, cron_expression, is_active)
            VALUES (1, 'Broken', 'breakout', 'php bin/console csweb:something-else', '0 3 * * *', 1)
            """)
        _ = try CLI.run(["jobs", "run", "demo/Broken", "-c", dir.path, "--wait"])
        let status = try CLI.run(["status", "-c", dir.path])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("demo            Demo statistics office              1 conn.   2 active jobs"))
        #expect(status.stdout.contains("RUNNING NOW: none"))
        #expect(status.stdout.contains("FAILED LAST RUN\n  demo/Broken"))
        let jobLines = status.stdout.components(separatedBy: "JOBS (failures first)\n")[1].split(separator: "\n")
        #expect(jobLines[1].hasPrefix("  demo/Broken") && jobLines[2].hasPrefix("  demo/breakout-hourly"))
        #expect(jobLines[2].contains("success  396"))
        #expect(status.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 })
        let json = try CLI.run(["status", "-c", dir.path, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["jobs"] as? [[String: Any]])?.count == 2)
        let logs = try CLI.run(["logs", "demo/breakout-hourly", "-c", dir.path])
        #expect(logs.stdout.contains("manual · success") && logs.stdout.contains("CENSUS: 396 cases loaded"))
        let broken = try CLI.run(["logs", "demo/Broken", "-c", dir.path])
        #expect(broken.stdout.contains("failed") && broken.stdout.contains("cannot run the command"))
        let missing = try CLI.run(["logs", "demo/Broken", "-c", dir.path, "--run", "999"])
        #expect(missing.status == 1 && missing.stderr.contains("has no run 999"))
    }

    @Test func daemonStopsCleanlyOnSIGTERM() throws {
        let dir = try Self.prepared()
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["run", "-c", dir.path, "--max-sleep", "1"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1.5)
        kill(p.processIdentifier, SIGTERM)
        let start = Date()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(Date().timeIntervalSince(start) < 5)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("started") && text.contains("stopped"))
        // The daemon scheduled the job's first fire.
        #expect(
            !(try Self.sqlite(dir.appendingPathComponent(".breakout/state.db").path, "SELECT next_run_at FROM mt_cron_jobs"))
                .trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func cronNextPrintsFireTimes() throws {
        let r = try CLI.run(["cron", "next", "30 2 * * *", "--time-zone", "Europe/Paris", "--from", "2026-03-28T00:00:00Z", "--count", "3"])
        #expect(r.stdout == "2026-03-28T02:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n")
        let bad = try CLI.run(["cron", "next", "61 * * * *"])
        #expect(bad.status == 1 && bad.stderr.contains("minute"))
    }
}

/// `breakout serve`: pages, Run now with and without the token, the JSON API, /metrics, /healthz.
@Suite struct DashboardTests {
    struct HTTP {
        var status: Int
        var body: String
        var headers: [String: String]
    }

    /// A tiny HTTP client that does not follow redirects and keeps cookies by hand.
    static func request(
        _ url: String, method: String = "GET", form: String? = nil, cookie: String? = nil, headers: [String] = []
    ) throws -> HTTP {
        var args = ["-s", "-S", "-o", "-", "-D", "/dev/stderr", "-X", method, url]
        if let form { args += ["--data", form] }
        if let cookie { args += ["-H", "Cookie: \(cookie)"] }
        for header in headers { args += ["-H", header] }
        let curl = try CLI.execute("/usr/bin/curl", args)
        let lines = curl.stderr.split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let kv = line.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        return HTTP(status: status, body: curl.stdout, headers: headers)
    }

    /// Whether `url`'s body contains `text` within 10 s (figures measured in the background).
    static func eventually(_ url: String, contains text: String) throws -> Bool {
        for _ in 0..<100 {
            if try request(url).body.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// The dashboard token of these tests: at least 32 characters, as serve requires.
    static let secret = "open-sesame-open-sesame-open-sesame-0"

    /// A served sandbox: `serve` started on a free port with `serve.token` set; returns the base URL
    /// and the process (killed by the caller).
    static func serve(
        _ dir: URL, extra: String = "", environment: [String: String] = [:], arguments: [String] = []
    ) throws -> (base: String, server: Process) {
        let key =
            try environment["BREAKOUT_MASTER_KEY"]
            ?? CLI.run(["secrets", "keygen"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let env = environment.merging(["BREAKOUT_MASTER_KEY": key]) { $1 }
        let token = try CLI.run(["secrets", "encrypt"], environment: env, stdin: secret).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let settings = dir.appendingPathComponent("breakout.yaml")
        try Data((try String(contentsOf: settings, encoding: .utf8) + "serve:\n  token: \(token)\n" + extra).utf8).write(to: settings)
        let port = Int.random(in: 20_000...40_000)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "-c", dir.path, "--listen", "127.0.0.1:\(port)", "--lag-interval", "1"] + arguments
        server.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<100 where !ready {
            Thread.sleep(forTimeInterval: 0.1)
            ready = (try? request(base + "/healthz"))?.status == 200
        }
        #expect(ready)
        return (base, server)
    }

    /// Issue 21, points 2 and 3: safe on a network. Security headers on every page, only the
    /// allowed Host names served, a status from a hand-made row shown as text (not an attribute),
    /// sessions that can be ended, failed attempts rate-limited, names of any kind in URLs.
    @Test func dashboardIsSafeOnANetwork() throws {
        let dir = try RunnerCLITests.prepared(
            jobExtra: """
                  - name: Breakout quotidien ANSD é
                    type: breakout
                    schedule: "@daily"

                """)
        let state = dir.appendingPathComponent(".breakout/state.db").path
        // A hand-made run row whose status is markup.
        _ = try RunnerCLITests.sqlite(
            state,
            "INSERT INTO mt_job_runs (job_id, trigger_type, started_at, finished_at, status, output) "
                + "SELECT id, 'manual', '2026-12-01 10:00:00', '2026-12-01 10:01:00', 'x onclick=alert(1)', '' FROM mt_cron_jobs "
                + "WHERE job_name = 'breakout-hourly'; UPDATE mt_cron_jobs SET last_run_status = 'x onclick=alert(1)', last_run_output = '<b>boom</b>' || char(10) || 'more' "
                + "WHERE job_name = 'breakout-hourly'")
        #expect(try RunnerCLITests.sqlite(state, "SELECT COUNT(*) FROM mt_job_runs WHERE status LIKE 'x %'") == "1\n")
        let (base, server) = try Self.serve(dir, extra: "  allowed_hosts: [dashboard.example.org]\n")
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        // Headers on every response.
        let overview = try Self.request(base + "/")
        #expect(overview.status == 200)
        #expect(overview.headers["content-security-policy"]?.contains("default-src 'none'") == true, "\(overview.headers)")
        #expect(overview.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
        #expect(overview.headers["x-frame-options"] == "DENY" && overview.headers["x-content-type-options"] == "nosniff")
        #expect(overview.headers["referrer-policy"] == "no-referrer")
        #expect(!overview.body.contains("<style>") && overview.body.contains("href=\"/style.css\""))
        #expect(try Self.request(base + "/style.css").headers["content-type"]?.hasPrefix("text/css") == true)

        // Host names: the allowed one and loopback; another is refused (DNS rebinding).
        #expect(try Self.request(base + "/", headers: ["Host: evil.example"]).status == 421)
        #expect(try Self.request(base + "/metrics", headers: ["Host: evil.example:80"]).status == 421)
        #expect(try Self.request(base + "/", headers: ["Host: dashboard.example.org"]).status == 200)
        #expect(try Self.request(base + "/", headers: ["Host: localhost"]).status == 200)

        // The status is text in a fixed class, never an attribute.
        let job = try Self.request(base + "/org/demo/jobs/breakout-hourly")
        #expect(job.body.contains("<span class=\"other\">x onclick=alert(1)</span>"), "\(job.body)")
        // In the chart too the hand-made status is text (a title) in a fixed colour.
        #expect(job.body.contains("<title>#1 x onclick=alert(1)") && job.body.contains("fill=\"#999999\""), "\(job.body)")
        #expect(job.body.range(of: "<[^>]*onclick", options: .regularExpression) == nil, "an onclick attribute in a tag")

        // The failure's first line next to the status, as text.
        let orgPage = try Self.request(base + "/org/demo")
        #expect(orgPage.body.contains("<span class=\"muted\">&lt;b&gt;boom&lt;/b&gt;</span>"), "\(orgPage.body)")
        // Names needing percent-encoding: the page, and Run now through the API.
        let encoded = "Breakout%20quotidien%20ANSD%20%C3%A9"
        let named = try Self.request(base + "/org/demo/jobs/" + encoded)
        #expect(named.status == 200 && named.body.contains("Breakout quotidien ANSD é"), "\(named.status)")
        let org = try Self.request(base + "/org/demo")
        #expect(org.body.contains("/org/demo/jobs/\(encoded)"), "links are percent-encoded")
        let run = try Self.request(
            base + "/org/demo/jobs/\(encoded)/run", method: "POST", headers: ["Authorization: Bearer \(Self.secret)"])
        #expect(run.status == 303 && run.headers["location"] == "/org/demo/jobs/\(encoded)", "\(run.status) \(run.headers)")

        // Sessions: signed in, signed out; the old cookie is worth nothing afterwards.
        let login = try Self.request(base + "/login", method: "POST", form: "token=\(Self.secret)")
        #expect(login.status == 303 && login.headers["set-cookie"]?.contains("Max-Age=43200") == true)
        let cookie = String((login.headers["set-cookie"] ?? "").split(separator: ";").first ?? "")
        let signedIn = try Self.request(base + "/org/demo", cookie: cookie)
        #expect(signedIn.body.contains("Sign out") && signedIn.body.contains("Run now"))
        let csrf = signedIn.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" } ?? ""
        let logout = try Self.request(base + "/logout", method: "POST", form: "csrf=\(csrf)", cookie: cookie)
        #expect(logout.status == 303 && logout.headers["set-cookie"]?.contains("Max-Age=0") == true)
        let after = try Self.request(base + "/org/demo", cookie: cookie)
        #expect(!after.body.contains("Run now") && after.body.contains("Sign in"))
        #expect(
            try Self.request(base + "/org/demo/jobs/breakout-hourly/run", method: "POST", form: "csrf=\(csrf)", cookie: cookie).status
                == 403)

        // Guessing: ten failures a minute per client, then 429 with Retry-After, for the right token too.
        for _ in 0..<5 { #expect(try Self.request(base + "/login", method: "POST", form: "token=guess").status == 403) }
        for _ in 0..<5 {
            #expect(
                try Self.request(base + "/org/demo/jobs/breakout-hourly/run", method: "POST", headers: ["Authorization: Bearer guess"])
                    .status == 403)
        }
        let locked = try Self.request(base + "/login", method: "POST", form: "token=\(Self.secret)")
        #expect(locked.status == 429 && Int(locked.headers["retry-after"] ?? "") ?? 0 > 0, "\(locked.status) \(locked.headers)")
    }

    /// Many slow clients (issue 21): 700 sockets that send half a request head and wait — more
    /// than the 512 connections the dashboard takes — do not stall it: /healthz answers at once
    /// (a new connection takes the place of the oldest one still waiting for its head), and every
    /// slow socket is closed by the server once its head is 10 s late.
    @Test func manySlowClientsCannotStallTheDashboard() throws {
        let dir = try RunnerCLITests.prepared()
        let (base, server) = try Self.serve(dir)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let script = """
            import json, socket, subprocess, sys, time
            host, port = sys.argv[1].split("//")[1].split(":")
            socks = []
            for i in range(700):
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Slow: ")
                socks.append(s)
            time.sleep(0.5)
            t = time.time()
            code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", sys.argv[1] + "/healthz"],
                                  capture_output=True, text=True).stdout
            healthz = time.time() - t
            time.sleep(11.5)
            closed = 0
            for s in socks:
                s.setblocking(False)
                try:
                    if s.recv(1024) == b"": closed += 1
                except BlockingIOError:
                    pass
                except OSError:
                    closed += 1
            print(json.dumps({"code": code, "healthz": healthz, "closed": closed}))
            """
        let r = try CLI.execute("/usr/bin/python3", ["-c", script, base])
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["code"] as? String == "200", "\(r.stdout) \(r.stderr)")
        #expect((report?["healthz"] as? Double ?? 99) < 2, "\(r.stdout)")
        #expect(report?["closed"] as? Int == 700, "\(r.stdout)")
        // And the dashboard still serves afterwards.
        #expect(try Self.request(base + "/healthz").status == 200)
    }

    /// Issue 21, point 1: a tenant destination that accepts TCP and never answers holds up neither
    /// /healthz nor /metrics (the lag is measured in the background and served from memory), nor
    /// the pages: every handler's database work is off the event loop.
    @Test func aStuckTenantHoldsUpNothing() throws {
        // The stuck tenant: accepts connections, never says a word, and counts them.
        let port = Int.random(in: 41_000...45_000)
        let accepted = FileManager.default.temporaryDirectory.appendingPathComponent("stuck-\(UUID().uuidString)")
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        listener.arguments = [
            "-c",
            "import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                + "s.bind(('127.0.0.1',\(port)))\ns.listen(200)\nc=[]\nwhile True:\n  c.append(s.accept())\n"
                + "  open(sys.argv[1],'w').write(str(len(c)))",
            accepted.path,
        ]
        try listener.run()
        defer { kill(listener.processIdentifier, SIGKILL); listener.waitUntilExit() }
        let dir = try BreakoutCLITests.quickstartCopy()
        let demo = dir.appendingPathComponent("organizations/demo.yaml")
        let org =
            try String(contentsOf: demo, encoding: .utf8)
            .replacingOccurrences(
                of: "    default: true\n",
                with: "    default: true\n  - name: stuck\n    type: postgresql\n    host: 127.0.0.1\n    port: \(port)\n"
                    + "    database: census\n    username: tenant\n    password: ${env:STUCK_PASSWORD}\n")
            + "  - name: stuck-hourly\n    type: breakout\n    schedule: \"@hourly\"\n    connection: stuck\n"
        try Data(org.utf8).write(to: demo)
        let key = try CLI.run(["secrets", "keygen"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let env = ["STUCK_PASSWORD": "irrelevant", "BREAKOUT_MASTER_KEY": key, "BREAKOUT_KEY_FILE": ""]
        let apply = try CLI.run(["apply", "-c", dir.path, "--auto-approve"], environment: env)
        try #require(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        // A measurement every second, each destination waited for at most 2 s.
        let (base, server) = try Self.serve(dir, environment: env, arguments: ["--lag-timeout", "2"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        Thread.sleep(forTimeInterval: 1)  // the lag probe is now stuck on the tenant
        // Eight scrapes and a health check at once: each answers at once.
        let started = Date()
        let results = Mutex<[(String, Int, Double)]>([])
        DispatchQueue.concurrentPerform(iterations: 9) { i in
            let path = i == 8 ? "/healthz" : "/metrics"
            let t0 = Date()
            let status = (try? Self.request(base + path))?.status ?? 0
            results.withLock { $0.append((path, status, Date().timeIntervalSince(t0))) }
        }
        for (path, status, seconds) in results.withLock({ $0 }) {
            #expect(status == 200 && seconds < 3, "\(path): \(status) after \(seconds) s")
        }
        #expect(Date().timeIntervalSince(started) < 5)
        // The stuck tenant costs its own line only: the demo destination's lag is measured and
        // shown, the tenant's is reported as not answering.
        var metrics = ""
        for _ in 0..<40 where !metrics.contains("breakout_dictionary_lag_age_seconds") {
            Thread.sleep(forTimeInterval: 0.25)
            metrics = try Self.request(base + "/metrics").body
        }
        #expect(
            metrics.contains("breakout_dictionary_pending_cases{organization=\"demo\",connection=\"local\",dictionary=\"CENSUS\"} 400"),
            "\(metrics)")
        #expect(
            metrics.contains("breakout_dictionary_lag_probe_up{organization=\"demo\",connection=\"stuck\",dictionary=\"CENSUS\"} 0"),
            "\(metrics)")
        // The pages too (the state store answers; the tenant is not asked), with the reason.
        let page = try Self.request(base + "/org/demo")
        #expect(page.status == 200)
        #expect(page.body.contains("did not answer within 2 s") || page.body.contains("not asked again"), "\(page.body)")
        // Rounds every second for a few seconds, yet the hung connection is not opened again and
        // again: a stuck measurement holds one thread until the database answers or gives up.
        Thread.sleep(forTimeInterval: 4)
        let connections = Int((try? String(contentsOf: accepted, encoding: .utf8)) ?? "0") ?? 0
        #expect((1...2).contains(connections), "the stuck tenant was connected to \(connections) times")
    }

    /// A token shorter than 32 characters: validate refuses it (encrypted), serve refuses it (${env:}).
    @Test func shortTokensAreRefused() throws {
        let dir = try BreakoutCLITests.quickstartCopy()
        let key = try CLI.run(["secrets", "keygen"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let env = ["BREAKOUT_MASTER_KEY": key, "BREAKOUT_KEY_FILE": ""]
        let short = try CLI.run(["secrets", "encrypt"], environment: env, stdin: "open sesame").stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let settings = dir.appendingPathComponent("breakout.yaml")
        let original = try String(contentsOf: settings, encoding: .utf8)
        try Data((original + "serve:\n  token: \(short)\n").utf8).write(to: settings)
        let validate = try CLI.run(["validate", "-c", dir.path], environment: env)
        #expect(validate.status == 1 && validate.stderr.contains("11 characters; it must be at least 32"), "\(validate.stderr)")
        try Data((original + "serve:\n  token: ${env:DASH_TOKEN}\n").utf8).write(to: settings)
        #expect(
            try CLI.run(["apply", "-c", dir.path, "--auto-approve"], environment: env.merging(["DASH_TOKEN": "short"]) { $1 }).status == 0)
        let serve = try CLI.run(
            ["serve", "-c", dir.path, "--listen", "127.0.0.1:1"], environment: env.merging(["DASH_TOKEN": "short"]) { $1 })
        #expect(serve.status != 0 && serve.stderr.contains("serve.token is 5 characters"), "\(serve.stderr)")
    }

    @Test func dashboardRunNowAndMetrics() throws {
        // A source big enough, and chunks small enough, for the run to be seen while it runs.
        let dir = try RunnerCLITests.prepared(cases: 3000)
        let demo = dir.appendingPathComponent("organizations/demo.yaml")
        try Data(
            try String(contentsOf: demo, encoding: .utf8).replacingOccurrences(
                of: "schedule: \"@hourly\"", with: "schedule: \"@hourly\"\n    max_cases_per_chunk: 10\n    threads: 1"
            ).utf8
        ).write(to: demo)
        #expect(try CLI.run(["apply", "-c", dir.path, "--auto-approve"]).status == 0)
        let (base, server) = try Self.serve(dir)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        // Overview and organization pages, read-only without the token.
        let overview = try Self.request(base + "/")
        #expect(
            overview.status == 200 && overview.body.contains("demo/breakout-hourly") && overview.body.contains("every hour at minute 0"))
        #expect(!overview.body.contains("Run now") && !overview.body.contains("<script>"))
        // One script, the pages' own, from the server (the CSP allows 'self' only).
        #expect(
            overview.body.components(separatedBy: "<script").count == 2
                && overview.body.contains("<script src=\"/live.js\" defer></script>"))
        #expect(try Self.request(base + "/live.js").headers["content-type"]?.hasPrefix("text/javascript") == true)
        // Before any run the whole source is pending (measured in the background, every second here).
        #expect(
            try Self.eventually(
                base + "/metrics",
                contains: "breakout_dictionary_pending_cases{organization=\"demo\",connection=\"local\",dictionary=\"CENSUS\"} 3000"))
        let org = try Self.request(base + "/org/demo")
        #expect(org.body.contains("pdo_sqlite") && !org.body.contains("Run now"))
        // The cases waiting, on the organization's page too, with the figure's age.
        #expect(try Self.eventually(base + "/org/demo", contains: "<td>CENSUS</td><td><span class=\"overdue\">3000</span></td>"))
        #expect(try Self.request(base + "/org/demo").body.contains("Measured "))
        // A forged POST is refused.
        #expect(try Self.request(base + "/org/demo/jobs/breakout-hourly/run", method: "POST", form: "csrf=x").status == 403)
        #expect(try Self.request(base + "/login", method: "POST", form: "token=wrong").status == 403)
        // Signed in: the button appears; a POST without the page's CSRF value is still refused.
        let login = try Self.request(base + "/login", method: "POST", form: "token=\(Self.secret)")
        #expect(login.status == 303)
        let cookie = String((login.headers["set-cookie"] ?? "").split(separator: ";").first ?? "")
        #expect(cookie.hasPrefix("breakout_session="))
        let signedIn = try Self.request(base + "/org/demo", cookie: cookie)
        #expect(signedIn.body.contains("Run now"))
        let csrf = signedIn.body.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.prefix { $0 != "\"" } ?? ""
        #expect(
            try Self.request(base + "/org/demo/jobs/breakout-hourly/run", method: "POST", form: "csrf=forged", cookie: cookie).status == 403
        )
        let run = try Self.request(base + "/org/demo/jobs/breakout-hourly/run", method: "POST", form: "csrf=\(csrf)", cookie: cookie)
        #expect(run.status == 303)
        // The run appears as running, then succeeds.
        var status = "", sawRunning = false, sawProgress = false
        for _ in 0..<600 where status != "success" {
            let json = try JSONSerialization.jsonObject(with: Data(try Self.request(base + "/api/status").body.utf8)) as? [String: Any]
            let job = (json?["jobs"] as? [[String: Any]])?.first
            if job?["running"] as? Bool == true { sawRunning = true }
            if let p = job?["progress"] as? String, p.hasPrefix("CENSUS "), p.contains("/3000 cases") { sawProgress = true }
            status = (job?["last_status"] as? String) ?? ""
            if status != "success" { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(sawRunning && sawProgress)
        #expect(status == "success")
        let jobPage = try Self.request(base + "/org/demo/jobs/breakout-hourly")
        #expect(jobPage.body.contains("manual") && jobPage.body.contains("<span class=\"partial\">success</span>"))
        // The run set 30 undecodable cases aside: a warning, not plain success; and where the job is declared.
        #expect(
            jobPage.body.contains("(30 undecodable cases set aside)")
                && jobPage.body.contains("Declared in <code>organizations/demo.yaml</code>"))
        let runPage = try Self.request(base + "/runs/1")
        #expect(runPage.body.contains("CENSUS: 2970 cases loaded") && runPage.body.contains("Failed cases and errors"))
        // Pictures: the job's recent runs (a bar per run, coloured: orange for cases set aside) and
        // the organization's trend on the overview; SVG in the page, no script.
        #expect(jobPage.body.contains("<svg class=\"chart\"") && jobPage.body.contains("<title>#1 success"), "\(jobPage.body)")
        #expect(jobPage.body.contains("fill=\"#b35c00\"") && jobPage.body.contains("2970 cases, 30 set aside"))
        let overviewPage = try Self.request(base + "/")
        #expect(overviewPage.body.contains("<svg class=\"trend\"") && overviewPage.body.contains("aria-label=\"Last 1 runs: 0 failed\""))
        #expect(!jobPage.body.contains("<script>"))

        // French, from the browser's Accept-Language, or the switch (remembered in a cookie); dates
        // in French too. The JSON and the metrics stay English.
        let french = try Self.request(base + "/", headers: ["Accept-Language: fr-SN,fr;q=0.9,en;q=0.5"])
        #expect(french.body.contains("<html lang=\"fr\">") && french.body.contains("Jobs en cours d'exécution"), "\(french.body)")
        #expect(
            french.body.contains("Organisations") && french.body.contains("succès") && french.body.contains("cas illisibles mis de côté"))
        #expect(french.body.contains("toutes les heures à la minute 0") && french.body.contains("English</a>"))
        let frenchJob = try Self.request(base + "/org/demo/jobs/breakout-hourly", headers: ["Accept-Language: fr"])
        #expect(frenchJob.body.contains("Historique") && frenchJob.body.contains("Déclarée dans") && frenchJob.body.contains("Durée"))
        // What started the run is a word too: "manual" → "manuelle".
        #expect(frenchJob.body.contains("<td>manuelle</td>") && !frenchJob.body.contains("<td>manual</td>"), "\(frenchJob.body)")
        let month = DateFormatter()
        month.locale = Locale(identifier: "fr_FR")
        month.dateFormat = "MMM"
        #expect(frenchJob.body.contains(" \(month.string(from: Date())) 20"), "a French date")
        let english = try Self.request(base + "/", headers: ["Accept-Language: en;q=0.9, fr;q=0.8"])
        #expect(english.body.contains("<html lang=\"en\">") && english.body.contains("Running now"))
        let switched = try Self.request(base + "/org/demo?lang=fr")
        #expect(switched.body.contains("Connexions") && switched.headers["set-cookie"]?.contains("breakout_lang=fr") == true)
        #expect(try Self.request(base + "/", cookie: "breakout_lang=fr").body.contains("Vue d'ensemble"))
        let api = try Self.request(base + "/api/status", headers: ["Accept-Language: fr"]).body
        #expect(api.contains("every hour at minute 0") && !api.contains("toutes les heures"))

        // /metrics parses as Prometheus text (with the official parser when installed).
        let metrics = try Self.request(base + "/metrics")
        #expect(metrics.body.contains("breakout_job_runs_total{organization=\"demo\",job=\"breakout-hourly\",status=\"success\"} 1"))
        #expect(metrics.body.contains("breakout_cases_loaded_total{organization=\"demo\",job=\"breakout-hourly\"} 2970"))
        #expect(
            try Self.eventually(
                base + "/metrics",
                contains: "breakout_dictionary_pending_cases{organization=\"demo\",connection=\"local\",dictionary=\"CENSUS\"} 0"))
        #expect(metrics.body.contains("breakout_dictionary_lag_age_seconds"))
        let parser = try CLI.execute(
            "/usr/bin/python3",
            [
                "-c",
                "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nprint(len(list(p(sys.stdin.read()))))",
            ],
            stdin: metrics.body)
        let families = parser.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if parser.status == 0 {
            #expect(Int(families) ?? 0 >= 7)
        } else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "python3-prometheus-client is missing under CI")
        }

        // Screenshots of each page in a real headless browser, for review.
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        if let chromium {
            let shots = ConfigCLITests.repository.appendingPathComponent(".build/screenshots")
            try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
            for (name, path) in [
                ("overview", "/"), ("organization", "/org/demo"), ("job", "/org/demo/jobs/breakout-hourly"), ("run", "/runs/1"),
                ("overview-fr", "/?lang=fr"), ("organization-fr", "/org/demo?lang=fr"),
                ("job-fr", "/org/demo/jobs/breakout-hourly?lang=fr"),
                ("run-fr", "/runs/1?lang=fr"),
            ] {
                let b = Process()
                b.executableURL = URL(fileURLWithPath: chromium)
                b.arguments = [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,900",
                    "--screenshot=\(shots.appendingPathComponent("\(name).png").path)", base + path,
                ]
                b.standardOutput = FileHandle.nullDevice
                b.standardError = FileHandle.nullDevice
                try b.run()
                b.waitUntilExit()
                let size =
                    (try? FileManager.default.attributesOfItem(atPath: shots.appendingPathComponent("\(name).png").path)[.size] as? Int)
                    ?? 0
                #expect(size > 5_000, "no screenshot of \(name)")
            }
            // The DOM a browser builds has the job and no button for an anonymous visitor.
            let dump = Process()
            dump.executableURL = URL(fileURLWithPath: chromium)
            dump.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", base + "/org/demo"]
            let dom = Pipe()
            dump.standardOutput = dom
            dump.standardError = FileHandle.nullDevice
            try dump.run()
            let text = String(decoding: dom.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            dump.waitUntilExit()
            #expect(text.contains("breakout-hourly") && !text.contains("Run now"))
            // A person's path through the browser (DevTools protocol): no button, sign in, button, press it, watch the run finish.
            // The destination goes first, so that this run loads every case again and has progress to show.
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: dir.appendingPathComponent(".breakout/demo/demo-output.db" + suffix).path)
            }
            let script = ConfigCLITests.repository.appendingPathComponent("scripts/browser-run-now.py").path
            let drive = Process()
            drive.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            drive.arguments = [script, chromium, base, Self.secret, "demo", "breakout-hourly", shots.path]
            let result = Pipe()
            drive.standardOutput = result
            drive.standardError = FileHandle.nullDevice
            try drive.run()
            let output = String(decoding: result.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            drive.waitUntilExit()
            let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            #expect(report?["button_before_login"] as? Bool == false)
            #expect(report?["button_after_login"] as? Bool == true)
            #expect(report?["final"] as? String == "success", "\(output)")
            // Watched without a reload: the page's script moved it from running (with progress) to success.
            #expect(report?["reloaded"] as? Bool == false, "\(output)")
            let texts = report?["texts"] as? [String] ?? []
            #expect(texts.contains { $0.hasPrefix("running") } && texts.last?.hasPrefix("success") == true, "\(output)")
            let runs = try JSONSerialization.jsonObject(with: Data(try Self.request(base + "/api/runs/2").body.utf8)) as? [String: Any]
            #expect(runs?["trigger"] as? String == "manual" && runs?["status"] as? String == "success")
        } else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "chromium is missing under CI")
        }
    }
}

/// docs/reference.md is generated from the code; it must say what the code does.
@Suite struct ReferenceTests {
    @Test func referenceMatchesTheCode() throws {
        let repository = ConfigCLITests.repository
        let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("reference-\(UUID().uuidString).md")
        defer { try? FileManager.default.removeItem(at: fresh) }
        let generated = try CLI.execute(
            "/usr/bin/env",
            ["python3", repository.appendingPathComponent("scripts/generate-reference.py").path, "--out", fresh.path, CLI.binary.path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let committed = try String(contentsOf: repository.appendingPathComponent("docs/reference.md"), encoding: .utf8)
        let current = try String(contentsOf: fresh, encoding: .utf8)
        let differing = zip(
            committed.split(separator: "\n", omittingEmptySubsequences: false),
            current.split(separator: "\n", omittingEmptySubsequences: false)
        )
        .enumerated().first { $0.element.0 != $0.element.1 }
        #expect(
            committed == current,
            "docs/reference.md differs from the code\(differing.map { " at line \($0.offset + 1): \"\($0.element.0)\" vs \"\($0.element.1)\"" } ?? " in length"); run scripts/generate-reference.py"
        )
        // The page covers every visible command and both configuration files.
        let help = try CLI.run(["--help"]).stdout
        for line in help.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {
            // Subcommand lines: "  name   what it does" (not options, not "  See 'breakout help …'").
            guard let name = line.split(separator: " ").first, !name.hasPrefix("-"), name.allSatisfy({ $0.isLowercase || $0 == "-" }) else {
                continue
            }
            #expect(current.contains("### `breakout \(name)`"), "no section for breakout \(name)")
        }
        #expect(current.contains("| `connections[].database` |") && current.contains("| `state.url` |"))
        #expect(current.contains("- `mt_cron_jobs`: "))
    }
}
