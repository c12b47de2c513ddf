import DatabaseDriver
import Foundation
import SQL
import State

/// What the dashboard and `breakout status` show, read from the control tables for each request.
package struct DashboardData {
    package struct Job {
        package var id: Int64
        package var organization: String
        package var name: String
        package var type: String
        package var schedule: String
        package var timeZone: String
        package var active: Bool
        package var managed: Bool
        package var running: Bool
        package var runner: String?
        package var lastRunAt: Date?
        package var lastStatus: String?
        package var nextRunAt: Date?
        package var connection: String?
        package var progress: String?
        /// The last finished run (success or failed) in `mt_job_runs`, and the job's last output.
        package var lastFinished: Run?
        package var lastOutput: String?
        /// Cases the last run set aside as undecodable (`breakout_errors`).
        package var lastFailedCases: Int64?
        /// The fire that passed without any runner claiming it (two minutes of grace).
        package var overdueSince: Date?
    }

    /// Whether any runner is ticking: what `status`, the dashboard and `/metrics` warn about.
    package struct Liveness {
        package var runners: [RunnerRow]
        /// The most recent tick of any runner.
        package var lastTick: Date?
        /// Set when no runner ticked within its interval (and there are active jobs).
        package var warning: String?
    }

    package struct Run {
        package var id: Int64
        package var jobID: Int64
        package var trigger: String
        package var status: String
        package var startedAt: Date?
        package var finishedAt: Date?
        package var runner: String?
        package var cases: Int64?
        package var rows: Int64?
        package var failedCases: Int64?
        package var output: String
        /// The job's names when the run was recorded (kept after an apply deletes the job).
        package var organization: String?
        package var job: String?
    }

    package var snapshot: StateSnapshot
    package var jobs: [Job]
    /// Each organization's last finished runs, newest first (the overview's trend).
    package var recentRuns: [String: [Run]] = [:]
    static let trendRuns = 20
    package var organizations: [OrganizationRow] { snapshot.organizations }
    /// The state store's time when this was read (the clock leases use).
    package var now: Date
    package var liveness: Liveness
    /// A fire this much past with nobody claiming it is overdue (seconds).
    package static let overdueGrace: Double = 120

    package init(_ store: StateStore, now given: Date? = nil) throws {
        // The store's clock where it answers; the queries that follow report a lost store.
        let now = given ?? (try? store.serverTime()) ?? Date()
        self.now = now
        snapshot = try store.snapshot()
        var live: [Int64: Row] = [:]
        for row in try store.connection.query(ControlStatements.liveJobColumns) {
            if let id = row[0].int64 { live[id] = row }
        }
        // Progress only from the run of the runner that holds the lease: a dead run's last line
        // never shows as the progress of the next one.
        var progress: [Int64: String] = [:]
        for row in try store.connection.query(ControlStatements.runningRuns) {
            if let id = row["job_id"]?.int64, let text = row["output"]?.string, text.hasPrefix("running: "),
                row["runner"]?.string == live[id]?["lease_owner"]?.string
            {
                progress[id] = String(text.dropFirst(9))
            }
        }
        var lastFinished: [Int64: Run] = [:]
        let finished = try Self.runs(store, finishedOnly: true, limit: nil)
        for run in finished.reversed() { lastFinished[run.jobID] = run }
        // Each organization's last runs (newest first), under the name they were recorded with.
        var recent: [String: [Run]] = [:]
        for run in finished {
            guard let org = run.organization, recent[org, default: []].count < Self.trendRuns else { continue }
            recent[org, default: []].append(run)
        }
        recentRuns = recent
        let orgName = Dictionary(snapshot.organizations.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let connName = Dictionary(snapshot.connections.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        jobs = snapshot.jobs.map { j in
            let l = live[j.id]
            let expires = l?["lease_expires_at"].flatMap(StateStore.date)
            let running = l?["lease_owner"]?.string != nil && (expires ?? .distantPast) > now
            let next = l?["next_run_at"].flatMap(StateStore.date)
            let overdue = j.isActive && !running && next.map { now.timeIntervalSince($0) > Self.overdueGrace } == true ? next : nil
            return Job(
                id: j.id, organization: orgName[j.organizationID] ?? "?", name: j.name, type: j.jobType, schedule: j.cronExpression,
                timeZone: j.timeZone ?? "UTC", active: j.isActive, managed: j.managedBy != nil, running: running,
                runner: running ? l?["lease_owner"]?.string : nil, lastRunAt: j.lastRunAt, lastStatus: j.lastRunStatus,
                nextRunAt: l?["next_run_at"].flatMap(StateStore.date), connection: j.connectionID.flatMap { connName[$0] },
                progress: running ? progress[j.id] : nil, lastFinished: lastFinished[j.id], lastOutput: l?["last_run_output"]?.string,
                lastFailedCases: j.lastRunFailedCases, overdueSince: overdue)
        }
        let runners = try store.runners()
        let lastTick = runners.compactMap(\.lastTickAt).max()
        var warning: String?
        if snapshot.jobs.contains(where: \.isActive), runners.allSatisfy({ $0.isLate(at: now) }) {
            let check =
                "check the runner: `systemctl status breakout` for the daemon (`breakout run`), or the crontab line "
                + "`* * * * * breakout cron run -c …` and its log (docs/runner.md, \"No runner\")"
            if let lastTick {
                warning =
                    "no runner has run since \(SQLTimestamp.format(lastTick)) UTC (\(Self.ago(now.timeIntervalSince(lastTick)))): no job will start; "
                    + check
            } else {
                warning = "no runner has ever run against these control tables: no job will start; " + check
            }
        }
        liveness = Liveness(runners: runners, lastTick: lastTick, warning: warning)
    }

    /// "4 min ago", "3 h ago", "2 days ago".
    package static func ago(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        let amount =
            s < 120 ? "\(s) s" : s < 7200 ? "\(s / 60) min" : s < 172_800 ? "\(s / 3600) h" : tr("\(s / 86400) days", "\(s / 86400) jours")
        return tr("\(amount) ago", "il y a \(amount)")
    }

    static func runs(
        _ store: StateStore, jobID: Int64? = nil, id: Int64? = nil, names: (String, String)? = nil, finishedOnly: Bool = false,
        limit: Int? = 20
    ) throws -> [Run] {
        let rows = try store.connection.query(
            ControlStatements.runs(names: names.map { ($0.0, $0.1) }, finishedOnly: finishedOnly, job: jobID, run: id, limit: limit))
        return rows.map { r in
            Run(
                id: r["id"]?.int64 ?? 0, jobID: r["job_id"]?.int64 ?? 0, trigger: r["trigger_type"]?.string ?? "",
                status: r["status"]?.string ?? "",
                startedAt: r["started_at"].flatMap(StateStore.date), finishedAt: r["finished_at"].flatMap(StateStore.date),
                runner: r["runner"]?.string, cases: r["cases_loaded"]?.int64, rows: r["rows_loaded"]?.int64,
                failedCases: r["failed_cases"]?.int64,
                output: r["output"]?.string ?? "", organization: r["organization_name"]?.string, job: r["job_name"]?.string)
        }
    }

    /// A cron expression in words, for the common shapes; the expression itself otherwise.
    static func words(_ cron: String, _ zone: String) -> String {
        let macros = [
            "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
            "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
        ]
        let f = (macros[cron.lowercased()] ?? cron).split(separator: " ").map(String.init)
        guard f.count == 5 else { return cron }
        let days =
            Language.current == .fr
            ? [
                "0": "dimanche", "1": "lundi", "2": "mardi", "3": "mercredi", "4": "jeudi", "5": "vendredi", "6": "samedi", "7": "dimanche",
                "1-5": "jour de semaine (lundi–vendredi)",
            ]
            : [
                "0": "Sunday", "1": "Monday", "2": "Tuesday", "3": "Wednesday", "4": "Thursday", "5": "Friday", "6": "Saturday",
                "7": "Sunday", "1-5": "weekdays (Monday–Friday)",
            ]
        func time(_ h: String, _ m: String) -> String? {
            guard let hh = Int(h), let mm = Int(m) else { return nil }
            return String(format: "%02d:%02d", hh, mm)
        }
        let tz = " (\(zone))"
        if f == ["*", "*", "*", "*", "*"] { return tr("every minute", "chaque minute") }
        if f[0].hasPrefix("*/"), f[1...] == ["*", "*", "*", "*"] {
            return tr("every \(f[0].dropFirst(2)) minutes", "toutes les \(f[0].dropFirst(2)) minutes")
        }
        if Int(f[0]) != nil, f[1...] == ["*", "*", "*", "*"] {
            return tr("every hour at minute \(f[0])", "toutes les heures à la minute \(f[0])")
        }
        if let t = time(f[1], f[0]), f[2] == "*", f[3] == "*" {
            if f[4] == "*" { return tr("every day at \(t)", "tous les jours à \(t)") + tz }
            if let d = days[f[4]] { return tr("every \(d) at \(t)", "chaque \(d) à \(t)") + tz }
        }
        if let t = time(f[1], f[0]), Int(f[2]) != nil, f[3] == "*", f[4] == "*" {
            return tr("on day \(f[2]) of every month at \(t)", "le \(f[2]) de chaque mois à \(t)") + tz
        }
        return "cron \(cron)" + tz
    }
}
