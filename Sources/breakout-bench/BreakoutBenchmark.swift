import Breakout
import CSPro
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL
import Verification

// End-to-end breakout against the physical limit, measured in one run (issue 9).
//
//   breakout-bench breakout [--cases 20000,200000] [--shape census|survey] [--settings 3x1000,2x1000,2x5000]
//                           [--sources mariadb,sqlite] [--json FILE] [--lean]
//
// --lean leaves out the source read profile and the keys-with-rows comparison (census-size runs).
//
// For each N and each source: a generated CSWeb source and its manifest, in MariaDB with CSWeb's
// own schema (`guid` primary key, `id` unique, an index on `revision` alone: the production setup,
// on the BREAKOUT_TEST_MYSQL_URL server) or in an SQLite file; for a MariaDB source, the read time of
// every chunk (first against last: it must not grow with what is left); for PostgreSQL and MariaDB
// (URLs from BREAKOUT_TEST_POSTGRES_URL / BREAKOUT_TEST_MYSQL_URL), one breakout per setting
// (threads × cases per chunk; the first is breakout's default) in a child process, so that its peak
// RSS and CPU time are its own; each destination checked against the manifest; the same rows
// loaded by the raw client (psql \copy, mariadb LOAD DATA LOCAL INFILE) into the same tables with
// the same indexes; and a re-run after 1% of the cases were re-synced. Every run also reports the
// CPU seconds of the database servers (ServerCPU). At a million cases and more only the default and
// the fastest setting of the previous N run. The growth of the rate with N ends the output; with
// --json, every line is also written there (scripts/plot-bench.py draws it).

struct OnceResult: Codable {
    var seconds: Double
    var cases: Int
    var failed: Int
    var rows: Int
    var cpu: Double
    var rssMiB: Double
}

/// A generated source: an SQLite file's path, or a server URL (`mysql://…`).
func sourceConfig(_ source: String) throws -> ConnectionConfig {
    source.contains("://")
        ? try ConnectionConfig.parse(url: source) : ConnectionConfig(engine: .sqlite, database: source, options: ["mode": "ro"])
}

/// The child: one breakout of a source into a destination namespace; prints an OnceResult as JSON.
///   breakout-bench breakout-once --source FILE|URL --dictionary NAME --url URL --namespace NS --threads T --chunk M
func runBreakoutOnce() throws {
    let source = stringOption("--source")!, url = stringOption("--url")!, namespace = stringOption("--namespace")!
    let config = try ConnectionConfig.parse(url: url)
    let feed = try CSWebFeed(
        source: CSWebSource(connection: try Databases.connect(try sourceConfig(source))), dictionary: stringOption("--dictionary")!)
    let engine = try BreakoutEngine(
        feed: feed, dialect: config.engine.dialect, options: SchemaOptions(), namespace: namespace,
        connect: { try Databases.connect(config.forBulkLoad) })
    var options = RunOptions(threads: option("--threads", 3), chunkSize: option("--chunk", 1000))
    options.deferKeys = !CommandLine.arguments.contains("--keys-with-rows")
    let summary = try engine.run(options)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    let result = OnceResult(
        seconds: summary.seconds, cases: summary.cases, failed: summary.failedCases, rows: summary.rows.values.reduce(0, +),
        cpu: cpu, rssMiB: peakRSSMiB())
    print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
}

/// One line of the benchmark's table, also written to the `--json` file (scripts/plot-bench.py
/// draws the growth of the rate with N from it).
struct BenchLine: Codable {
    enum Kind: String, Codable { case raw, rawDeferred, breakout, keysWithRows, rerun }
    var n: Int
    var destination: String
    var source: String
    var kind: Kind
    var what: String
    /// threads × cases per chunk; nil for the raw load.
    var threads: Int?
    var chunk: Int?
    var isDefault: Bool
    var seconds: Double
    var cases: Int
    var rows: Int
    var raw: Double?
    var rss: Double?
    var cpu: Double?
    /// CPU seconds of the database servers (source and destination) during the run.
    var serverCPU: Double?
    var check: String
    var matches: Bool

