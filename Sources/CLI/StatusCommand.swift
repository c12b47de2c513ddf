import ArgumentParser
import Dashboard
import DatabaseDriver
import Foundation
import SQL
import State

/// `breakout status`: the guide's dashboard in a terminal.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Organizations, running jobs, failures and the last and next run of every job, from the control tables."
    )

    @OptionGroup var config: ConfigOptions
    @Option(help: "Only this organization.") var org: String?
    @Option(help: "text (80 columns) or json.") var format: DictionaryCommand.Format = .text

    struct JobStatus: Encodable {
        var organization: String
        var job: String
        var schedule: String
        var timeZone: String
        var active: Bool
        var managed: Bool
        var running: Bool
        var runner: String?
        var runningSince: String?
        var progress: String?
        var lastRunAt: String?
        var lastStatus: String?
        var lastDurationSeconds: Double?
        var lastCases: Int64?
        var nextRunAt: String?
        var lastOutput: String?
        var lastFailedCases: Int64?
        var overdueSince: String?

        enum CodingKeys: String, CodingKey {
            case organization, job, schedule, timeZone = "time_zone", active, managed, running, runner, runningSince = "running_since",
                progress
            case lastRunAt = "last_run_at", lastStatus = "last_status", lastDurationSeconds = "last_duration_seconds", lastCases =
                "last_cases"
            case nextRunAt = "next_run_at", lastOutput = "last_output", lastFailedCases = "last_failed_cases", overdueSince =
                "overdue_since"
        }
    }

    struct RunnerStatus: Encodable {
        var runner: String
        var kind: String
        var pid: Int64
        var version: String
        var lastTickAt: String?
        var clockOffsetSeconds: Double
        var late: Bool
        enum CodingKeys: String, CodingKey {
            case runner, kind, pid, version, lastTickAt = "last_tick_at", clockOffsetSeconds = "clock_offset_seconds", late
        }
    }

    struct OrganizationStatus: Encodable {
        var organization: String
        var name: String
        var connections: Int
        var activeJobs: Int
        var managed: Bool
        enum CodingKeys: String, CodingKey { case organization, name, connections, activeJobs = "active_jobs", managed }
    }

    func run() throws {
        try reportingErrors {
            let runner = try RunnerAccess(config)
            let store = try runner.openStore()
            defer { store.connection.close() }
            let data = try DashboardData(store)
            let snapshot = data.snapshot
            let iso = ISO8601DateFormatter()
            let orgs = snapshot.organizations.filter { org == nil || $0.name == org }
            if let org, orgs.isEmpty {
                throw CLIError(
                    "no organization \"\(org)\" in the control tables",
                    hint: "known: \(snapshot.organizations.map(\.name).joined(separator: ", "))")
            }
            let jobs: [JobStatus] = data.jobs.filter { j in orgs.contains { $0.name == j.organization } }.map { j in
                let r = j.lastFinished
                return JobStatus(
                    organization: j.organization, job: j.name, schedule: j.schedule, timeZone: j.timeZone, active: j.active,
                    managed: j.managed,
                    running: j.running, runner: j.runner, runningSince: j.running ? j.lastRunAt.map { iso.string(from: $0) } : nil,
                    progress: j.progress, lastRunAt: r?.startedAt.map { iso.string(from: $0) }, lastStatus: r?.status,
                    lastDurationSeconds: r?.startedAt.flatMap { s in r?.finishedAt.map { $0.timeIntervalSince(s) } },
                    lastCases: r?.cases, nextRunAt: j.nextRunAt.map { iso.string(from: $0) }, lastOutput: j.lastOutput,
                    lastFailedCases: j.lastFailedCases, overdueSince: j.overdueSince.map { iso.string(from: $0) })
            }
            let runners = data.liveness.runners.map { r in
                RunnerStatus(
                    runner: r.name, kind: r.kind, pid: r.pid, version: r.version, lastTickAt: r.lastTickAt.map { iso.string(from: $0) },
                    clockOffsetSeconds: Double(r.clockOffsetMilliseconds) / 1000, late: r.isLate(at: data.now))
            }
            let orgStatus = orgs.map { o in
                OrganizationStatus(
                    organization: o.name, name: o.displayName ?? o.name,
                    connections: snapshot.connections.filter { $0.organizationID == o.id }.count,
                    activeJobs: snapshot.jobs.filter { $0.organizationID == o.id && $0.isActive }.count, managed: o.managedBy != nil)
            }
            if format == .json {
                struct Report: Encodable {
                    var organizations: [OrganizationStatus]
                    var jobs: [JobStatus]
                    var runners: [RunnerStatus]
                    var warning: String?
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(
                    String(
                        decoding: try encoder.encode(
                            Report(organizations: orgStatus, jobs: jobs, runners: runners, warning: data.liveness.warning)),
                        as: UTF8.self))
                return
            }
            func cut(_ s: String, _ n: Int) -> String {
                s.count > n ? String(s.prefix(n - 1)) + "…" : s.padding(toLength: n, withPad: " ", startingAt: 0)
            }
            func short(_ iso8601: String?) -> String {
                guard let iso8601 else { return "-" }
                return String(iso8601.replacingOccurrences(of: "T", with: " ").prefix(16))
            }
            if let warning = data.liveness.warning {
                print(wrapped("WARNING: " + warning, width: 80, indent: "  ").joined(separator: "\n") + "\n")
            }
            print("ORGANIZATIONS")
            for o in orgStatus {
                print(
                    "  " + cut(o.organization, 16) + cut(o.name, 36) + cut("\(o.connections) conn.", 10)
                        + "\(o.activeJobs) active job\(o.activeJobs == 1 ? "" : "s")")
            }
            let running = jobs.filter(\.running)
            print("\nRUNNING NOW" + (running.isEmpty ? ": none" : ""))
            for j in running {
                print("  " + cut("\(j.organization)/\(j.job)", 34) + "since " + short(j.runningSince) + " on " + cut(j.runner ?? "?", 24))
                if let p = j.progress { print("    " + cut(p, 74)) }
            }
            let overdue = jobs.filter { $0.overdueSince != nil }
            if !overdue.isEmpty {
                print("\nOVERDUE (the fire passed and no runner claimed it)")
                for j in overdue {
                    let since = data.jobs.first { $0.organization == j.organization && $0.name == j.job }?.overdueSince
                    print(
                        "  " + cut("\(j.organization)/\(j.job)", 34) + "due " + short(j.overdueSince)
                            + (since.map { " (" + DashboardData.ago(data.now.timeIntervalSince($0)) + ")" } ?? ""))
                }
            }
            print("\nRUNNERS" + (runners.isEmpty ? ": none has ever ticked" : ""))
            for r in runners {
                let tick =
                    data.liveness.runners.first { $0.name == r.runner }?.lastTickAt.map {
                        DashboardData.ago(data.now.timeIntervalSince($0))
                    } ?? "never"
                let clock = abs(r.clockOffsetSeconds) > 5 ? String(format: "  clock %+.0f s", r.clockOffsetSeconds) : ""
                print("  " + cut(r.runner, 34) + cut("last tick " + tick, 22) + (r.late ? "LATE" : "ok") + clock)
            }
            let setAside = jobs.filter { ($0.lastFailedCases ?? 0) > 0 }
            if !setAside.isEmpty {
                print("\nUNDECODABLE CASES IN THE LAST RUN (in breakout_errors)")
                for j in setAside { print("  " + cut("\(j.organization)/\(j.job)", 34) + "\(j.lastFailedCases ?? 0) cases set aside") }
            }
            let failed = jobs.filter { $0.lastStatus == "failed" && !$0.running }
            if !failed.isEmpty {
                print("\nFAILED LAST RUN")
                for j in failed {
                    print("  " + cut("\(j.organization)/\(j.job)", 34) + short(j.lastRunAt))
                    if let line = j.lastOutput?.split(separator: "\n").first { print("    " + cut(String(line), 74)) }
                }
            }
            print("\nJOBS (failures first)")
            print("  " + cut("ORG/JOB", 29) + cut("LAST RUN (UTC)", 17) + cut("STATUS", 9) + cut("CASES", 7) + "NEXT RUN (UTC)")
            let ordered = jobs.sorted {
                ($0.lastStatus == "failed" ? 0 : 1, $0.organization, $0.job) < ($1.lastStatus == "failed" ? 0 : 1, $1.organization, $1.job)
            }
            for j in ordered {
                let status = j.running ? "running" : (j.lastStatus ?? (j.active ? "never" : "inactive"))
                print(
                    "  " + cut("\(j.organization)/\(j.job)", 29) + cut(short(j.lastRunAt), 17) + cut(status, 9)
                        + cut(j.lastCases.map(String.init) ?? "-", 7)
                        + (j.active ? short(j.nextRunAt) : "inactive"))
            }
        }
    }
}

