import Diagnostics
import Foundation

/// Server-rendered SVG pictures of runs (no script, no external asset, presentation attributes
/// only, so the page's Content-Security-Policy holds): a job's recent runs, an organization's trend.
enum Charts {
    /// Fill per outcome: the page's own colours (success green, set-aside cases orange, failures red).
    static func color(_ run: DashboardData.Run) -> String {
        switch run.status {
        case "success": (run.failedCases ?? 0) > 0 ? "#b35c00" : "#17692f"
        case "failed", "crashed", "timeout": "#b00020"
        case "running": "#0b5cad"
        default: "#999999"
        }
    }

    static func seconds(_ run: DashboardData.Run) -> Double? {
        guard let start = run.startedAt, let end = run.finishedAt else { return nil }
        return max(0, end.timeIntervalSince(start))
    }

    /// "42 s", "3.5 min", "1.2 h".
    static func duration(_ s: Double) -> String {
        if s < 120 { return String(format: "%.0f s", s) }
        if s < 7200 { return String(format: "%.1f min", s / 60) }
        return String(format: "%.1f h", s / 3600)
    }

    /// A job's recent runs, oldest on the left: two bar panels sharing the runs, duration above and
    /// cases loaded below, each bar coloured by outcome and titled with its run.
    static func runs(_ all: [DashboardData.Run], limit: Int = 30, zone: String = "UTC") -> String {
        let runs = Array(all.prefix(limit).reversed())
        guard !runs.isEmpty else { return "" }
        let width = 720.0, panel = 90.0, left = 64.0, gap = 28.0
        let step = (width - left) / Double(max(runs.count, 1))
        let barWidth = max(2, min(22, step * 0.7))
        let maxSeconds = max(runs.compactMap(seconds).max() ?? 0, 1)
        let maxCases = max(Double(runs.compactMap(\.cases).max() ?? 0), 1)
        let height = panel * 2 + gap * 2 + 20
        var svg =
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(tr("Recent runs: duration and cases loaded per run, coloured by outcome", "Exécutions récentes : durée et cas chargés par exécution, couleur selon le résultat"))\">"
        func panelFrame(_ top: Double, _ title: String, _ maxLabel: String) {
            svg +=
                "<text x=\"0\" y=\"\(Int(top - 8))\" font-size=\"12\" fill=\"#222\">\(htmlEscaped(title))</text>"
                + "<line x1=\"\(Int(left))\" y1=\"\(Int(top + panel))\" x2=\"\(Int(width))\" y2=\"\(Int(top + panel))\" stroke=\"#bbbbbb\"/>"
                + "<line x1=\"\(Int(left))\" y1=\"\(Int(top))\" x2=\"\(Int(width))\" y2=\"\(Int(top))\" stroke=\"#eeeeee\"/>"
                + "<text x=\"\(Int(left - 6))\" y=\"\(Int(top + 10))\" font-size=\"11\" fill=\"#777\" text-anchor=\"end\">\(htmlEscaped(maxLabel))</text>"
                + "<text x=\"\(Int(left - 6))\" y=\"\(Int(top + panel))\" font-size=\"11\" fill=\"#777\" text-anchor=\"end\">0</text>"
        }
        let top1 = gap, top2 = gap * 2 + panel
        panelFrame(top1, tr("Duration", "Durée"), duration(maxSeconds))
        panelFrame(top2, tr("Cases loaded", "Cas chargés"), String(Int(maxCases)))
        for (i, run) in runs.enumerated() {
            let x = left + step * Double(i) + (step - barWidth) / 2
            let title =
                "#\(run.id) \(Pages.word(run.status))" + (seconds(run).map { ", " + duration($0) } ?? "")
                + (run.cases.map { ", \($0) \(tr("cases", "cas"))" } ?? "")
                + ((run.failedCases ?? 0) > 0 ? ", \(run.failedCases!) \(tr("set aside", "mis de côté"))" : "")
            let s = seconds(run) ?? 0
            let h1 = max(1, panel * s / maxSeconds)
            let h2 = max(run.cases.map { $0 > 0 ? 1 : 0 } ?? 0, panel * Double(run.cases ?? 0) / maxCases)
            svg +=
                "<g><title>\(htmlEscaped(title))</title>"
                + "<rect x=\(q(x)) y=\(q(top1 + panel - h1)) width=\(q(barWidth)) height=\(q(h1)) fill=\"\(color(run))\"/>"
                + (h2 > 0 ? "<rect x=\(q(x)) y=\(q(top2 + panel - h2)) width=\(q(barWidth)) height=\(q(h2)) fill=\"\(color(run))\"/>" : "")
                + "</g>"
        }
        let first = runs.first!, last = runs.last!
        svg +=
            "<text x=\"\(Int(left))\" y=\"\(Int(height - 4))\" font-size=\"11\" fill=\"#777\">#\(first.id) \(htmlEscaped(Pages.time(first.startedAt, zone: zone)))</text>"
            + (runs.count > 1
                ? "<text x=\"\(Int(width))\" y=\"\(Int(height - 4))\" font-size=\"11\" fill=\"#777\" text-anchor=\"end\">#\(last.id) \(htmlEscaped(Pages.time(last.startedAt, zone: zone)))</text>"
                : "")
        return svg + "</svg>" + legend
    }

    static var legend: String {
        func swatch(_ color: String) -> String {
            "<svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"\(color)\"/></svg>"
        }
        return
            "<p class=\"muted\">\(swatch("#17692f")) \(tr("success", "succès")) \(swatch("#b35c00")) \(tr("cases set aside", "cas mis de côté")) "
            + "\(swatch("#b00020")) \(tr("failed", "échec")) \(swatch("#999999")) \(tr("skipped", "ignorée"))</p>"
    }

    /// An organization's trend: cases loaded by its last runs (every job), one small bar each.
    static func trend(_ all: [DashboardData.Run], limit: Int = 20) -> String {
        let runs = Array(all.prefix(limit).reversed())
        guard !runs.isEmpty else { return "<span class=\"muted\">\(tr("no run yet", "aucune exécution"))</span>" }
        let width = 160.0, height = 24.0
        let step = width / Double(limit)
        let maxCases = max(Double(runs.compactMap(\.cases).max() ?? 0), 1)
        let failed = runs.filter { ["failed", "crashed", "timeout"].contains($0.status) }.count
        var svg =
            "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(tr("Last \(runs.count) runs: \(failed) failed", "\(runs.count) dernières exécutions : \(failed) en échec"))\">"
        for (i, run) in runs.enumerated() {
            // A run that loaded nothing still shows, as a short mark in its colour.
            let h = max(3, (height - 2) * Double(run.cases ?? 0) / maxCases)
            svg +=
                "<rect x=\(q(Double(i) * step + 1)) y=\(q(height - h)) width=\(q(max(1, step - 2))) height=\(q(h)) fill=\"\(color(run))\"><title>\(htmlEscaped("#\(run.id) \(run.job ?? "") \(Pages.word(run.status)), \(run.cases ?? 0) \(tr("cases", "cas"))"))</title></rect>"
        }
        return svg + "</svg>"
    }

    /// A number as a quoted SVG attribute value.
    static func q(_ v: Double) -> String { "\"" + String(format: "%.1f", v) + "\"" }
}
