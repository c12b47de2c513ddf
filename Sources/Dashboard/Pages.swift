import Diagnostics
import Foundation
import Runner
import State

/// Server-rendered HTML, forms for the one action; one small script (`live`) keeps running jobs'
/// progress current without a reload.
enum Pages {
    static func e(_ s: String) -> String { htmlEscaped(s) }

    /// `text` between backticks as `<code>` (in already escaped text).
    static func code(_ escaped: String) -> String {
        let parts = escaped.components(separatedBy: "`")
        guard parts.count > 2, parts.count % 2 == 1 else { return escaped }
        return parts.enumerated().map { $0.offset % 2 == 1 ? "<code>\($0.element)</code>" : $0.element }.joined()
    }

    /// The CSS class for a run status: one of the statuses the runner writes, or `other`. A status
    /// comes from the control tables, where a hand-made row can hold anything: it is data, never
    /// markup or an attribute name.
    static func statusClass(_ status: String) -> String {
        ["success", "failed", "running", "skipped", "crashed", "timeout"].contains(status) ? status : "other"
    }

    static func url(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }

    /// The pages' one script (served as `/live.js`, allowed by the CSP as 'self'): while a page is
    /// open it asks `/api/status` every 2 s when something runs (every 15 s otherwise) and rewrites
    /// each `data-live-job` element with the job's state and progress — no reload. Text only
    /// (`textContent`): a status or progress from the control tables never becomes markup.
    static let live = """
        (function () {
          "use strict";
          var known = ["success", "failed", "running", "skipped", "crashed", "timeout"];
          function text(j) {
            if (j.running) return { css: "running", text: "running" + (j.progress ? " · " + j.progress : " · starting") };
            if (!j.last_status) return { css: "muted", text: j.active ? "never run" : "inactive" };
            var aside = j.last_failed_cases > 0 ? " (" + j.last_failed_cases + " undecodable cases set aside)" : "";
            var css = j.last_status === "success" && j.last_failed_cases > 0 ? "partial" : (known.indexOf(j.last_status) >= 0 ? j.last_status : "other");
            return { css: css, text: j.last_status + aside };
          }
          function tick() {
            var elements = document.querySelectorAll("[data-live-job]");
            if (!elements.length) return;
            fetch("/api/status", { cache: "no-store", credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
              var byName = {}, running = false;
              s.jobs.forEach(function (j) { byName[j.organization + "/" + j.job] = j; if (j.running) running = true; });
              elements.forEach(function (el) {
                var j = byName[el.getAttribute("data-live-job")];
                // A job that is not running keeps what the server wrote (its cause, overdue); a run
                // that starts, moves or ends is rewritten.
                if (!j || (!j.running && el.getAttribute("data-live-state") !== "running")) return;
                var t = text(j), span = document.createElement("span");
                span.className = t.css;
                span.textContent = t.text;
                if (el.textContent !== t.text) { el.replaceChildren(span); }
                if (!j.running) {
                  // The run ended: the history and chart below are from before it.
                  var again = document.createElement("a");
                  again.href = location.pathname;
                  again.textContent = " · finished: reload for its details";
                  el.appendChild(again);
                }
                el.setAttribute("data-live-state", j.running ? "running" : "idle");
              });
              setTimeout(tick, running ? 2000 : 15000);
            }).catch(function () { setTimeout(tick, 15000); });
          }
          setTimeout(tick, 2000);
        })();
        """

    static let style = """
        body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
        table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
        th{background:#f4f4f4}.warning{background:#fff4e5;border-left:4px solid #b35c00;padding:.6rem 1rem}.overdue{color:#b35c00;font-weight:bold}.success{color:#17692f}.failed,.crashed,.timeout{color:#b00020;font-weight:bold}.running{color:#0b5cad;font-weight:bold}.partial{color:#b35c00;font-weight:bold}.skipped{color:#777}
        pre{background:#f7f7f7;padding:1rem;overflow:auto}nav a{margin-right:1rem}button{padding:.2rem .7rem}form.inline{display:inline}.muted{color:#777}
        """

    /// A page; `csrf` is the session's form value when signed in (the nav then offers Sign out).
    static func page(_ title: String, _ body: String, csrf: String?) -> String {
        let session =
            csrf.map {
                "<form class=\"inline\" method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"\(e($0))\">"
                    + "<span class=\"muted\">signed in</span> <button type=\"submit\">Sign out</button></form>"
            } ?? "<a href=\"/login\">Sign in to run jobs</a>"
        return """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(e(title)) · breakout</title>
                <meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css">
                <script src="/live.js" defer></script></head>
                <body><nav><a href="/">Overview</a><a href="/api/status">JSON</a><a href="/metrics">Metrics</a>\(session)</nav>
            <h1>\(e(title))</h1>
            \(body)
            </body></html>
            """
    }

