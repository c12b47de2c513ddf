import DatabaseDriver
import Foundation
import Logging
import Testing

@testable import Runner
@testable import State

/// The parent's side of the process model (docs/runner.md): what a run process reports, and what
/// the parent records when the process dies. The child here is a shell script speaking the same
/// protocol as `breakout run-job`.
@Suite struct RunProcessTests {
    /// A script standing in for `breakout run-job`; `$@` are the arguments the parent passes.
    func child(_ body: String) throws -> String {
        let path = temporaryFile("child.sh")
        // Written through a close-on-exec descriptor: a process another test forks meanwhile must
        // not keep the script open for writing, or executing it fails with ETXTBSY.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o700)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let bytes = Array("#!/bin/sh\n\(body)\n".utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw POSIXError(.EIO) }
        chmod(path, 0o700)
        return path
    }

    var job: JobRow {
        var row = JobRow(Row(columns: ["id", "job_name"], values: [.integer(7), .text("census")]))
        row.name = "census"
        return row
    }

    func run(_ script: String, stopAfter: Double? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> JobOutcome {
        let executor = ChildProcessExecutor(executable: try child(script), arguments: ["-c", "/etc/breakout"])
        var logger = Logger(label: "test")
        logger[metadataKey: "run_id"] = "42"
        let started = Date()
        return executor.execute(job, logger: logger, progress: progress) {
            stopAfter.map { Date().timeIntervalSince(started) > $0 } ?? false
        }
    }

    @Test func outcomeAndProgressComeFromTheChild() throws {
        let lines = Results()
        let outcome = try run(
            """
            echo "breakout-run:progress CENSUS 10/20 cases"
            echo "args: $*" >&2
            echo 'breakout-run:outcome {"status":"success","output":"CENSUS: 20 cases","cases":20,"rows":80,"failedCases":2}'
            """, progress: { lines.add($0) })
        #expect(outcome.status == .success && outcome.cases == 20 && outcome.rows == 80 && outcome.failedCases == 2)
        #expect(lines.all == ["CENSUS 10/20 cases"])
    }

    @Test func theChildGetsTheJobRunAndParent() throws {
        let outcome = try run(
            """
            echo "breakout-run:outcome {\\"status\\":\\"failed\\",\\"output\\":\\"$*\\",\\"cases\\":0,\\"rows\\":0,\\"failedCases\\":0}"
            """)
        #expect(outcome.output == "run-job 7 --run-id 42 --parent-pid \(getpid()) --owner  -c /etc/breakout")
    }

    @Test func aCrashIsRecordedWithItsSignalAndLastLines() throws {
        let outcome = try run(
            """
            echo "breakout-run:progress CENSUS 10/20 cases"
            echo "Fatal error: Unexpectedly found nil at Exporter.swift:12" >&2
            kill -SEGV $$
            """)
        #expect(outcome.status == .failed)
        let lines = outcome.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("the run's process (pid ") == true)
        #expect(lines.first?.contains("was killed by signal 11 (SIGSEGV, a crash)") == true, "\(outcome.output)")
        #expect(lines.contains("  Fatal error: Unexpectedly found nil at Exporter.swift:12"), "\(outcome.output)")
    }

    @Test func anExitWithoutOutcomeIsRecordedWithItsCode() throws {
        let outcome = try run("echo 'error: breakout.yaml:3:1: bad' >&2; exit 3")
        #expect(outcome.status == .failed)
        #expect(outcome.output.hasPrefix("the run's process (pid "))
        #expect(outcome.output.contains("exited with code 3 without an outcome"))
        #expect(outcome.output.contains("error: breakout.yaml:3:1: bad"))
    }

    /// Stopping (timeout, shutdown) sends SIGTERM once; the child ends at its chunk boundary and
    /// reports.
    @Test func stopAsksTheChildWithSIGTERM() throws {
        let started = Date()
        let outcome = try run(
            """
            trap 'echo "breakout-run:outcome {\\"status\\":\\"failed\\",\\"output\\":\\"stopped at a chunk boundary\\",\\"cases\\":0,\\"rows\\":0,\\"failedCases\\":0}"; exit 0' TERM
            i=0; while [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            """, stopAfter: 0.5)
        #expect(outcome.output == "stopped at a chunk boundary")
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func aMissingExecutableIsAFailureNotACrash() throws {
        let executor = ChildProcessExecutor(executable: "/nonexistent/breakout", arguments: [])
        let outcome = executor.execute(job, logger: Logger(label: "test")) { false }
        #expect(outcome.status == .failed && outcome.output.hasPrefix("could not start the run's process /nonexistent/breakout"))
    }

    /// `/proc/self/exe` after a package upgrade replaced the binary reads "PATH (deleted)".
    @Test func theExecutableIsThisProcessByItsRealPath() {
        let path = ChildProcessExecutor.currentExecutable()
        #expect(path.hasPrefix("/") && !path.hasSuffix(" (deleted)"))
        #expect(FileManager.default.isExecutableFile(atPath: path))
    }
}