    var casesPerSecond: Double { Double(cases) / seconds }
    var label: String { destination + " ← " + source }
}

/// The settings measured at N: all of `settings` below a million cases; at a million and more, the
/// default and the fastest one at the largest smaller N (per destination), to keep a run short.
func settingsFor(
    _ n: Int, _ settings: [(threads: Int, chunk: Int)], lines: [BenchLine], label: String
) -> [(threads: Int, chunk: Int)] {
    guard n >= 1_000_000 else { return settings }
    let earlier = lines.filter { $0.label == label && $0.kind == .breakout && $0.n < n && $0.matches }
    guard let previous = earlier.map(\.n).max(),
        let fastest = earlier.filter({ $0.n == previous }).min(by: { $0.seconds < $1.seconds }),
        let t = fastest.threads, let c = fastest.chunk, (t, c) != (settings[0].threads, settings[0].chunk)
    else { return [settings[0]] }
    return [settings[0], (t, c)]
}

func runBreakoutBenchmark() throws {
    let environment = ProcessInfo.processInfo.environment
    let sizes = (stringOption("--cases") ?? "20000,200000").split(separator: ",").compactMap { Int($0) }
    let shape = SyntheticShape(rawValue: stringOption("--shape") ?? "census") ?? .census
    let settings: [(threads: Int, chunk: Int)] = (stringOption("--settings") ?? "3x1000,2x1000,2x5000").split(separator: ",").map {
        let p = $0.split(separator: "x").compactMap { Int($0) }
        return (p[0], p[1])
    }
    let jsonPath = stringOption("--json")
    let serverCPU = ServerCPU()
    var destinations: [(String, ConnectionConfig, String)] = []
    // --destinations postgresql,mariadb (default: every server whose URL is set). A MariaDB source
    // needs BREAKOUT_TEST_MYSQL_URL whether or not MariaDB is also a destination.
    let wanted = Set((stringOption("--destinations") ?? "postgresql,mariadb").split(separator: ",").map { $0.lowercased() })
    guard wanted.isSubset(of: ["postgresql", "mariadb"]) else {
        throw BreakoutError("--destinations takes postgresql and/or mariadb, got \(wanted.sorted().joined(separator: ","))")
    }
    if let url = environment["BREAKOUT_TEST_POSTGRES_URL"], wanted.contains("postgresql") {
        destinations.append(("PostgreSQL", try ConnectionConfig.parse(url: url), url))
    }
    if let url = environment["BREAKOUT_TEST_MYSQL_URL"], wanted.contains("mariadb") {
        destinations.append(("MariaDB", try ConnectionConfig.parse(url: url), url))
    }
    guard !destinations.isEmpty else {
        throw BreakoutError("set BREAKOUT_TEST_POSTGRES_URL and/or BREAKOUT_TEST_MYSQL_URL (make bench does)")
    }
    let me =
        CommandLine.arguments[0].hasPrefix("/")
        ? CommandLine.arguments[0]
        : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
    let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-bench-\(getpid())")
    try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: temporary) }

    var lines: [BenchLine] = []
    func show(_ l: BenchLine) {
        func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "–" }
        say(
            "| \(l.n) | \(l.label) | \(l.what) | \(f(l.seconds, "%.2f")) | \(f(l.casesPerSecond, "%.0f")) | \(f(Double(l.rows) / l.seconds, "%.0f")) | "
                + "\(f(l.raw.map { l.seconds / $0 }, "%.2f×")) | \(f(l.rss, "%.0f")) | \(f(l.cpu, "%.1f")) | \(f(l.serverCPU, "%.1f")) | \(l.check) |"
        )
        lines.append(l)
        if let jsonPath {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(lines) { FileManager.default.createFile(atPath: jsonPath, contents: data) }
        }
    }
    /// Runs `body` and returns its wall seconds and the servers' CPU seconds meanwhile.
    func measured(_ body: () throws -> Void) throws -> (wall: Double, server: Double?) {
        let before = serverCPU.seconds()
        let wall = try elapsed(body)
        let after = serverCPU.seconds()
        return (wall, before.flatMap { b in after.map { $0 - b } })
    }

    let sourceKinds = (stringOption("--sources") ?? "mariadb,sqlite").split(separator: ",").map(String.init)
    for n in sizes {
        for sourceKind in sourceKinds {
            // The source: a database on the MariaDB server (CSWeb's schema), or an SQLite file.
            let sourceLocation: String, sourceConnection: ConnectionConfig, sourceLabel: String
            if sourceKind == "mariadb" {
                guard let url = environment["BREAKOUT_TEST_MYSQL_URL"] else {
                    throw BreakoutError("--sources mariadb needs BREAKOUT_TEST_MYSQL_URL")
                }
                var admin = try ConnectionConfig.parse(url: url)
                let database = "benchsrc_\(n)_\(getpid())"
                let c = try Databases.connect(admin)
                try c.execute("CREATE DATABASE `\(database)`")
                c.close()
                admin.database = database
                sourceConnection = admin
                var components = URLComponents(string: url)!
                components.path = "/" + database
                sourceLocation = components.string!
                sourceLabel = "MariaDB (CSWeb schema)"
            } else {
                sourceLocation = temporary.appendingPathComponent("source-\(n).db").path
                sourceConnection = ConnectionConfig(engine: .sqlite, database: sourceLocation)
                sourceLabel = "SQLite"
            }
            defer {
                if sourceConnection.engine == .mysql,
                    let c = try? Databases.connect(ConnectionConfig.parse(url: environment["BREAKOUT_TEST_MYSQL_URL"]!))
                {
                    _ = try? c.execute("DROP DATABASE IF EXISTS `\(sourceConnection.database)`")
                    c.close()
                } else {
                    try? FileManager.default.removeItem(atPath: sourceLocation)
                }
            }
            var generated: SyntheticCSWebSource.Contents!
            let generateSeconds = try elapsed {
                generated = try generateSource(sourceConnection, .init(shape: shape, cases: n, corruptEvery: nil))
            }
            var contents = generated!
            var manifest = Manifest(contents)
            say(
                "\nN = \(n), source \(sourceLabel): \(shape.rawValue) source generated in \(String(format: "%.0f", generateSeconds)) s "
                    + "(\(manifest.totalRows) rows expected, \(String(format: "%.1f", Double(manifest.totalRows) / Double(n))) per case)")
            // --lean (a census-size run on a budget): no read profile and no keys-with-rows comparison.
            let lean = CommandLine.arguments.contains("--lean")
            if sourceConnection.engine == .mysql, !lean {
                try printChunkReadProfile(sourceConnection, dictionary: contents.options.name, chunk: settings[0].chunk)
            }
            say("")
            say(
                "| cases | destination ← source | run | wall s | cases/s | rows/s | ÷ raw load | peak RSS MiB | CPU s | server CPU s | check |"
            )
            say("|---|---|---|---|---|---|---|---|---|---|---|")
            for (name, config, url) in destinations {
                let schemaFor = { (ns: String) throws -> BreakoutSchema in
                    try BreakoutSchema(
                        dictionary: contents.dictionary, dialect: config.engine.dialect, options: SchemaOptions(), namespace: ns)
                }
                let label = name + " ← " + sourceLabel
                /// How the tables of `schema` differ from the manifest (empty when they match it).
                func differencesFromManifest(_ schema: BreakoutSchema) throws -> [String] {
                    let c = try Databases.connect(config)
                    defer { c.close() }
                    return manifest.differences(try Manifest.digests(c, schema))
                }
                /// One breakout into `namespace` in a child process (its own RSS and CPU), timed.
                func once(
                    _ namespace: String, _ setting: (threads: Int, chunk: Int), keysWithRows: Bool = false
                ) throws -> (OnceResult, Double, Double?) {
                    var result: OnceResult!
                    let (wall, server) = try measured {
                        let out = try runChecked(
                            me,
                            [
                                "breakout-once", "--source", sourceLocation, "--dictionary", contents.options.name, "--url", url,
                                "--namespace", namespace, "--threads", String(setting.threads), "--chunk", String(setting.chunk),
                            ] + (keysWithRows ? ["--keys-with-rows"] : []))
                        result = try JSONDecoder().decode(OnceResult.self, from: Data(out.split(separator: "\n").last!.utf8))
                    }
                    return (result, wall, server)
                }
                let measuredSettings = settingsFor(n, settings, lines: lines, label: label)
                // The raw load first, so every breakout line can show its ratio: the rows come from a
                // breakout at the default setting, written out in the raw client's text format.
                var rawSeconds: Double?
                var runs:
                    [(
                        setting: (threads: Int, chunk: Int), result: OnceResult, wall: Double, server: Double?, check: String,
                        schema: BreakoutSchema
                    )] = []
                for (t, s) in measuredSettings.enumerated() {
                    let ns = "bench\(n)_\(t)_\(UInt32.random(in: 0...UInt32.max))"
                    let schema = try schemaFor(ns)
                    let (result, wall, server) = try once(ns, s)
                    let differences = try differencesFromManifest(schema)
                    let check = differences.isEmpty ? "= manifest" : "MISMATCH: " + differences.joined(separator: "; ")
                    runs.append((s, result, wall, server, check, schema))
                }
                do {
                    let (files, rawSchema) = try exportForRawLoad(
                        from: runs[0].schema, config: config, into: temporary, schemaFor: schemaFor)
                    var seconds = 0.0
                    let (_, server) = try measured { seconds = try rawLoad(files, schema: rawSchema, config: config) }
                    rawSeconds = seconds
                    let rawDifferences = try differencesFromManifest(rawSchema)
                    dropNamespace(rawSchema, config)
                    show(
                        BenchLine(
                            n: n, destination: name, source: sourceLabel, kind: .raw,
                            what: config.engine == .postgresql ? "raw: psql \\copy, 1 stream" : "raw: mariadb LOAD DATA LOCAL, 1 stream",
                            threads: nil, chunk: nil, isDefault: false, seconds: seconds, cases: manifest.decodable,
                            rows: manifest.totalRows, raw: seconds, rss: nil, cpu: nil, serverCPU: server,
                            check: rawDifferences.isEmpty ? "= manifest" : "MISMATCH", matches: rawDifferences.isEmpty))
                    var deferred: (seconds: Double, schema: BreakoutSchema)!
                    let (_, deferredServer) = try measured { deferred = try deferredRawLoad(files, config: config, schemaFor: schemaFor) }
                    let (deferredSeconds, deferredSchema) = deferred!
                    let deferredDifferences = try differencesFromManifest(deferredSchema)
                    dropNamespace(deferredSchema, config)
                    show(
                        BenchLine(
                            n: n, destination: name, source: sourceLabel, kind: .rawDeferred,
                            what: "raw, indexes and foreign keys after the rows", threads: nil, chunk: nil, isDefault: false,
                            seconds: deferredSeconds, cases: manifest.decodable, rows: manifest.totalRows, raw: seconds, rss: nil, cpu: nil,
                            serverCPU: deferredServer, check: deferredDifferences.isEmpty ? "= manifest" : "MISMATCH",
                            matches: deferredDifferences.isEmpty))
                    for f in files { try? FileManager.default.removeItem(atPath: f.path) }
                } catch {
                    say("| \(n) | \(label) | raw load failed: \(error) |")
                }
                for (i, run) in runs.enumerated() {
                    let isDefault = i == 0 && (run.setting.threads, run.setting.chunk) == (settings[0].threads, settings[0].chunk)
                    show(
                        BenchLine(
                            n: n, destination: name, source: sourceLabel, kind: .breakout,
                            what: "\(run.setting.threads) threads × \(run.setting.chunk)" + (isDefault ? " (default)" : ""),
                            threads: run.setting.threads, chunk: run.setting.chunk, isDefault: isDefault, seconds: run.wall,
                            cases: run.result.cases, rows: run.result.rows, raw: rawSeconds, rss: run.result.rssMiB, cpu: run.result.cpu,
                            serverCPU: run.server, check: run.check, matches: run.check == "= manifest"))
                }
                // The default setting once more with the keys maintained row by row (as before issue
                // 16's deferred keys), where a first load defers them: the technique's effect.
                if sourceConnection.engine == .mysql, n >= BreakoutEngine.storedOrderFrom, !lean {
                    let ns = "benchk\(n)_\(UInt32.random(in: 0...UInt32.max))"
                    let schema = try schemaFor(ns)
                    let (result, wall, server) = try once(ns, settings[0], keysWithRows: true)
                    let differences = try differencesFromManifest(schema)
                    dropNamespace(schema, config)
                    show(
                        BenchLine(
                            n: n, destination: name, source: sourceLabel, kind: .keysWithRows,
                            what: "\(settings[0].threads) threads × \(settings[0].chunk), keys maintained with the rows",
                            threads: settings[0].threads, chunk: settings[0].chunk, isDefault: false, seconds: wall, cases: result.cases,
                            rows: result.rows, raw: rawSeconds, rss: result.rssMiB, cpu: result.cpu, serverCPU: server,
                            check: differences.isEmpty ? "= manifest" : "MISMATCH: " + differences.joined(separator: "; "),
                            matches: differences.isEmpty))
                }
                // Incremental: 1% of the cases re-synced, then the best setting's namespace run again.
                let best = runs.min { $0.wall < $1.wall }!
                let changed = stride(from: 7, through: n, by: 100).map { $0 }
                let writer = CSWebDatabaseWriter(connection: try Databases.connect(sourceConnection))
                try SyntheticCSWebSource.resync(writer, &contents, cases: changed)
                writer.connection.close()
                manifest = Manifest(contents)
                let (again, wall, server) = try once(best.schema.namespace, best.setting)
                let differences = try differencesFromManifest(best.schema)
                show(
                    BenchLine(
                        n: n, destination: name, source: sourceLabel, kind: .rerun,
                        what: "re-run after \(changed.count) re-synced (1%), \(best.setting.threads) threads × \(best.setting.chunk)",
                        threads: best.setting.threads, chunk: best.setting.chunk, isDefault: false, seconds: wall, cases: again.cases,
                        rows: again.rows, raw: nil, rss: again.rssMiB, cpu: again.cpu, serverCPU: server,
                        check: (differences.isEmpty ? "= manifest" : "MISMATCH")
                            + String(format: "; %.1f%% of the full run's time", 100 * wall / best.wall),
                        matches: differences.isEmpty))
                for run in runs { dropNamespace(run.schema, config) }
            }
        }
    }
    printGrowth(lines, sizes: sizes)
}

