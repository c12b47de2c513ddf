import Foundation

// Running other programs from the benchmarks and the fault-injection suite.

/// How a child process ended, and what it printed.
struct CommandResult {
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
    var timedOut: Bool
    var text: String { stdout + stderr }
}

/// Runs a command to completion (or kills it at `timeout`).
func run(_ executable: String, _ args: [String], env: [String: String] = [:], timeout: Double = 300) throws -> CommandResult {
    let p = try start(executable, args, env: env)
    return p.wait(timeout: timeout)
}

/// A child process whose output is collected in files (no pipe can fill up and block it).
final class Child {
    let process = Process()
    let out: URL, err: URL

    init(_ executable: String, _ args: [String], env: [String: String]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("faults-\(UUID().uuidString)")
        out = base.appendingPathExtension("out")
        err = base.appendingPathExtension("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func wait(timeout: Double) -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let timedOut = process.isRunning
        if timedOut { kill(pid, SIGKILL) }
        process.waitUntilExit()
        let result = CommandResult(
            status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "", stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
            timedOut: timedOut)
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
        return result
    }
}

func start(_ executable: String, _ args: [String], env: [String: String] = [:]) throws -> Child { try Child(executable, args, env: env) }

/// Runs a program to completion; returns its standard output, throws with its standard error when it fails.
@discardableResult
func runChecked(_ executable: String, _ args: [String], env: [String: String] = [:]) throws -> String {
    let r = try run(executable, args, env: env, timeout: 3_600)
    guard r.status == 0, !r.signaled else {
        throw ScenarioFailure("\(URL(fileURLWithPath: executable).lastPathComponent) exited with \(r.status): \(r.stderr)")
    }
    return r.stdout
}

/// The first executable named `name` in `extra` folders, then on PATH.
func which(_ name: String, _ extra: [String] = []) -> String? {
    let paths = extra + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
    return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Wall seconds of `body`.
func elapsed(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
