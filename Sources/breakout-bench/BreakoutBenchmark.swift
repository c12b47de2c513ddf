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
//                           [--sources mariadb,sqlite]
//
// For each N and each source: a generated CSWeb source and its manifest, in MariaDB with CSWeb's
// own schema (`guid` primary key, `id` unique, an index on `revision` alone: the production setup,
// on the BREAKOUT_TEST_MYSQL_URL server) or in an SQLite file; for a MariaDB source, the read time of
// every chunk (first against last: it must not grow with what is left); for PostgreSQL and MariaDB
// (URLs from BREAKOUT_TEST_POSTGRES_URL / BREAKOUT_TEST_MYSQL_URL), one breakout per setting
// (threads × cases per chunk; the first is breakout's default) in a child process, so that its peak
// RSS and CPU time are its own; each destination checked against the manifest; the same rows
// loaded by the raw client (psql \copy, mariadb LOAD DATA LOCAL INFILE) into the same tables with
// the same indexes; and a re-run after 1% of the cases were re-synced.

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
    let summary = try engine.run(RunOptions(threads: option("--threads", 3), chunkSize: option("--chunk", 1000)))
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    let result = OnceResult(
        seconds: summary.seconds, cases: summary.cases, failed: summary.failedCases, rows: summary.rows.values.reduce(0, +),
        cpu: cpu, rssMiB: peakRSSMiB())
    print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
}