/// The growth of the cost with N, per destination and source: the default and the fastest
/// setting's rate, their ratio to the raw load, and the rate against the smallest N's.
func printGrowth(_ lines: [BenchLine], sizes: [Int]) {
    say("\nTargets: breakout wall time ≤ 1.0 × the raw load of the same rows (first bar 1.1×); the rate at the largest N")
    say("≥ 0.9 × the rate at the smallest; peak RSS < 150 MiB at every N; a re-run after 1% re-synced about 1% of a full run.")
    say("\nGrowth with N (rate ÷ the smallest N's rate, for the same setting kind):\n")
    say(
        "| destination ← source | cases | raw cases/s | default cases/s | ÷ raw | best setting | best cases/s | ÷ raw | default rate ÷ first N | peak RSS MiB |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|")
    for label in Set(lines.map(\.label)).sorted() {
        let mine = lines.filter { $0.label == label }
        var firstRate: Double?
        for n in sizes.sorted() {
            let here = mine.filter { $0.n == n }
            guard let def = here.first(where: { $0.kind == .breakout && $0.isDefault }) else { continue }
            let best = here.filter { $0.kind == .breakout }.min { $0.seconds < $1.seconds }!
            let raw = here.first { $0.kind == .raw }
            if firstRate == nil { firstRate = def.casesPerSecond }
            func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "–" }
            let rss = here.compactMap(\.rss)
            say(
                "| \(label) | \(n) | \(f(raw?.casesPerSecond, "%.0f")) | \(f(def.casesPerSecond, "%.0f")) | \(f(raw.map { def.seconds / $0.seconds }, "%.2f×")) | "
                    + "\(best.threads ?? 0)×\(best.chunk ?? 0) | \(f(best.casesPerSecond, "%.0f")) | \(f(raw.map { best.seconds / $0.seconds }, "%.2f×")) | "
                    + "\(f(firstRate.map { def.casesPerSecond / $0 }, "%.2f×")) | \(f(rss.min(), "%.0f"))–\(f(rss.max(), "%.0f")) |")
        }
    }
}

