import Foundation
import SQL
import State

#if canImport(FoundationNetworking)
import FoundationNetworking
import Synchronization
#endif

/// Failure (and recovery) alerts: a JSON POST to a webhook and/or a shell command with the JSON on
/// stdin. Alert problems are reported on stderr and never change the run's result.
///
/// Webhooks come from the job's row (an organization's file, or a hand-made row); a command comes
/// only from the operator's `breakout.yaml` and runs with a minimal environment: `PATH` and the
/// `BREAKOUT_ALERT_*` variables, nothing of the runner's own (no key, no password).
enum AlertSender {
    struct Payload: Encodable {
        var event: String
        var organization: String
        var job: String
        var runID: Int64
        var status: String
        var trigger: String
        var scheduledFor: String?
        var startedAt: String
        var finishedAt: String
        var runner: String
        var failedCases: Int64
        var output: String

        enum CodingKeys: String, CodingKey {
            case event, organization, job, runID = "run_id", status, trigger, scheduledFor = "scheduled_for", startedAt = "started_at"
            case finishedAt = "finished_at", runner, failedCases = "failed_cases", output
        }
    }

    /// The environment an alert command runs with: nothing but these.
    static func commandEnvironment(_ payload: Payload) -> [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "BREAKOUT_ALERT_EVENT": payload.event,
            "BREAKOUT_ALERT_ORGANIZATION": payload.organization,
            "BREAKOUT_ALERT_JOB": payload.job, "BREAKOUT_ALERT_STATUS": payload.status, "BREAKOUT_ALERT_RUN_ID": String(payload.runID),
            "BREAKOUT_ALERT_FAILED_CASES": String(payload.failedCases),
        ]
    }

    static func send(_ payload: Payload, webhook: String?, command: String?) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // The payload is plain strings and numbers; encoding cannot fail.
        guard let body = try? encoder.encode(payload) else { return }
        if let webhook, let url = URL(string: webhook) {
            var request = URLRequest(url: url, timeoutInterval: 10)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("breakout", forHTTPHeaderField: "User-Agent")
            request.httpBody = body
            let done = DispatchSemaphore(value: 0)
            let problem = ProblemBox()
            URLSession.shared.dataTask(with: request) { _, response, error in
                if let error {
                    problem.set("\(error.localizedDescription)")
                } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                    problem.set("HTTP \(http.statusCode)")
                }
                done.signal()
            }.resume()
            if done.wait(timeout: .now() + 15) == .timedOut { problem.set("no answer in 15 s") }
            if let p = problem.value {
                StandardStream.error("breakout: alert webhook for \(payload.organization)/\(payload.job) failed: \(p)\n")
            }
        }
        if let command {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            p.environment = commandEnvironment(payload)
            p.currentDirectoryURL = URL(fileURLWithPath: "/")
            // The payload reaches stdin from a file: a pipe's write end can leak into the child and
            // keep a reader such as `cat` waiting for an end of file that never comes.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-alert-\(UUID().uuidString).json")
            // A temporary file; if it cannot be removed, it stays in the temporary folder.
            defer { try? FileManager.default.removeItem(at: file) }
            do {
                try body.write(to: file)
                p.standardInput = try FileHandle(forReadingFrom: file)
                try p.run()
                p.waitUntilExit()
                if p.terminationStatus != 0 {
                    StandardStream.error(
                        "breakout: alert command for \(payload.organization)/\(payload.job) exited with \(p.terminationStatus)\n")
                }
            } catch {
                StandardStream.error("breakout: alert command for \(payload.organization)/\(payload.job) could not start: \(error)\n")
            }
        }
    }
}

final class ProblemBox: Sendable {
    private let text = Mutex<String?>(nil)
    func set(_ s: String) { text.withLock { $0 = s } }
    var value: String? { text.withLock { $0 } }
}

extension Scheduler {
    /// Fires the job's alerts for a failed run, for a success that set cases aside when
    /// `on_failed_cases`, or for a success after a failure when `on_recovery`.
    func alert(_ claim: Claim, outcome: JobOutcome, runID: Int64, started: Date, finished: Date) {
        // The row's alerts give a webhook only: a command in a row (hand-made, or stored by an
        // older version) is never run. The operator's alerts (breakout.yaml) add the command.
        let row = claim.job.jobSettings.alerts
        let webhook = row?.webhook
        let operatorAlerts = self.operatorAlerts
        guard webhook != nil || operatorAlerts != nil else { return }
        let onRecovery = row?.onRecovery == true || operatorAlerts?.onRecovery == true
        let onFailedCases = row?.onFailedCases == true || operatorAlerts?.onFailedCases == true
        var event: String?
        if outcome.status == .failed {
            event = "failed"
        } else if outcome.status == .skipped {
            event = nil
        } else if onFailedCases, outcome.failedCases > 0 {
            event = "failed_cases"
        } else if onRecovery {
            let previous =
                // The previous outcome only decides on_recovery; without it the alert is sent as for a first failure.
                (try? locked { try c.query(ControlStatements.previousOutcome(ofJob: claim.job.id, before: runID)) })?.first?[0].string
            if previous == "failed" { event = "recovered" }
        }
        guard let event else { return }
        let organization =
            // The organization's name only labels the alert; without it the alert still goes out, with the job's id.
            (try? locked { try c.query(ControlStatements.organizationName(claim.job.organizationID)) })?.first?[0].string ?? "?"
        let f = ISO8601DateFormatter()
        let payload = AlertSender.Payload(
            event: event, organization: organization, job: claim.job.name, runID: runID, status: outcome.status.rawValue,
            trigger: claim.trigger, scheduledFor: claim.scheduledFor.map { f.string(from: $0) },
            startedAt: f.string(from: started), finishedAt: f.string(from: finished), runner: owner,
            failedCases: outcome.failedCases, output: String(outcome.output.prefix(4000)))
        AlertSender.send(payload, webhook: webhook, command: operatorAlerts?.command)
        if let other = operatorAlerts?.webhook, other != webhook { AlertSender.send(payload, webhook: other, command: nil) }
    }
}
