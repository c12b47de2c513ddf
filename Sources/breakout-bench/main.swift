import DatabaseDriver
import Foundation

// Benchmarks, run by `make bench`; never part of the tests. Numbers are measured in one run.
//   breakout-bench bulk   [--rows N] [--repeat K]    driver bulk paths against psql \copy and mariadb LOAD DATA
//   breakout-bench decode [--cases N]                CSWeb blob decoding: zlib + JSON + case model
//   breakout-bench generate --cases N --out FILE.db  a generated CSWeb source and its manifest (also --url mysql://…)
//   breakout-bench breakout [--cases 20000,200000]   end-to-end breakout against the raw load of the same rows
//     [--sources mariadb,sqlite] [--destinations postgresql,mariadb] [--settings 3x1000,…] [--lean] [--json FILE]
//   breakout-bench export [--cases 200000]          the export formats (time, peak RSS) of one source
//   breakout-bench faults [--cases N] [--kills K]    the fault-injection suite

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
func stringOption(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
}

switch arguments.dropFirst().first {
case "bulk": try runBulkBenchmark()
case "decode": try runDecodeBenchmark()
case "source", "generate": try runSourceGenerator()
case "breakout": try runBreakoutBenchmark()
case "breakout-once": try runBreakoutOnce()
case "read-profile":
    // breakout-bench read-profile --url mysql://… --dictionary NAME [--chunk 1000]: every chunk of a
    // CSWeb source read as a breakout reads it (no decoding), first chunks against last.
    try printChunkReadProfile(
        try ConnectionConfig.parse(url: stringOption("--url") ?? ""), dictionary: stringOption("--dictionary") ?? "CENSUS",
        chunk: option("--chunk", 1000))
case "export": try runExportBenchmark()
case "export-once": try runExportOnce()
case "faults": try runFaultSuite()
case "isolation": try runIsolationSuite()
default:
    FileHandle.standardError.write(Data("usage: breakout-bench bulk|decode|generate|breakout|export|faults|isolation [options]\n".utf8))
    exit(2)
}