/// Reads every chunk of a source the way a breakout does (no decoding) and prints the read time of
/// the first and the last chunks, and the plain keyset query's time for the first chunk.
func printChunkReadProfile(_ config: ConnectionConfig, dictionary: String, chunk: Int) throws {
    let c = try Databases.connect(config)
    defer { c.close() }
    let source = CSWebSource(connection: c)
    var times: [Double] = []
    var mark = (revision: Int64(0), id: Int64(0))
    while times.count < 100_000 {
        var stored: [CSWebSource.StoredCase] = []
        times.append(
            try elapsed { stored = try source.storedCases(dictionary: dictionary, after: mark.revision, id: mark.id, limit: chunk) })
        guard let last = stored.last else { break }
        mark = (last.revision, last.rowID)
    }
    if arguments.contains("--scan"), let snapshot = try source.snapshot(dictionary: dictionary) {
        var scanTimes: [Double] = []
        var after: SQLValue?
        var cases = 0
        while scanTimes.count < 100_000 {
            var stored: [CSWebSource.StoredCase] = []
            scanTimes.append(
                try elapsed {
                    stored = try source.scanCases(dictionary: dictionary, through: snapshot.revision, afterGUID: after, limit: chunk)
                })
            guard let last = stored.last else { break }
            cases += stored.count
            after = last.guidValue
        }
        say(
            String(
                format: "source scan in guid order (%d cases, %d chunks): %.1f s, median %.1f ms a chunk", cases, scanTimes.count - 1,
                scanTimes.reduce(0, +), (scanTimes.sorted()[scanTimes.count / 2]) * 1000))
    }
    say(String(format: "source reads in (revision, id) order: %.1f s in all", times.reduce(0, +)))
    let plain = try elapsed { _ = try c.query(.select(source.chunkQuery(dictionary, where: CSWebSource.after(0, 0), limit: chunk))) }
    func median(_ xs: ArraySlice<Double>) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] * 1000 }
    let k = max(1, min(10, times.count / 3))
    let first = median(times.prefix(k)), last = median(times.dropLast().suffix(k))
    say(
        String(
            format: "source chunk reads (%d × %d cases): first %d median %.1f ms, last %d median %.1f ms (%.2f×); "
                + "the plain keyset query for the first chunk: %.1f ms", times.count - 1, chunk, k, first, k, last,
            last / max(first, 0.001), plain * 1000))
}

