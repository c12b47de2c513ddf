import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SQL
import State

/// Failure (and recovery) alerts: a JSON POST to a webhook and/or a shell command with the JSON on
/// stdin. Alert problems are reported on stderr and never change the run's result.
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
        var output: String

        enum CodingKeys: String, CodingKey {
            case event, organization, job, runID = "run_id", status, trigger, scheduledFor = "scheduled_for", startedAt = "started_at"
            case finishedAt = "finished_at", runner, output
        }
    }

    static func send(_ payload: Payload, settings: [String: Any]) {
        guard let alerts = settings["alerts"] as? [String: Any] else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let body = try? encoder.encode(payload) else { return }
        if let webhook = alerts["webhook"] as? String, let url = URL(string: webhook) {
            var request = URLRequest(url: url, timeoutInterval: 10)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("breakout", forHTTPHeaderField: "User-Agent")
            request.httpBody = body
            let done = DispatchSemaphore(value: 0)
            let problem = ProblemBox()
            URLSession.shared.dataTask(with: request) { _, response, error in
                if let error { problem.set("\(error.localizedDescription)") }
                else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) { problem.set("HTTP \(http.statusCode)") }
                done.signal()
            }.resume()
            if done.wait(timeout: .now() + 15) == .timedOut { problem.set("no answer in 15 s") }
            if let p = problem.value {
                FileHandle.standardError.write(Data("breakout: alert webhook for \(payload.organization)/\(payload.job) failed: \(p)\n".utf8))
            }
        }
        if let command = alerts["command"] as? String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            var env = ProcessInfo.processInfo.environment
            env["BREAKOUT_ALERT_EVENT"] = payload.event
            env["BREAKOUT_ALERT_ORGANIZATION"] = payload.organization
            env["BREAKOUT_ALERT_JOB"] = payload.job
            env["BREAKOUT_ALERT_STATUS"] = payload.status
            p.environment = env
            // The payload reaches stdin from a file: a pipe's write end can leak into the child and
            // keep a reader such as `cat` waiting for an end of file that never comes.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-alert-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: file) }
            do {
                try body.write(to: file)
                p.standardInput = try FileHandle(forReadingFrom: file)
                try p.run()
                p.waitUntilExit()
                if p.terminationStatus != 0 {
                    FileHandle.standardError.write(Data("breakout: alert command for \(payload.organization)/\(payload.job) exited with \(p.terminationStatus)\n".utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("breakout: alert command for \(payload.organization)/\(payload.job) could not start: \(error)\n".utf8))
            }
        }
    }
}

final class ProblemBox: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    func set(_ s: String) { lock.lock(); text = s; lock.unlock() }
    var value: String? { lock.lock(); defer { lock.unlock() }; return text }
}

extension Scheduler {
    /// Fires the job's alerts for a failed run, or for a success after a failure when `on_recovery`.
    func alert(_ claim: Claim, outcome: JobOutcome, runID: Int64, started: Date, finished: Date) {
        let settings = Self.settings(claim.job)
        guard let alerts = settings["alerts"] as? [String: Any] else { return }
        var event: String?
        if outcome.status == .failed {
            event = "failed"
        } else if alerts["on_recovery"] as? Bool == true {
            let previous = (try? locked {
                try c.query(.select(Select(from: ControlTables.runs, columns: ["status"], where: .and([
                    .equals("job_id", .integer(claim.job.id)), .compare("id", .less, .integer(runID)),
                    .isIn("status", [.text("success"), .text("failed")]),
                ]), orderBy: [SortKey("id", descending: true)], limit: 1)))
            })?.first?[0].string
            if previous == "failed" { event = "recovered" }
        }
        guard let event else { return }
        let organization = (try? locked { try c.query(.select(Select(from: ControlTables.organizations, columns: ["organization_name"],
                                                                     where: .equals("id", .integer(claim.job.organizationID))))) })?.first?[0].string ?? "?"
        let f = ISO8601DateFormatter()
        AlertSender.send(.init(event: event, organization: organization, job: claim.job.name, runID: runID, status: outcome.status.rawValue,
                               trigger: claim.trigger, scheduledFor: claim.scheduledFor.map { f.string(from: $0) }, startedAt: f.string(from: started),
                               finishedAt: f.string(from: finished), runner: owner, output: String(outcome.output.prefix(4000))),
                         settings: settings)
    }
}