    static func time(_ d: Date?) -> String {
        guard let d else { return "–" }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: d)
    }

    /// A job's status, in an element `/live.js` keeps current while the page is open.
    static func status(_ job: DashboardData.Job) -> String {
        "<span data-live-job=\"\(e(job.organization + "/" + job.name))\" data-live-state=\"\(job.running ? "running" : "idle")\">"
            + staticStatus(job) + "</span>"
    }

    static func staticStatus(_ job: DashboardData.Job) -> String {
        if job.running { return "<span class=\"running\">running</span>" + (job.progress.map { " · \(e($0))" } ?? "") }
        let overdue = job.overdueSince.map { " <span class=\"overdue\">overdue since \(time($0))</span>" } ?? ""
        guard let s = job.lastStatus else {
            return (job.active ? "<span class=\"muted\">never run</span>" : "<span class=\"muted\">inactive</span>") + overdue
        }
        let failedCases = job.lastFailedCases ?? 0
        // A run that set cases aside succeeded only in part: a warning, not plain success.
        let setAside = failedCases > 0 ? " <span class=\"partial\">(\(failedCases) undecodable cases set aside)</span>" : ""
        let css = s == "success" && failedCases > 0 ? "partial" : statusClass(s)
        return "<span class=\"\(css)\">\(e(s))</span>" + setAside + overdue + cause(status: s, output: job.lastOutput)
    }

    /// The first line of a run's output under a status that is not success: why it failed.
    static func cause(status: String, output: String?) -> String {
        guard status != "success", let line = output?.split(separator: "\n").first else { return "" }
        return "<br><span class=\"muted\">\(e(String(line.prefix(160))))</span>"
    }

    /// Where a job is declared and how to change it: the dashboard shows, the YAML decides.
    static func declaration(_ job: DashboardData.Job) -> String {
        if job.managed {
            return "<p class=\"muted\">Declared in <code>organizations/\(e(job.organization)).yaml</code> as job "
                + "<code>\(e(job.name))</code>. To change it, edit that file, review <code>breakout plan</code> and run "
                + "<code>breakout apply</code>; the dashboard does not edit jobs.</p>"
        }
        return "<p class=\"muted\">A hand-made row of <code>mt_cron_jobs</code>: no configuration file declares it. "
            + "<code>breakout import --out DIR</code> writes it into <code>organizations/\(e(job.organization)).yaml</code>, "
            + "after which <code>breakout plan</code> and <code>breakout apply</code> manage it.</p>"
    }

    /// The no-runner warning and the runners' last ticks.
    static func liveness(_ data: DashboardData) -> String {
        var b = data.liveness.warning.map { "<p class=\"warning\"><strong>No runner.</strong> \(code(e($0)))</p>" } ?? ""
        let overdue = data.jobs.filter { $0.overdueSince != nil }
        if !overdue.isEmpty, data.liveness.warning == nil {
            b +=
                "<p class=\"warning\"><strong>Overdue.</strong> "
                + overdue.map { "\(e($0.organization))/\(e($0.name)) (due \(time($0.overdueSince)))" }.joined(separator: ", ")
                + ": the fire passed and no runner claimed it.</p>"
        }
        return b
    }

    static func runners(_ data: DashboardData) -> String {
        var b = "<h2>Runners</h2>"
        if data.liveness.runners.isEmpty { return b + "<p class=\"muted\">No runner has ever ticked against these control tables.</p>" }
        b += "<table><tr><th>Runner</th><th>Last tick</th><th>Version</th><th>Clock</th></tr>"
        for r in data.liveness.runners {
            let late = r.isLate(at: data.now)
            let tick = r.lastTickAt.map { "\(time($0)) (\(DashboardData.ago(data.now.timeIntervalSince($0))))" } ?? "never"
            let offset = Double(r.clockOffsetMilliseconds) / 1000
            b +=
                "<tr><td>\(e(r.name)) <span class=\"muted\">pid \(r.pid)</span></td><td\(late ? " class=\"overdue\"" : "")>\(e(tick))\(late ? " · late" : "")</td>"
            b +=
                "<td>\(e(r.version))</td><td>\(abs(offset) > 5 ? "<span class=\"overdue\">\(String(format: "%+.0f", offset)) s off the store</span>" : "in step")</td></tr>"
        }
        return b + "</table>"
    }

    static func runButton(_ job: DashboardData.Job, csrf: String?) -> String {
        guard let csrf, job.active || true else { return "" }
        if job.running { return "<span class=\"muted\">running</span>" }
        return """
            <form method="post" action="/org/\(url(job.organization))/jobs/\(url(job.name))/run"><input type="hidden" name="csrf" value="\(e(csrf))"><button type="submit">Run now</button></form>
            """
    }

    static func overview(_ data: DashboardData, csrf: String?) -> String {
        var b =
            liveness(data)
            + "<h2>Organizations</h2><table><tr><th>Organization</th><th>Name</th><th>Connections</th><th>Active jobs</th><th>Last runs (cases loaded)</th></tr>"
        for o in data.organizations {
            let conns = data.snapshot.connections.filter { $0.organizationID == o.id }.count
            let active = data.jobs.filter { $0.organization == o.name && $0.active }.count
            b +=
                "<tr><td><a href=\"/org/\(url(o.name))\">\(e(o.name))</a></td><td>\(e(o.displayName ?? o.name))</td><td>\(conns)</td><td>\(active)</td>"
                + "<td>\(Charts.trend(data.recentRuns[o.name] ?? []))</td></tr>"
        }
        b += "</table>"
        let running = data.jobs.filter(\.running)
        b += "<h2>Running now</h2>"
        if running.isEmpty {
            b += "<p class=\"muted\">No job is running.</p>"
        } else {
            b += "<table><tr><th>Job</th><th>Since</th><th>Runner</th><th>Progress</th></tr>"
            for j in running {
                b +=
                    "<tr><td>\(e(j.organization))/\(e(j.name))</td><td>\(time(j.lastRunAt))</td><td>\(e(j.runner ?? ""))</td><td>\(status(j))</td></tr>"
            }
            b += "</table>"
        }
        b +=
            "<h2>Jobs</h2>"
            + jobsTable(
                data.jobs.sorted {
                    ($0.lastStatus == "failed" ? 0 : 1, $0.organization, $0.name) < (
                        $1.lastStatus == "failed" ? 0 : 1, $1.organization, $1.name
                    )
                },
                csrf: csrf, withOrganization: true)
        b += runners(data)
        return page("breakout", b, csrf: csrf)
    }

    static func jobsTable(_ jobs: [DashboardData.Job], csrf: String?, withOrganization: Bool) -> String {
        var b =
            "<table><tr><th>Job</th><th>Schedule</th><th>Last run</th><th>Status</th><th>Next run</th>\(csrf != nil ? "<th></th>" : "")</tr>"
        for j in jobs {
            let name = (withOrganization ? "\(j.organization)/" : "") + j.name + (j.managed ? "" : " (hand-made)")
            b +=
                "<tr><td><a href=\"/org/\(url(j.organization))/jobs/\(url(j.name))\">\(e(name))</a></td><td>\(e(DashboardData.words(j.schedule, j.timeZone)))</td>"
            b += "<td>\(time(j.lastRunAt))</td><td>\(status(j))</td><td>\(j.active ? time(j.nextRunAt) : "inactive")</td>"
            if csrf != nil { b += "<td>\(runButton(j, csrf: csrf))</td>" }
            b += "</tr>"
        }
        return b + "</table>"
    }

    /// Cases waiting per connection and dictionary, from the background measurement, with its age.
    static func pending(_ lags: [LagProbe.Lag], age: Double?) -> String {
        var b = "<h2>Cases waiting</h2>"
        guard let age else { return b + "<p class=\"muted\">Not measured yet (the lag is measured in the background).</p>" }
        if lags.isEmpty { return b + "<p class=\"muted\">No active breakout job.</p>" }
        b += "<table><tr><th>Connection</th><th>Dictionary</th><th>Cases waiting</th></tr>"
        for lag in lags {
            let value =
                lag.pending.map { $0 > 0 ? "<span class=\"overdue\">\($0)</span>" : "0" }
                ?? "<span class=\"failed\">not measured</span> <span class=\"muted\">\(e(String((lag.error ?? "").prefix(160))))</span>"
            b += "<tr><td>\(e(lag.connection))</td><td>\(e(lag.dictionary))</td><td>\(value)</td></tr>"
        }
        return b + "</table><p class=\"muted\">Measured \(DashboardData.ago(age)).</p>"
    }

    static func organization(
        _ data: DashboardData, _ org: OrganizationRow, csrf: String?, lags: [LagProbe.Lag] = [], lagAge: Double? = nil
    ) -> String {
        var b = "<p>\(e(org.displayName ?? org.name))\(org.managedBy == nil ? " <span class=\"muted\">(hand-made)</span>" : "")</p>"
        b += "<h2>Connections</h2><table><tr><th>Name</th><th>Type</th><th>Host</th><th>Database</th><th>User</th><th>Default</th></tr>"
        for c in data.snapshot.connections where c.organizationID == org.id {
            b +=
                "<tr><td>\(e(c.name))</td><td>\(e(c.dbType))</td><td>\(e(c.host ?? "–"))\(c.port.map { ":\($0)" } ?? "")</td><td>\(e(c.database ?? ""))</td><td>\(e(c.username ?? ""))</td><td>\(c.isDefault ? "yes" : "")</td></tr>"
        }
        b += "</table><h2>Jobs</h2>" + jobsTable(data.jobs.filter { $0.organization == org.name }, csrf: csrf, withOrganization: false)
        b += pending(lags.filter { $0.organization == org.name }, age: lagAge)
        return page("Organization \(org.name)", b, csrf: csrf)
    }

    static func job(_ job: DashboardData.Job, runs: [DashboardData.Run], csrf: String?) -> String {
        var b =
            "<p>\(e(job.type)) job · \(e(DashboardData.words(job.schedule, job.timeZone))) · <code>\(e(job.schedule))</code> · connection \(e(job.connection ?? "default"))</p>"
        b += "<p>Status: \(status(job)) · next run \(job.active ? time(job.nextRunAt) : "inactive")</p>" + runButton(job, csrf: csrf)
        b += declaration(job)
        if !runs.isEmpty { b += "<h2>Recent runs</h2>" + Charts.runs(runs) }
        b += history(runs)
        return page("Job \(job.organization)/\(job.name)", b, csrf: csrf)
    }

    static func history(_ runs: [DashboardData.Run]) -> String {
        var b =
            "<h2>History</h2><table><tr><th>Run</th><th>Trigger</th><th>Started</th><th>Finished</th><th>Status</th><th>Cases</th><th>Undecodable</th><th>Rows</th></tr>"
        for r in runs {
            let cause = cause(status: r.status, output: r.output)
            let css = r.status == "success" && (r.failedCases ?? 0) > 0 ? "partial" : statusClass(r.status)
            b +=
                "<tr><td><a href=\"/runs/\(r.id)\">#\(r.id)</a></td><td>\(e(r.trigger))</td><td>\(time(r.startedAt))</td><td>\(time(r.finishedAt))</td>"
            b +=
                "<td><span class=\"\(css)\">\(e(r.status))</span>\(cause)</td><td>\(r.cases.map(String.init) ?? "–")</td>"
            b +=
                "<td>\(r.failedCases.map { $0 > 0 ? "<span class=\"overdue\">\($0)</span>" : "0" } ?? "–")</td><td>\(r.rows.map(String.init) ?? "–")</td></tr>"
        }
        return b + "</table>"
    }

    /// A job an apply deleted: its runs, read by the names they were recorded with.
    static func deletedJob(_ organization: String, _ name: String, runs: [DashboardData.Run]) -> String {
        page(
            "Job \(organization)/\(name)",
            "<p class=\"muted\">This job is no longer in the control tables (an apply deleted it); its history is kept.</p>"
                + history(runs), csrf: nil)
    }

    static func run(_ run: DashboardData.Run, job: DashboardData.Job?) -> String {
        let deleted =
            run.organization.flatMap { o in run.job.map { "\(e(o))/\(e($0)) <span class=\"muted\">(deleted)</span>" } } ?? "#\(run.jobID)"
        var b =
            "<p>Job \(job.map { "<a href=\"/org/\(url($0.organization))/jobs/\(url($0.name))\">\(e($0.organization))/\(e($0.name))</a>" } ?? deleted)"
        b +=
            " · trigger \(e(run.trigger)) · <span class=\"\(statusClass(run.status))\">\(e(run.status))</span> · started \(time(run.startedAt)) · finished \(time(run.finishedAt))"
        b += " · runner \(e(run.runner ?? "–")) · \(run.cases.map(String.init) ?? "–") cases, \(run.rows.map(String.init) ?? "–") rows"
        b +=
            (run.failedCases ?? 0) > 0
            ? " · <span class=\"overdue\">\(run.failedCases!) undecodable cases set aside in breakout_errors</span></p>" : "</p>"
        let failed = run.output.split(separator: "\n").filter {
            $0.trimmingCharacters(in: .whitespaces).hasPrefix("failed:") || $0.contains(": failed:")
        }
        if !failed.isEmpty {
            b +=
                "<h2>Failed cases and errors</h2><ul>"
                + failed.map { "<li>\(e(String($0).trimmingCharacters(in: .whitespaces)))</li>" }.joined() + "</ul>"
        }
        b += "<h2>Summary</h2><pre>\(e(run.output))</pre>"
        return page("Run #\(run.id)", b, csrf: nil)
    }

    static func login(error: Bool) -> String {
        page(
            "Sign in",
            (error ? "<p class=\"failed\">That token is not valid.</p>" : "") + """
                <p>The token is <code>serve.token</code> in breakout.yaml. Signed in, the pages show a Run now button.</p>
                <form method="post" action="/login"><label>Token <input type="password" name="token" autocomplete="off"></label> <button type="submit">Sign in</button></form>
                """, csrf: nil)
    }
}