/// Writes every data table of a breakout into a file in the raw client's text format (tab
/// separated, `\N` for NULL, backslash escapes: what both `COPY … FROM` and `LOAD DATA` read), and
/// creates an empty copy of the schema (same tables, keys and indexes) to load them into.
func exportForRawLoad(
    from schema: BreakoutSchema, config: ConnectionConfig, into folder: URL,
    schemaFor: (String) throws -> BreakoutSchema
) throws -> ([(table: TableDefinition, path: String)], BreakoutSchema) {
    let c = try Databases.connect(config)
    defer { c.close() }
    let encoder = TextRowEncoder(blobStyle: config.engine == .postgresql ? .postgresHex : .raw)
    let rawSchema = try schemaFor("raw\(UInt32.random(in: 0...UInt32.max))")
    var files: [(TableDefinition, String)] = []
    for (source, target) in zip(schema.dataTables, rawSchema.dataTables) {
        let path = folder.appendingPathComponent("\(target.name.name).tsv").path
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try TableLines.forEachPage(c, source, pageSize: 50_000) { page in
            var buffer: [UInt8] = []
            for row in page { encoder.encode(row.values, into: &buffer) }
            handle.write(Data(buffer))
        }
        try handle.close()
        files.append((target, path))
    }
    for statement in rawSchema.createStatements() { try c.execute(statement) }
    return (files, rawSchema)
}

