import DatabaseDriver
import Foundation
import Runner
import SQL
import State

/// `/metrics` in Prometheus text format (0.0.4), from the control tables.
enum Metrics {
    static func label(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }

    static func text(_ store: StateStore, lags: [LagProbe.Lag] = [], lagAge: Double? = nil) throws -> String {
        let data = try DashboardData(store)
        let jobName = Dictionary(data.jobs.map { ($0.id, ($0.organization, $0.name)) }, uniquingKeysWith: { a, _ in a })
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        func labels(_ id: Int64, _ extra: [(String, String)] = []) -> String {
            let (o, j) = jobName[id] ?? ("?", "#\(id)")
            return "{" + ([("organization", o), ("job", j)] + extra).map { "\($0.0)=\"\(label($0.1))\"" }.joined(separator: ",") + "}"
        }
        let rows = try store.connection.query(ControlStatements.runCounters)
        var counts: [Int64: [String: Int]] = [:]
        var durations: [Int64: (sum: Double, count: Int)] = [:]
        var cases: [Int64: Int64] = [:], loaded: [Int64: Int64] = [:], undecodable: [Int64: Int64] = [:]
        var lastSuccess: [Int64: Date] = [:]
        for r in rows {
            guard let id = r[0].int64, let status = r[1].string else { continue }
            counts[id, default: [:]][status, default: 0] += 1
            if let s = StateStore.date(r[2]), let f = StateStore.date(r[3]), status == "success" || status == "failed" {
                durations[id, default: (0, 0)].sum += f.timeIntervalSince(s)
                durations[id, default: (0, 0)].count += 1
                if status == "success", (lastSuccess[id] ?? .distantPast) < f { lastSuccess[id] = f }
            }
            cases[id, default: 0] += r[4].int64 ?? 0
            loaded[id, default: 0] += r[5].int64 ?? 0
            undecodable[id, default: 0] += r[6].int64 ?? 0
        }
        family("breakout_job_runs_total", "counter", "Runs recorded in mt_job_runs, by status.")
        for (id, byStatus) in counts.sorted(by: { $0.key < $1.key }) {
            for (status, n) in byStatus.sorted(by: { $0.key < $1.key }) {
                out += "breakout_job_runs_total\(labels(id, [("status", status)])) \(n)\n"
            }
        }
        family("breakout_job_run_duration_seconds", "summary", "Duration of finished runs.")
        for (id, d) in durations.sorted(by: { $0.key < $1.key }) {
            out += "breakout_job_run_duration_seconds_sum\(labels(id)) \(String(format: "%.3f", d.sum))\n"
            out += "breakout_job_run_duration_seconds_count\(labels(id)) \(d.count)\n"
        }
        family("breakout_cases_loaded_total", "counter", "Cases loaded by the job's runs.")
        for (id, n) in cases.sorted(by: { $0.key < $1.key }) { out += "breakout_cases_loaded_total\(labels(id)) \(n)\n" }
        family("breakout_rows_loaded_total", "counter", "Rows loaded by the job's runs.")
        for (id, n) in loaded.sorted(by: { $0.key < $1.key }) { out += "breakout_rows_loaded_total\(labels(id)) \(n)\n" }
        family("breakout_failed_cases_total", "counter", "Cases the job's runs could not decode and set aside in breakout_errors.")
        for (id, n) in undecodable.sorted(by: { $0.key < $1.key }) { out += "breakout_failed_cases_total\(labels(id)) \(n)\n" }
        family("breakout_job_last_run_failed_cases", "gauge", "Undecodable cases of the job's last run (a success can have some).")
        for j in data.jobs { if let n = j.lastFailedCases { out += "breakout_job_last_run_failed_cases\(labels(j.id)) \(n)\n" } }
        family("breakout_job_overdue", "gauge", "1 when the job's fire passed more than two minutes ago and no runner claimed it.")
        for j in data.jobs where j.active { out += "breakout_job_overdue\(labels(j.id)) \(j.overdueSince == nil ? 0 : 1)\n" }
        family(
            "breakout_runner_last_tick_timestamp_seconds", "gauge",
            "When each runner (host and kind) last ticked (Unix time, state-store clock).")
        for r in data.liveness.runners {
            let l = "{runner=\"\(label(r.name))\",kind=\"\(label(r.kind))\"}"
            if let t = r.lastTickAt { out += "breakout_runner_last_tick_timestamp_seconds\(l) \(Int(t.timeIntervalSince1970))\n" }
        }
        family("breakout_runner_clock_offset_seconds", "gauge", "Each runner's host clock minus the state store's, at its last tick.")
        for r in data.liveness.runners {
            out +=
                "breakout_runner_clock_offset_seconds{runner=\"\(label(r.name))\",kind=\"\(label(r.kind))\"} \(String(format: "%.3f", Double(r.clockOffsetMilliseconds) / 1000))\n"
        }
        family("breakout_no_runner", "gauge", "1 when there are active jobs and no runner ticked within its interval: nothing will start.")
        out += "breakout_no_runner \(data.liveness.warning == nil ? 0 : 1)\n"
        family("breakout_job_last_success_timestamp_seconds", "gauge", "When the job last finished successfully (Unix time).")
        for (id, d) in lastSuccess.sorted(by: { $0.key < $1.key }) {
            out += "breakout_job_last_success_timestamp_seconds\(labels(id)) \(Int(d.timeIntervalSince1970))\n"
        }
        family("breakout_job_running", "gauge", "1 while a runner holds the job's lease.")
        for j in data.jobs { out += "breakout_job_running\(labels(j.id, [("runner", j.runner ?? "")])) \(j.running ? 1 : 0)\n" }
        family("breakout_job_next_run_timestamp_seconds", "gauge", "The job's next fire (Unix time).")
        for j in data.jobs {
            if let n = j.nextRunAt { out += "breakout_job_next_run_timestamp_seconds\(labels(j.id)) \(Int(n.timeIntervalSince1970))\n" }
        }
        if !lags.isEmpty {
            func l(_ x: LagProbe.Lag) -> String {
                "{organization=\"\(label(x.organization))\",connection=\"\(label(x.connection))\",dictionary=\"\(label(x.dictionary))\"}"
            }
            family(
                "breakout_dictionary_pending_cases", "gauge", "Source cases the destination has not loaded yet (its lag behind the source)."
            )
            for x in lags { if let n = x.pending { out += "breakout_dictionary_pending_cases\(l(x)) \(n)\n" } }
            family("breakout_dictionary_lag_probe_up", "gauge", "1 when the source and the destination could be read to measure the lag.")
            for x in lags { out += "breakout_dictionary_lag_probe_up\(l(x)) \(x.pending == nil ? 0 : 1)\n" }
        }
        if let lagAge {
            family(
                "breakout_dictionary_lag_age_seconds", "gauge",
                "How old the lag figures are: they are measured in the background, each destination waited for at most --lag-timeout.")
            out += "breakout_dictionary_lag_age_seconds \(Int(lagAge))\n"
        }
        family("breakout_organizations", "gauge", "Organizations in the control tables.")
        out += "breakout_organizations \(data.organizations.count)\n"
        return out
    }
}
