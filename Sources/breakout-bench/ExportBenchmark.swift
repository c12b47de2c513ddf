import Breakout
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL

// The export benchmark (issue 23): one generated source exported in each format, each in its
// own child process so that its peak memory is its own; printed side by side with the CSV export
// as the reference, all measured in one run.
//   breakout-bench export [--cases 200000] [--shape census|survey]
//   breakout-bench export-once --source FILE --dictionary NAME --format F --out DIR   (the child)

struct ExportOnce: Codable {
    var seconds: Double
    var cases: Int
    var rows: Int
    var bytes: Int64
    var rssMiB: Double
}

func runExportOnce() throws {
    let source = stringOption("--source")!, out = stringOption("--out")!
    let format = ExportFormat(rawValue: stringOption("--format") ?? "csv")!
    let feed = try CSWebFeed(
        source: CSWebSource(connection: try Databases.connect(try sourceConfig(source))), dictionary: stringOption("--dictionary")!)
    let started = Date()
    let result = try Exporter(feed: feed, options: SchemaOptions()).export(
        to: URL(fileURLWithPath: out), chunkSize: option("--chunk", 1000), formats: [format])
    let seconds = Date().timeIntervalSince(started)
    var bytes: Int64 = 0
    for file in (try? FileManager.default.contentsOfDirectory(atPath: result.folder.path)) ?? [] {
        let size = (try? FileManager.default.attributesOfItem(atPath: result.folder.appendingPathComponent(file).path)[.size]) as? Int64
        bytes += size ?? 0
    }
    let once = ExportOnce(seconds: seconds, cases: result.cases, rows: result.rows.values.reduce(0, +), bytes: bytes, rssMiB: peakRSSMiB())
    print(String(decoding: try JSONEncoder().encode(once), as: UTF8.self))
}

func runExportBenchmark() throws {
    let cases = option("--cases", 200_000)
    let shape = SyntheticShape(rawValue: stringOption("--shape") ?? "census") ?? .census
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-export-bench-\(getpid())")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let sourcePath = work.appendingPathComponent("source.db").path
    print("breakout-bench export: generating \(cases) \(shape.rawValue) cases…")
    let contents = try generateSource(
        ConnectionConfig(engine: .sqlite, database: sourcePath), SyntheticCSWebSource.Options(shape: shape, cases: cases))
    let me = CommandLine.arguments[0]
    var lines: [(ExportFormat, ExportOnce)] = []
    for format in ExportFormat.allCases {
        let out = work.appendingPathComponent(format.rawValue).path
        let text = try runChecked(
            me, ["export-once", "--source", sourcePath, "--dictionary", contents.options.name, "--format", format.rawValue, "--out", out])
        guard let line = text.split(separator: "\n").last, let once = try? JSONDecoder().decode(ExportOnce.self, from: Data(line.utf8))
        else { throw BreakoutError("export-once \(format.rawValue) printed no result: \(text)") }
        lines.append((format, once))
        try? FileManager.default.removeItem(atPath: out)
    }
    let csv = lines.first { $0.0 == .csv }?.1.seconds ?? 1
    print(
        "export of \(cases) \(shape.rawValue) cases (one run; each format in its own process; files: csv per table, .dta/.sav/.parquet per record)"
    )
    print("  format    seconds   cases/s    rows/s   ×csv   MiB on disk   peak RSS MiB")
    for (format, once) in lines {
        print(
            String(
                format: "  %@ %9.2f %9.0f %9.0f %6.2f %13.1f %14.1f", format.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                once.seconds,
                Double(once.cases) / once.seconds, Double(once.rows) / once.seconds, once.seconds / csv, Double(once.bytes) / 1_048_576,
                once.rssMiB))
    }
}
