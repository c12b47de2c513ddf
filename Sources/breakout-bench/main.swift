import Foundation

// Benchmarks, run by `make bench`; never part of the tests. Numbers are measured in one run.
//   breakout-bench bulk   [--rows N] [--repeat K]    driver bulk paths against psql \copy and mariadb LOAD DATA
//   breakout-bench decode [--cases N]                CSWeb blob decoding: zlib + JSON + case model
//   breakout-bench source --cases N --out FILE.db    a generated CSWeb source (also --url mysql://…)
//   breakout-bench breakout [--cases N] [--threads T] end-to-end breakout into PostgreSQL, MariaDB and SQLite

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

switch arguments.dropFirst().first {
case "bulk": try runBulkBenchmark()
case "decode": try runDecodeBenchmark()
case "source": try runSourceGenerator()
case "breakout": try runBreakoutBenchmark()
default:
    FileHandle.standardError.write(Data("usage: breakout-bench bulk|decode|source|breakout [options]\n".utf8))
    exit(2)
}