func runBreakoutBenchmark() throws {
    let environment = ProcessInfo.processInfo.environment
    let sizes = (stringOption("--cases") ?? "20000,200000").split(separator: ",").compactMap { Int($0) }
    let shape = SyntheticShape(rawValue: stringOption("--shape") ?? "census") ?? .census
    let settings: [(threads: Int, chunk: Int)] = (stringOption("--settings") ?? "3x1000,2x1000,2x5000").split(separator: ",").map {
        let p = $0.split(separator: "x").compactMap { Int($0) }
        return (p[0], p[1])
    }
    var destinations: [(String, ConnectionConfig, String)] = []
    if let url = environment["BREAKOUT_TEST_POSTGRES_URL"] {
        destinations.append(("PostgreSQL", try ConnectionConfig.parse(url: url), url))
    }
    if let url = environment["BREAKOUT_TEST_MYSQL_URL"] { destinations.append(("MariaDB", try ConnectionConfig.parse(url: url), url)) }
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

    struct Line {
        var n: Int; var destination: String; var what: String; var seconds: Double; var cases: Int; var rows: Int
        var raw: Double?; var rss: Double?; var cpu: Double?; var check: String
    }
    var lines: [Line] = []
    func show(_ l: Line) {
        func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "–" }
        print(
            "| \(l.n) | \(l.destination) | \(l.what) | \(f(l.seconds, "%.2f")) | \(f(Double(l.cases) / l.seconds, "%.0f")) | \(f(Double(l.rows) / l.seconds, "%.0f")) | "
                + "\(f(l.raw.map { l.seconds / $0 }, "%.2f×")) | \(f(l.rss, "%.0f")) | \(f(l.cpu, "%.1f")) | \(l.check) |")
        lines.append(l)
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
            print(
                "\nN = \(n), source \(sourceLabel): \(shape.rawValue) source generated in \(String(format: "%.0f", generateSeconds)) s "
                    + "(\(manifest.totalRows) rows expected, \(String(format: "%.1f", Double(manifest.totalRows) / Double(n))) per case)")
            if sourceConnection.engine == .mysql {
                try printChunkReadProfile(sourceConnection, dictionary: contents.options.name, chunk: settings[0].chunk)
            }
            print("")
            print("| cases | destination | run | wall s | cases/s | rows/s | ÷ raw load | peak RSS MiB | CPU s | check |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for (name, config, url) in destinations {
                let schemaFor = { (ns: String) throws -> BreakoutSchema in
                    try BreakoutSchema(
                        dictionary: contents.dictionary, dialect: config.engine.dialect, options: SchemaOptions(), namespace: ns)
                }
                // The raw load first, so every breakout line can show its ratio: the rows come from a
                // breakout at the default setting, written out in the raw client's text format.
                var rawSeconds: Double?
                var runs: [(String, OnceResult, Double, String, BreakoutSchema)] = []
                for (t, s) in settings.enumerated() {
                    let ns = "bench\(n)_\(t)_\(UInt32.random(in: 0...UInt32.max))"
                    let schema = try schemaFor(ns)
                    var result: OnceResult!
                    let wall = try elapsed {
                        let out = try runChecked(
                            me,
                            [
                                "breakout-once", "--source", sourceLocation, "--dictionary", contents.options.name, "--url", url,
                                "--namespace", ns, "--threads", String(s.threads), "--chunk", String(s.chunk),
                            ])
                        result = try JSONDecoder().decode(OnceResult.self, from: Data(out.split(separator: "\n").last!.utf8))
                    }
                    let c = try Databases.connect(config)
                    let differences = manifest.differences(try Manifest.digests(c, schema))
                    c.close()
                    let check = differences.isEmpty ? "= manifest" : "MISMATCH: " + differences.joined(separator: "; ")
                    runs.append(("\(s.threads) threads × \(s.chunk)" + (t == 0 ? " (default)" : ""), result, wall, check, schema))
                }
                do {
                    let (files, rawSchema) = try exportForRawLoad(from: runs[0].4, config: config, into: temporary, schemaFor: schemaFor)
                    rawSeconds = try rawLoad(files, schema: rawSchema, config: config)
                    let c = try Databases.connect(config)
                    let rawDifferences = manifest.differences(try Manifest.digests(c, rawSchema))
                    c.close()
                    dropNamespace(rawSchema, config)
                    show(
                        Line(
                            n: n, destination: name + " ← " + sourceLabel,
                            what: config.engine == .postgresql ? "raw: psql \\copy, 1 stream" : "raw: mariadb LOAD DATA LOCAL, 1 stream",
                            seconds: rawSeconds!, cases: manifest.decodable, rows: manifest.totalRows, raw: rawSeconds, rss: nil, cpu: nil,
                            check: rawDifferences.isEmpty ? "= manifest" : "MISMATCH"))
                    for f in files { try? FileManager.default.removeItem(atPath: f.path) }
                } catch {
                    print("| \(n) | \(name) | raw load failed: \(error) |")
                }
                for (what, r, wall, check, _) in runs {
                    show(
                        Line(
                            n: n, destination: name + " ← " + sourceLabel, what: what, seconds: wall, cases: r.cases, rows: r.rows,
                            raw: rawSeconds, rss: r.rssMiB, cpu: r.cpu, check: check))
                }
                // Incremental: 1% of the cases re-synced, then the best setting's namespace run again.
                let best = runs.min { $0.2 < $1.2 }!
                let bestSetting = settings[runs.firstIndex { $0.0 == best.0 }!]
                let changed = stride(from: 7, through: n, by: 100).map { $0 }
                let writer = CSWebDatabaseWriter(connection: try Databases.connect(sourceConnection))
                try SyntheticCSWebSource.resync(writer, &contents, cases: changed)
                writer.connection.close()
                manifest = Manifest(contents)
                var again: OnceResult!
                let wall = try elapsed {
                    let out = try runChecked(
                        me,
                        [
                            "breakout-once", "--source", sourceLocation, "--dictionary", contents.options.name, "--url", url,
                            "--namespace", best.4.namespace, "--threads", String(bestSetting.threads), "--chunk", String(bestSetting.chunk),
                        ])
                    again = try JSONDecoder().decode(OnceResult.self, from: Data(out.split(separator: "\n").last!.utf8))
                }
                let c = try Databases.connect(config)
                let differences = manifest.differences(try Manifest.digests(c, best.4))
                c.close()
                show(
                    Line(
                        n: n, destination: name + " ← " + sourceLabel, what: "re-run after \(changed.count) re-synced (1%), \(best.0)",
                        seconds: wall, cases: again.cases,
                        rows: again.rows, raw: nil, rss: again.rssMiB, cpu: again.cpu,
                        check: (differences.isEmpty ? "= manifest" : "MISMATCH")
                            + String(format: "; %.1f%% of the full run's time", 100 * wall / best.2)))
                for run in runs { dropNamespace(run.4, config) }
            }
        }
    }

    print("\nTargets: breakout wall time ≤ 1.25 × the raw load of the same rows; cases/s at the largest N ≥ at the smallest;")
    print("peak RSS < 150 MiB and flat in N; a re-run after 1% re-synced costs about 1% of a full run.")
    for destination in Set(lines.map(\.destination)).sorted() {
        let mine = lines.filter { $0.destination == destination && $0.rss != nil && !$0.what.hasPrefix("re-run") }
        guard let small = sizes.min(), let large = sizes.max(), small != large else { continue }
        func bestRate(_ n: Int) -> Double { mine.filter { $0.n == n }.map { Double($0.cases) / $0.seconds }.max() ?? 0 }
        print(
            String(
                format: "%@: best cases/s %.0f at N=%d, %.0f at N=%d (%.2f×); peak RSS %.0f–%.0f MiB", destination, bestRate(small), small,
                bestRate(large), large, bestRate(large) / max(bestRate(small), 1), mine.compactMap(\.rss).min() ?? 0,
                mine.compactMap(\.rss).max() ?? 0))
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
    let plain = try elapsed { _ = try c.query(.select(source.chunkQuery(dictionary, where: CSWebSource.after(0, 0), limit: chunk))) }
    func median(_ xs: ArraySlice<Double>) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] * 1000 }
    let k = max(1, min(10, times.count / 3))
    let first = median(times.prefix(k)), last = median(times.dropLast().suffix(k))
    print(
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