/// Loads the files with the raw client in one process, parents before children; returns the wall seconds.
func rawLoad(_ files: [(table: TableDefinition, path: String)], schema: BreakoutSchema, config: ConnectionConfig) throws -> Double {
    let d = schema.dialect
    if config.engine == .postgresql {
        let psql = which("psql", [ProcessInfo.processInfo.environment["BREAKOUT_TEST_PG_BIN"] ?? ""])!
        var script = ""
        for (table, path) in files {
            script +=
                "\\copy \(try d.quote(table.name)) (\(try table.columns.map { try d.quote($0.name) }.joined(separator: ", "))) FROM '\(path)'\n"
        }
        let scriptPath = files[0].path + ".psql"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        return try elapsed {
            try runChecked(
                psql,
                [
                    "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", config.host!, "-p", String(config.port!), "-U", config.user!,
                    "-d", config.database, "-f", scriptPath,
                ], env: ["PGPASSWORD": config.password ?? ""])
        }
    }
    let client = which("mariadb") ?? which("mysql")!
    var statements = ""
    for (table, path) in files {
        statements +=
            "LOAD DATA LOCAL INFILE '\(path)' INTO TABLE \(try d.quote(table.name)) CHARACTER SET utf8mb4 "
            + "(\(try table.columns.map { try d.quote($0.name) }.joined(separator: ", ")));\n"
    }
    return try elapsed {
        try runChecked(
            client,
            [
                "--no-defaults", "--local-infile=1", "-h", config.host!, "-P", String(config.port!), "-u", config.user!,
                config.database, "-e", statements,
            ], env: ["MYSQL_PWD": config.password ?? ""])
    }
}

