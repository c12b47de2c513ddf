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
          var fr = document.documentElement.lang === "fr";
          var words = fr
            ? { success: "succès", failed: "échec", running: "en cours", skipped: "ignorée", crashed: "interrompue", timeout: "délai dépassé",
                starting: "démarrage", never: "jamais exécutée", inactive: "inactive", aside: " cas illisibles mis de côté",
                finished: " · terminée : rechargez pour le détail" }
            : { starting: "starting", never: "never run", inactive: "inactive", aside: " undecodable cases set aside",
                finished: " · finished: reload for its details" };
          function word(s) { return words[s] || s; }
          function text(j) {
            if (j.running) return { css: "running", text: word("running") + " · " + (j.progress || words.starting) };
            if (!j.last_status) return { css: "muted", text: j.active ? words.never : words.inactive };
            var aside = j.last_failed_cases > 0 ? " (" + j.last_failed_cases + words.aside + ")" : "";
            var css = j.last_status === "success" && j.last_failed_cases > 0 ? "partial" : (known.indexOf(j.last_status) >= 0 ? j.last_status : "other");
            return { css: css, text: word(j.last_status) + aside };
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
                  again.textContent = words.finished;
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
                    + "<span class=\"muted\">\(tr("signed in", "connecté"))</span> <button type=\"submit\">\(tr("Sign out", "Se déconnecter"))</button></form>"
            } ?? "<a href=\"/login\">\(tr("Sign in to run jobs", "Se connecter pour lancer les tâches"))</a>"
        let switcher =
            Language.current == .fr
            ? "<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>"
            : "<a href=\"?lang=fr\" hreflang=\"fr\" lang=\"fr\">Français</a>"
        return """
                <!doctype html><html lang="\(Language.current.rawValue)"><head><meta charset="utf-8"><title>\(e(title)) · breakout</title>
                <meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/style.css">
                <script src="/live.js" defer></script></head>
                <body><nav><a href="/">\(tr("Overview", "Vue d'ensemble"))</a><a href="/api/status">JSON</a><a href="/metrics">\(tr("Metrics", "Métriques"))</a>\(switcher) \(session)</nav>
            <h1>\(e(title))</h1>
            \(body)
            </body></html>
            """
    }

    /// A moment in `zone` (a job's time zone; UTC where no job is concerned), in the page's language:
    /// `2026-12-04 06:30 Africa/Dakar`, `4 déc. 2026 06:30 Africa/Dakar`.
    static func time(_ d: Date?, zone: String = "UTC") -> String {
        guard let d else { return "–" }
        let f = DateFormatter()
        f.locale = Locale(identifier: Language.current == .fr ? "fr_FR" : "en_US_POSIX")
        f.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")
        f.dateFormat = Language.current == .fr ? "d MMM yyyy HH:mm" : "yyyy-MM-dd HH:mm"
        return f.string(from: d) + " " + (TimeZone(identifier: zone) == nil ? "UTC" : zone)
    }

    /// A run status in the page's language; one a hand-made row invented stays as it is (text).
    static func word(_ status: String) -> String {
        let french = [
            "success": "succès", "failed": "échec", "running": "en cours", "skipped": "ignorée", "crashed": "interrompue",
            "timeout": "délai dépassé",
        ]
        return Language.current == .fr ? french[status] ?? status : status
    }

    /// What started a run, in the viewer's language (the stored value otherwise: it is data).
    static func triggerWord(_ trigger: String) -> String {
        let french = ["schedule": "planifiée", "retry": "nouvelle tentative", "manual": "manuelle"]
        return Language.current == .fr ? french[trigger] ?? trigger : trigger
    }

    /// A job's status, in an element `/live.js` keeps current while the page is open.
    static func status(_ job: DashboardData.Job) -> String {
        "<span data-live-job=\"\(e(job.organization + "/" + job.name))\" data-live-state=\"\(job.running ? "running" : "idle")\">"
            + staticStatus(job) + "</span>"
    }

    static func staticStatus(_ job: DashboardData.Job) -> String {
        if job.running { return "<span class=\"running\">\(word("running"))</span>" + (job.progress.map { " · \(e($0))" } ?? "") }
        let overdue =
            job.overdueSince.map {
                " <span class=\"overdue\">\(tr("overdue since", "en retard depuis")) \(time($0, zone: job.timeZone))</span>"
            } ?? ""
        guard let s = job.lastStatus else {
            return
                (job.active
                ? "<span class=\"muted\">\(tr("never run", "jamais exécutée"))</span>"
                : "<span class=\"muted\">\(tr("inactive", "inactive"))</span>")
                + overdue
        }
        let failedCases = job.lastFailedCases ?? 0
        // A run that set cases aside succeeded only in part: a warning, not plain success.
        let setAside =
            failedCases > 0
            ? " <span class=\"partial\">(\(failedCases) \(tr("undecodable cases set aside", "cas illisibles mis de côté")))</span>" : ""
        let css = s == "success" && failedCases > 0 ? "partial" : statusClass(s)
        return "<span class=\"\(css)\">\(e(word(s)))</span>" + setAside + overdue + cause(status: s, output: job.lastOutput)
    }

    /// The first line of a run's output under a status that is not success: why it failed.
    static func cause(status: String, output: String?) -> String {
        guard status != "success", let line = output?.split(separator: "\n").first else { return "" }
        return "<br><span class=\"muted\">\(e(String(line.prefix(160))))</span>"
    }

    /// Where a job is declared and how to change it: the dashboard shows, the YAML decides.
    static func declaration(_ job: DashboardData.Job) -> String {
        if job.managed {
            return tr(
                "<p class=\"muted\">Declared in <code>organizations/\(e(job.organization)).yaml</code> as job "
                    + "<code>\(e(job.name))</code>. To change it, edit that file, review <code>breakout plan</code> and run "
                    + "<code>breakout apply</code>; the dashboard does not edit jobs.</p>",
                "<p class=\"muted\">Déclarée dans <code>organizations/\(e(job.organization)).yaml</code> comme tâche "
                    + "<code>\(e(job.name))</code>. Pour la modifier, éditez ce fichier, relisez <code>breakout plan</code> puis lancez "
                    + "<code>breakout apply</code> ; le tableau de bord ne modifie pas les tâches.</p>")
        }
        return tr(
            "<p class=\"muted\">A hand-made row of <code>mt_cron_jobs</code>: no configuration file declares it. "
                + "<code>breakout import --out DIR</code> writes it into <code>organizations/\(e(job.organization)).yaml</code>, "
                + "after which <code>breakout plan</code> and <code>breakout apply</code> manage it.</p>",
            "<p class=\"muted\">Une ligne de <code>mt_cron_jobs</code> faite à la main : aucun fichier de configuration ne la déclare. "
                + "<code>breakout import --out DIR</code> l'écrit dans <code>organizations/\(e(job.organization)).yaml</code>, "
                + "après quoi <code>breakout plan</code> et <code>breakout apply</code> la gèrent.</p>")
    }

    /// The no-runner warning and the runners' last ticks.
    static func liveness(_ data: DashboardData) -> String {
        var b =
            data.liveness.warning.map { warning in
                let text =
                    Language.current == .en
                    ? warning
                    : (data.liveness.lastTick.map {
                        "aucun exécuteur n'a tourné depuis \(time($0)) (\(DashboardData.ago(data.now.timeIntervalSince($0)))) : aucune tâche ne démarrera ; "
                    } ?? "aucun exécuteur n'a jamais tourné sur ces tables de contrôle : aucune tâche ne démarrera ; ")
                        + "vérifiez l'exécuteur : `systemctl status breakout` pour le démon (`breakout run`), ou la ligne de crontab "
                        + "`* * * * * breakout cron run -c …` et son journal (docs/runner.md, « No runner »)"
                return "<p class=\"warning\"><strong>\(tr("No runner.", "Aucun exécuteur."))</strong> \(code(e(text)))</p>"
            } ?? ""
        let overdue = data.jobs.filter { $0.overdueSince != nil }
        if !overdue.isEmpty, data.liveness.warning == nil {
            b +=
                "<p class=\"warning\"><strong>\(tr("Overdue.", "En retard."))</strong> "
                + overdue.map { "\(e($0.organization))/\(e($0.name)) (\(tr("due", "prévue")) \(time($0.overdueSince, zone: $0.timeZone)))" }
                .joined(separator: ", ")
                + tr(": the fire passed and no runner claimed it.</p>", " : l'heure est passée et aucun exécuteur ne l'a prise.</p>")
        }
        return b
    }

    static func runners(_ data: DashboardData) -> String {
        var b = "<h2>\(tr("Runners", "Exécuteurs"))</h2>"
        if data.liveness.runners.isEmpty {
            return b
                + "<p class=\"muted\">\(tr("No runner has ever ticked against these control tables.", "Aucun exécuteur n'a jamais tourné sur ces tables de contrôle."))</p>"
        }
        b +=
            "<table><tr><th>\(tr("Runner", "Exécuteur"))</th><th>\(tr("Last tick", "Dernier passage"))</th><th>Version</th><th>\(tr("Clock", "Horloge"))</th></tr>"
        for r in data.liveness.runners {
            let late = r.isLate(at: data.now)
            let tick = r.lastTickAt.map { "\(time($0)) (\(DashboardData.ago(data.now.timeIntervalSince($0))))" } ?? tr("never", "jamais")
            let offset = Double(r.clockOffsetMilliseconds) / 1000
            b +=
                "<tr><td>\(e(r.name)) <span class=\"muted\">pid \(r.pid)</span></td><td\(late ? " class=\"overdue\"" : "")>\(e(tick))\(late ? tr(" · late", " · en retard") : "")</td>"
            b +=
                "<td>\(e(r.version))</td><td>\(abs(offset) > 5 ? "<span class=\"overdue\">\(String(format: "%+.0f", offset)) s \(tr("off the store", "d'écart avec la base"))</span>" : tr("in step", "à l'heure"))</td></tr>"
        }
        return b + "</table>"
    }

    static func runButton(_ job: DashboardData.Job, csrf: String?) -> String {
        guard let csrf, job.active || true else { return "" }
        if job.running { return "<span class=\"muted\">\(word("running"))</span>" }
        return """
            <form method="post" action="/org/\(url(job.organization))/jobs/\(url(job.name))/run"><input type="hidden" name="csrf" value="\(e(csrf))"><button type="submit">\(tr("Run now", "Lancer maintenant"))</button></form>
            """
    }

    static func overview(_ data: DashboardData, csrf: String?) -> String {
        var b =
            liveness(data)
            + "<h2>\(tr("Organizations", "Organisations"))</h2><table><tr><th>\(tr("Organization", "Organisation"))</th><th>\(tr("Name", "Nom"))</th>"
            + "<th>\(tr("Connections", "Connexions"))</th><th>\(tr("Active jobs", "Tâches actives"))</th><th>\(tr("Last runs (cases loaded)", "Dernières exécutions (cas chargés)"))</th></tr>"
        for o in data.organizations {
            let conns = data.snapshot.connections.filter { $0.organizationID == o.id }.count
            let active = data.jobs.filter { $0.organization == o.name && $0.active }.count
            b +=
                "<tr><td><a href=\"/org/\(url(o.name))\">\(e(o.name))</a></td><td>\(e(o.displayName ?? o.name))</td><td>\(conns)</td><td>\(active)</td>"
                + "<td>\(Charts.trend(data.recentRuns[o.name] ?? []))</td></tr>"
        }
        b += "</table>"
        let running = data.jobs.filter(\.running)
        b += "<h2>\(tr("Running now", "Jobs en cours d'exécution"))</h2>"
        if running.isEmpty {
            b += "<p class=\"muted\">\(tr("No job is running.", "Aucune tâche en cours."))</p>"
        } else {
            b +=
                "<table><tr><th>\(tr("Job", "Tâche"))</th><th>\(tr("Since", "Depuis"))</th><th>\(tr("Runner", "Exécuteur"))</th><th>\(tr("Progress", "Progression"))</th></tr>"
            for j in running {
                b +=
                    "<tr><td>\(e(j.organization))/\(e(j.name))</td><td>\(time(j.lastRunAt, zone: j.timeZone))</td><td>\(e(j.runner ?? ""))</td><td>\(status(j))</td></tr>"
            }
            b += "</table>"
        }
        b +=
            "<h2>\(tr("Jobs", "Tâches"))</h2>"
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
            "<table><tr><th>\(tr("Job", "Tâche"))</th><th>\(tr("Schedule", "Planification"))</th><th>\(tr("Last run", "Dernière exécution"))</th>"
            + "<th>\(tr("Status", "Statut"))</th><th>\(tr("Next run", "Prochaine exécution"))</th>\(csrf != nil ? "<th></th>" : "")</tr>"
        for j in jobs {
            let name = (withOrganization ? "\(j.organization)/" : "") + j.name + (j.managed ? "" : tr(" (hand-made)", " (faite à la main)"))
            b +=
                "<tr><td><a href=\"/org/\(url(j.organization))/jobs/\(url(j.name))\">\(e(name))</a></td><td>\(e(DashboardData.words(j.schedule, j.timeZone)))</td>"
            b +=
                "<td>\(time(j.lastRunAt, zone: j.timeZone))</td><td>\(status(j))</td><td>\(j.active ? time(j.nextRunAt, zone: j.timeZone) : tr("inactive", "inactive"))</td>"
            if csrf != nil { b += "<td>\(runButton(j, csrf: csrf))</td>" }
            b += "</tr>"
        }
        return b + "</table>"
    }

    /// Cases waiting per connection and dictionary, from the background measurement, with its age.
    static func pending(_ lags: [LagProbe.Lag], age: Double?) -> String {
        var b = "<h2>\(tr("Cases waiting", "Cas en attente"))</h2>"
        guard let age else {
            return b
                + "<p class=\"muted\">\(tr("Not measured yet (the lag is measured in the background).", "Pas encore mesuré (le retard est mesuré en arrière-plan)."))</p>"
        }
        if lags.isEmpty { return b + "<p class=\"muted\">\(tr("No active breakout job.", "Aucune tâche de breakout active."))</p>" }
        b +=
            "<table><tr><th>\(tr("Connection", "Connexion"))</th><th>\(tr("Dictionary", "Dictionnaire"))</th><th>\(tr("Cases waiting", "Cas en attente"))</th></tr>"
        for lag in lags {
            let value =
                lag.pending.map { $0 > 0 ? "<span class=\"overdue\">\($0)</span>" : "0" }
                ?? "<span class=\"failed\">\(tr("not measured", "non mesuré"))</span> <span class=\"muted\">\(e(String((lag.error ?? "").prefix(160))))</span>"
            b += "<tr><td>\(e(lag.connection))</td><td>\(e(lag.dictionary))</td><td>\(value)</td></tr>"
        }
        return b + "</table><p class=\"muted\">\(tr("Measured", "Mesuré")) \(DashboardData.ago(age)).</p>"
    }

    static func organization(
        _ data: DashboardData, _ org: OrganizationRow, csrf: String?, lags: [LagProbe.Lag] = [], lagAge: Double? = nil
    ) -> String {
        var b =
            "<p>\(e(org.displayName ?? org.name))\(org.managedBy == nil ? " <span class=\"muted\">\(tr("(hand-made)", "(faite à la main)"))</span>" : "")</p>"
        b +=
            "<h2>\(tr("Connections", "Connexions"))</h2><table><tr><th>\(tr("Name", "Nom"))</th><th>Type</th><th>\(tr("Host", "Hôte"))</th>"
            + "<th>\(tr("Database", "Base"))</th><th>\(tr("User", "Utilisateur"))</th><th>\(tr("Default", "Par défaut"))</th></tr>"
        for c in data.snapshot.connections where c.organizationID == org.id {
            b +=
                "<tr><td>\(e(c.name))</td><td>\(e(c.dbType))</td><td>\(e(c.host ?? "–"))\(c.port.map { ":\($0)" } ?? "")</td><td>\(e(c.database ?? ""))</td><td>\(e(c.username ?? ""))</td><td>\(c.isDefault ? tr("yes", "oui") : "")</td></tr>"
        }
        b +=
            "</table><h2>\(tr("Jobs", "Tâches"))</h2>"
            + jobsTable(data.jobs.filter { $0.organization == org.name }, csrf: csrf, withOrganization: false)
        b += pending(lags.filter { $0.organization == org.name }, age: lagAge)
        return page(tr("Organization ", "Organisation ") + org.name, b, csrf: csrf)
    }

    static func job(_ job: DashboardData.Job, runs: [DashboardData.Run], csrf: String?) -> String {
        var b =
            "<p>\(tr("\(e(job.type)) job", "tâche \(e(job.type))")) · \(e(DashboardData.words(job.schedule, job.timeZone))) · <code>\(e(job.schedule))</code> · "
            + "\(tr("connection", "connexion")) \(e(job.connection ?? tr("default", "par défaut")))</p>"
        b +=
            "<p>\(tr("Status", "Statut")) : \(status(job)) · \(tr("next run", "prochaine exécution")) \(job.active ? time(job.nextRunAt, zone: job.timeZone) : tr("inactive", "inactive"))</p>"
            + runButton(job, csrf: csrf)
        b += declaration(job)
        if !runs.isEmpty { b += "<h2>\(tr("Recent runs", "Exécutions récentes"))</h2>" + Charts.runs(runs, zone: job.timeZone) }
        b += history(runs, zone: job.timeZone)
        return page(tr("Job ", "Tâche ") + "\(job.organization)/\(job.name)", b, csrf: csrf)
    }

    static func history(_ runs: [DashboardData.Run], zone: String = "UTC") -> String {
        var b =
            "<h2>\(tr("History", "Historique"))</h2><table><tr><th>\(tr("Run", "Exécution"))</th><th>\(tr("Trigger", "Déclencheur"))</th>"
            + "<th>\(tr("Started", "Début"))</th><th>\(tr("Finished", "Fin"))</th><th>\(tr("Status", "Statut"))</th><th>\(tr("Cases", "Cas"))</th>"
            + "<th>\(tr("Undecodable", "Illisibles"))</th><th>\(tr("Rows", "Lignes"))</th></tr>"
        for r in runs {
            let cause = cause(status: r.status, output: r.output)
            let css = r.status == "success" && (r.failedCases ?? 0) > 0 ? "partial" : statusClass(r.status)
            b +=
                "<tr><td><a href=\"/runs/\(r.id)\">#\(r.id)</a></td><td>\(e(triggerWord(r.trigger)))</td><td>\(time(r.startedAt, zone: zone))</td><td>\(time(r.finishedAt, zone: zone))</td>"
            b +=
                "<td><span class=\"\(css)\">\(e(word(r.status)))</span>\(cause)</td><td>\(r.cases.map(String.init) ?? "–")</td>"
            b +=
                "<td>\(r.failedCases.map { $0 > 0 ? "<span class=\"overdue\">\($0)</span>" : "0" } ?? "–")</td><td>\(r.rows.map(String.init) ?? "–")</td></tr>"
        }
        return b + "</table>"
    }

    /// A job an apply deleted: its runs, read by the names they were recorded with.
    static func deletedJob(_ organization: String, _ name: String, runs: [DashboardData.Run]) -> String {
        page(
            tr("Job ", "Tâche ") + "\(organization)/\(name)",
            "<p class=\"muted\">\(tr("This job is no longer in the control tables (an apply deleted it); its history is kept.", "Cette tâche n'est plus dans les tables de contrôle (un apply l'a supprimée) ; son historique est gardé."))</p>"
                + history(runs), csrf: nil)
    }

    static func run(_ run: DashboardData.Run, job: DashboardData.Job?) -> String {
        let deleted =
            run.organization.flatMap { o in
                run.job.map { "\(e(o))/\(e($0)) <span class=\"muted\">\(tr("(deleted)", "(supprimée)"))</span>" }
            } ?? "#\(run.jobID)"
        var b =
            "<p>\(tr("Job", "Tâche")) \(job.map { "<a href=\"/org/\(url($0.organization))/jobs/\(url($0.name))\">\(e($0.organization))/\(e($0.name))</a>" } ?? deleted)"
        b +=
            " · \(tr("trigger", "déclencheur")) \(e(triggerWord(run.trigger))) · <span class=\"\(statusClass(run.status))\">\(e(word(run.status)))</span> · \(tr("started", "début")) \(time(run.startedAt, zone: job?.timeZone ?? "UTC")) · \(tr("finished", "fin")) \(time(run.finishedAt, zone: job?.timeZone ?? "UTC"))"
        b +=
            " · \(tr("runner", "exécuteur")) \(e(run.runner ?? "–")) · \(run.cases.map(String.init) ?? "–") \(tr("cases", "cas")), \(run.rows.map(String.init) ?? "–") \(tr("rows", "lignes"))"
        b +=
            (run.failedCases ?? 0) > 0
            ? " · <span class=\"overdue\">\(run.failedCases!) \(tr("undecodable cases set aside in breakout_errors", "cas illisibles mis de côté dans breakout_errors"))</span></p>"
            : "</p>"
        let failed = run.output.split(separator: "\n").filter {
            $0.trimmingCharacters(in: .whitespaces).hasPrefix("failed:") || $0.contains(": failed:")
        }
        if !failed.isEmpty {
            b +=
                "<h2>\(tr("Failed cases and errors", "Cas en échec et erreurs"))</h2><ul>"
                + failed.map { "<li>\(e(String($0).trimmingCharacters(in: .whitespaces)))</li>" }.joined() + "</ul>"
        }
        b += "<h2>\(tr("Summary", "Résumé"))</h2><pre>\(e(run.output))</pre>"
        return page(tr("Run #", "Exécution n° ") + "\(run.id)", b, csrf: nil)
    }

    static func login(error: Bool) -> String {
        page(
            tr("Sign in", "Connexion"),
            (error ? "<p class=\"failed\">\(tr("That token is not valid.", "Ce jeton n'est pas valide."))</p>" : "")
                + tr(
                    "<p>The token is <code>serve.token</code> in breakout.yaml. Signed in, the pages show a Run now button.</p>",
                    "<p>Le jeton est <code>serve.token</code> dans breakout.yaml. Une fois connecté, les pages montrent un bouton Lancer maintenant.</p>"
                )
                + "<form method=\"post\" action=\"/login\"><label>\(tr("Token", "Jeton")) <input type=\"password\" name=\"token\" autocomplete=\"off\"></label> "
                + "<button type=\"submit\">\(tr("Sign in", "Se connecter"))</button></form>", csrf: nil)
    }
}
