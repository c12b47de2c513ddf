import Foundation
import Logging
import State
import Synchronization

/// Each run in its own process (docs/runner.md, "Process model"): a trap, a crash or a kill in one
/// run ends that run only. The parent (the daemon, `cron run`, `jobs run --wait`, the dashboard)
/// keeps the lease, the run row and the alerts; the child (`breakout run-job`) only executes the
/// job and reports on its standard output, one line each:
///
///     breakout-run:progress CENSUS 1200/3000 cases
///     breakout-run:outcome {"status":"success",…}
///
/// Its standard error (log lines, and a crash's message) is passed through to the parent's and
/// the last lines are kept, so a run that dies says why.
package struct ChildProcessExecutor: JobExecutor {
    /// This very executable, by its real path: never argv[0] (a bare name on PATH, resolved
    /// against the current directory) and never a PATH lookup.
    package let executable: String
    /// Options every child gets: the config directory, the key options, the log options.
    package let arguments: [String]
    /// The lease owner of the parent, for the child to release if the parent dies.
    package var owner: String = ""
    /// Lines of the child's standard error kept for a run that dies.
    static let tailLines = 20

    package init(executable: String = ChildProcessExecutor.currentExecutable(), arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// `/proc/self/exe`, read as a link. After a package upgrade replaced the binary the kernel
    /// shows the old inode as "PATH (deleted)": the new binary at PATH is the one to start.
    package static func currentExecutable() -> String {
        // Without /proc (not Linux as we know it), argv[0] made absolute is the best there is.
        guard var path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        }
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        return path
    }

    static let progressPrefix = "breakout-run:progress "
    static let outcomePrefix = "breakout-run:outcome "

    package func execute(_ job: JobRow, logger: Logger, stop: @escaping @Sendable () -> Bool) -> JobOutcome {
        execute(job, logger: logger, progress: { _ in }, stop: stop)
    }

    package func execute(
        _ job: JobRow, logger: Logger, progress: @escaping @Sendable (String) -> Void, stop: @escaping @Sendable () -> Bool
    ) -> JobOutcome {
        let runID = logger[metadataKey: "run_id"].map { "\($0)" } ?? "0"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run-job", String(job.id), "--run-id", runID, "--parent-pid", String(getpid()), "--owner", owner] + arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            return JobOutcome(status: .failed, output: "could not start the run's process \(executable): \(error)")
        }
        // The child has its copies; closing ours can only fail if already closed.
        try? out.fileHandleForWriting.close()
        // Closing the parent's copy of a pipe end cannot fail in a way that matters: the child holds its own.
        try? err.fileHandleForWriting.close()

        let collected = ChildOutput()
        let readers = DispatchGroup()
        readers.enter()
        Thread {
            defer { readers.leave() }
            LineReader(out.fileHandleForReading.fileDescriptor).forEach { line in
                if line.hasPrefix(Self.progressPrefix) {
                    progress(String(line.dropFirst(Self.progressPrefix.count)))
                } else if line.hasPrefix(Self.outcomePrefix) {
                    // A line that does not decode leaves no outcome: the run is then recorded by its exit.
                    collected.outcome = try? JSONDecoder().decode(
                        JobOutcome.self, from: Data(line.dropFirst(Self.outcomePrefix.count).utf8))
                } else {
                    collected.keep(line)
                }
            }
        }.start()
        readers.enter()
        Thread {
            defer { readers.leave() }
            LineReader(err.fileHandleForReading.fileDescriptor).forEach { line in
                StandardStream.error(line + "\n")
                collected.keep(line)
            }
        }.start()

        // Stop (timeout, SIGTERM to the parent, a lease that cannot be renewed): ask the child to
        // stop at its next chunk boundary, once.
        var asked = false
        while process.isRunning {
            if !asked, stop() {
                kill(process.processIdentifier, SIGTERM)
                asked = true
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.waitUntilExit()
        readers.wait()
        // Both readers are done; a failed close leaks nothing we still use.
        try? out.fileHandleForReading.close()
        // The child has exited and its output is read; a failed close leaks nothing more than the descriptor.
        try? err.fileHandleForReading.close()

        let status = process.terminationStatus
        if process.terminationReason == .exit, status == 0, let outcome = collected.outcome { return outcome }
        let how: String
        if process.terminationReason == .uncaughtSignal {
            how = "the run's process (pid \(process.processIdentifier)) was killed by signal \(status) (\(Self.signalName(status)))"
        } else if let outcome = collected.outcome {
            return outcome
        } else {
            how = "the run's process (pid \(process.processIdentifier)) exited with code \(status) without an outcome"
        }
        let tail = collected.tail
        var output =
            how
            + "; the run is recorded failed, its lease released, other jobs carry on; the next run continues from the last committed chunk"
        if !tail.isEmpty { output += "\nlast lines of its output:\n" + tail.map { "  " + $0 }.joined(separator: "\n") }
        return JobOutcome(status: .failed, output: output)
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGSEGV: "SIGSEGV, a crash", SIGILL: "SIGILL, a trap", SIGTRAP: "SIGTRAP, a trap", SIGABRT: "SIGABRT, an abort",
            SIGBUS: "SIGBUS, a crash", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGFPE: "SIGFPE", SIGXFSZ: "SIGXFSZ, file too large",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}

/// What the parent collected from one child: its outcome, the lines that say why it died (a
/// Swift runtime "Fatal error", the backtracer's "crashed", an `error:` line) and the last lines
/// it wrote (a crash's register dump would otherwise hide the cause).
final class ChildOutput: Sendable {
    private struct State {
        var lines: [String] = []
        var notable: [String] = []
        var outcome: JobOutcome?
    }
    private let state = Mutex(State())
    static let markers = ["Fatal error", "crashed", "error:", "Illegal instruction", "Segmentation fault"]

    var outcome: JobOutcome? {
        get { state.withLock { $0.outcome } }
        set { state.withLock { $0.outcome = newValue } }
    }

    func keep(_ line: String) {
        state.withLock { s in
            if s.notable.count < 5, Self.markers.contains(where: { line.contains($0) }) { s.notable.append(line) }
            s.lines.append(line)
            if s.lines.count > ChildProcessExecutor.tailLines { s.lines.removeFirst(s.lines.count - ChildProcessExecutor.tailLines) }
        }
    }

    /// The notable lines, then the last lines not already shown.
    var tail: [String] {
        state.withLock { s in
            let first = s.notable.filter { !s.lines.contains($0) }
            return first + (first.isEmpty ? [] : ["…"]) + s.lines
        }
    }
}

/// Lines from a file descriptor until end of file (read(2) directly: no trap on a read error).
struct LineReader {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }

    func forEach(_ body: (String) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            while let newline = pending.firstIndex(of: 10) {
                body(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
            // A line longer than 1 MiB is cut, not buffered without bound.
            if pending.count > 1 << 20 {
                body(String(decoding: pending, as: UTF8.self))
                pending.removeAll()
            }
        }
        if !pending.isEmpty { body(String(decoding: pending, as: UTF8.self)) }
    }
}

/// The child's side: runs one job and reports its progress and outcome on standard output.
package enum RunProcess {
    /// Runs `job` and writes the protocol lines. `stop` is set by SIGTERM (the parent's request)
    /// or by the parent's death; `orphaned` tells which, so that an orphan records its own outcome.
    package static func serve(_ job: JobRow, executor: any JobExecutor, logger: Logger, stop: StopFlag) -> JobOutcome {
        let outcome = executor.execute(
            job, logger: logger,
            progress: { line in
                StandardStream.output(ChildProcessExecutor.progressPrefix + line.replacingOccurrences(of: "\n", with: " ") + "\n")
            }, stop: { stop.isSet })
        report(outcome)
        return outcome
    }

    /// The outcome line the parent reads.
    package static func report(_ outcome: JobOutcome) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // JobOutcome has only strings and integers: encoding it cannot fail.
        if let data = try? encoder.encode(outcome) {
            StandardStream.output(ChildProcessExecutor.outcomePrefix + String(decoding: data, as: UTF8.self) + "\n")
        }
    }

    /// Sets `flag` when the parent process is gone (the child is re-parented): the run stops at
    /// its next chunk boundary instead of writing on with nobody holding its lease.
    package static func watchParent(_ parent: pid_t, _ flag: StopFlag, orphaned: StopFlag) {
        Thread {
            while !flag.isSet {
                if getppid() != parent {
                    orphaned.set()
                    flag.set()
                    return
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }.start()
    }
}