/// `breakout logs ORG/JOB [--run ID]`: a run's output.
struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print the output of a job's last run, or of one run (--run ID), with its run history.")

    @Argument(help: "ORG/JOB") var target: String
    @OptionGroup var config: ConfigOptions
    @Option(name: .customLong("run"), help: "A run id from mt_job_runs (default: the last run).") var runID: Int64?
    @Option(help: "How many runs of history to list (default 10).") var history: Int = 10

    func run() throws {
        try reportingErrors {
            let runner = try RunnerAccess(config)
            let store = try runner.openStore()
            defer { store.connection.close() }
            // A job deleted by an apply keeps its history: its runs carry its names.
            var jobID: Int64?
            var names: (organization: String, job: String)?
            do {
                jobID = try RunnerAccess.job(target, in: try store.snapshot()).id
            } catch {
                let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, try !store.connection.query(ControlStatements.runs(names: (parts[0], parts[1]), limit: 1)).isEmpty
                else {
                    throw error
                }
                print("\(target) is no longer in the control tables (an apply deleted it); its run history:\n")
                names = (parts[0], parts[1])
            }
            let runs = try store.connection.query(ControlStatements.runs(names: names, job: jobID, limit: max(history, 1)))
            let chosen: Row?
            if let runID {
                chosen = try store.connection.query(ControlStatements.runs(names: names, job: jobID, run: runID, limit: nil)).first
                if chosen == nil {
                    throw CLIError(
                        "job \(target) has no run \(runID)",
                        hint: "recent runs: \(runs.compactMap { $0["id"]?.int64 }.map(String.init).joined(separator: ", "))")
                }
            } else {
                chosen = runs.first
            }
            guard let chosen else { print("\(target) has not run yet."); return }
            let failedCases = chosen["failed_cases"]?.int64 ?? 0
            print(
                "run \(chosen["id"]?.string ?? "?") · \(chosen["trigger_type"]?.string ?? "?") · \(chosen["status"]?.string ?? "?")"
                    + (failedCases > 0 ? " · \(failedCases) undecodable cases set aside" : "")
                    + " · started \(chosen["started_at"]?.string ?? "-") · finished \(chosen["finished_at"]?.string ?? "-") · runner \(chosen["runner"]?.string ?? "-")"
            )
            print(chosen["output"]?.string ?? "")
            if runs.count > 1 {
                print("\nrecent runs:")
                for r in runs {
                    print(
                        "  \(r["id"]?.string ?? "?")  \(r["started_at"]?.string ?? "-")  \(r["trigger_type"]?.string ?? "")  \(r["status"]?.string ?? "")"
                    )
                }
            }
        }
    }
}

/// Words of `text` in lines of at most `width` columns, continuation lines indented.
func wrapped(_ text: String, width: Int, indent: String) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
        let candidate = line.isEmpty ? String(word) : line + " " + word
        if candidate.count > width, !line.isEmpty {
            lines.append(line)
            line = indent + word
        } else {
            line = candidate
        }
    }
    if !line.isEmpty { lines.append(line) }
    return lines
}