/// The raw load again, into tables created with their primary keys only; the unique keys, indexes
/// and foreign keys are added once the rows are in (issue 16's "secondary indexes and foreign keys
/// after the rows, on the raw path). The keys are added by the statements a first load uses
/// (`.addKeys`; on MariaDB with `foreign_key_checks = 0`, then validated by `.countOrphans`).
/// Returns the seconds of load and DDL together, and the schema.
func deferredRawLoad(
    _ files: [(table: TableDefinition, path: String)], config: ConnectionConfig, schemaFor: (String) throws -> BreakoutSchema
) throws -> (seconds: Double, schema: BreakoutSchema) {
    let schema = try schemaFor("rawd\(UInt32.random(in: 0...UInt32.max))")
    let d = schema.dialect
    let c = try Databases.connect(config)
    defer { c.close() }
    if d.namespacing == .schema { try c.execute(.createSchema(schema.namespace, ifNotExists: true)) }
    // The raw rows come in primary-key order, so the tables keep their primary keys (a breakout's
    // stored-order load on InnoDB leaves them out too: its rows do not).
    for table in schema.allTables { try c.execute(.createTable(BreakoutEngine.keyless(table))) }
    let mapped = zip(files, schema.dataTables).map { (table: $1, path: $0.path) }
    var seconds = try rawLoad(mapped, schema: schema, config: config)
    seconds += try elapsed {
        // The product's own statements for a first load's keys (SQLStatement.addKeys, .countOrphans).
        let checks = d.foreignKeyChecks
        if let checks { try c.execute(checks.off) }
        for var table in schema.dataTables {
            table.primaryKey = []
            if table.hasKeys { try c.execute(.addKeys(table)) }
        }
        if let checks {
            try c.execute(checks.on)
            for table in schema.dataTables {
                for fk in table.foreignKeys {
                    guard try c.query(.countOrphans(table.name, fk)).first?[0].int64 == 0 else {
                        throw BreakoutError("\(table.name): rows without their parent")
                    }
                }
            }
        }
    }
    return (seconds, schema)
}
