import Breakout
import CaseSources
import CSPro
import Drivers
import Foundation
import SQL

// End-to-end breakout throughput: a generated CSWeb source (SQLite file, two-level survey, about
// 4.6 persons and 17 rows per case) broken out into PostgreSQL, MariaDB and SQLite by the engine
// that `process-cases` runs. Run through `make bench` (servers and URLs) or `scripts/bench.sh breakout`.
//
//   breakout-bench breakout [--cases N] [--threads T] [--chunk M]

func runBreakoutBenchmark() throws {
    let cases = option("--cases", 50_000)
    let threads = option("--threads", 2)
    let chunk = option("--chunk", 1000)
    let environment = ProcessInfo.processInfo.environment

    let sourcePath = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-bench-source-\(cases).db").path
    if !FileManager.default.fileExists(atPath: sourcePath) {
        let started = Date()
        let connection = try Databases.connect(ConnectionConfig(engine: .sqlite, database: sourcePath + ".tmp"))
        _ = try SyntheticCSWebSource.write(CSWebDatabaseWriter(connection: connection), cases: cases)
        connection.close()
        try FileManager.default.moveItem(atPath: sourcePath + ".tmp", toPath: sourcePath)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sourcePath + ".tmp" + suffix) }
        print(String(format: "generated %d-case source in %.1f s: %@", cases, Date().timeIntervalSince(started), sourcePath))
    }
    func feed() throws -> CSWebFeed {
        try CSWebFeed(source: CSWebSource(connection: try Databases.connect(ConnectionConfig(engine: .sqlite, database: sourcePath, options: ["mode": "ro"]))),
                      dictionary: SyntheticSurvey.name)
    }

    // The floor: reading and decoding every case with no destination at all.
    let decodeStarted = Date()
    let f = try feed()
    let layout = CaseLayout(f.dictionary)
    let inflater = try ZlibInflater()
    var mark = Mark.start
    var decoded = 0
    while true {
        let batch = try f.cases(after: mark, limit: chunk)
        guard let last = batch.last else { break }
        for c in batch {
            if case .blob(let b) = c.payload, (try? CaseBlob.decode(b, layout: layout, inflater: inflater)) != nil { decoded += 1 }
        }
        mark = last.position
    }
    let decodeSeconds = Date().timeIntervalSince(decodeStarted)
    print(String(format: "read + decode only (one thread): %d cases in %.2f s = %.0f cases/s", decoded, decodeSeconds, Double(decoded) / decodeSeconds))

    var destinations: [(String, ConnectionConfig)] = []
    if let url = environment["BREAKOUT_TEST_POSTGRES_URL"] { destinations.append(("PostgreSQL", try ConnectionConfig.parse(url: url))) }
    if let url = environment["BREAKOUT_TEST_MYSQL_URL"] { destinations.append(("MariaDB", try ConnectionConfig.parse(url: url))) }
    destinations.append(("SQLite", ConnectionConfig(engine: .sqlite, database: FileManager.default.temporaryDirectory.appendingPathComponent("breakout-bench-dest-\(UUID().uuidString).db").path)))

    print("| destination | threads | chunk | cases | rows | seconds | cases/s | rows/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, config) in destinations {
        let namespace = "bench\(UInt32.random(in: 0...UInt32.max))"
        let engine = try BreakoutEngine(feed: try feed(), dialect: config.engine.dialect, options: SchemaOptions(), namespace: namespace,
                                        connect: { try Databases.connect(config) })
        defer {
            if let c = try? Databases.connect(config) {
                if engine.schema.dialect.namespacing == .schema {
                    _ = try? c.execute("DROP SCHEMA IF EXISTS \(try! engine.schema.dialect.quote(namespace)) CASCADE")
                } else {
                    for table in engine.schema.allTables.reversed() { _ = try? c.execute(.dropTable(table.name, ifExists: true)) }
                }
                c.close()
            }
        }
        let summary = try engine.run(RunOptions(threads: threads, chunkSize: chunk))
        let rows = summary.rows.values.reduce(0, +)
        let effectiveThreads = config.engine == .sqlite ? 1 : threads
        print(String(format: "| %@ | %d | %d | %d | %d | %.2f | %.0f | %.0f | %.0f |", name, effectiveThreads, chunk, summary.cases, rows, summary.seconds,
                     Double(summary.cases) / summary.seconds, Double(rows) / summary.seconds, peakRSSMiB()))
    }
}
