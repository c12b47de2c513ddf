import Foundation

/// What a job does (`mt_cron_jobs.job_type`).
package enum JobKind: String, Sendable, CaseIterable {
    case breakout, export
}

/// A job's `settings` column, typed: written by `apply` (Reconcile), read by the runner, the
/// alerts, the lag probe and `import`. Its defaults live here and nowhere else. Adding a job key
/// means a field here (with its JSON key in `init(stored:)` and `stored`), the YAML key in
/// Config's loader, and its use.
package struct JobSettings: Sendable, Equatable {
    /// A fire missed by more than this runs no more (seconds).
    package static let defaultStartingDeadline = 3600

    /// The alerts of one job: a webhook (commands only from breakout.yaml, see docs/security.md).
    package struct Alerts: Sendable, Equatable {
        package var webhook: String?
        /// Read so that `import` can say it was not imported; never run (docs/security.md).
        package var command: String?
        package var onRecovery: Bool
        package var onFailedCases: Bool

        package init(webhook: String? = nil, command: String? = nil, onRecovery: Bool = false, onFailedCases: Bool = false) {
            self.webhook = webhook
            self.command = command
            self.onRecovery = onRecovery
            self.onFailedCases = onFailedCases
        }
    }

    /// Seconds before the run is stopped at a chunk boundary; nil for none.
    package var timeout: Int?
    package var retries: Int
    package var startingDeadline: Int
    package var include: [String]
    package var exclude: [String]
    /// An export job's folder, inside the organization's data folder.
    package var output: String?
    package var alerts: Alerts?
    /// An export job's file formats (`csv`, `stata`); `["csv"]` when not set.
    package var formats: [String] = ["csv"]
    /// An export job keeps the cases flagged deleted; false (left out) when not set.
    package var includeDeleted = false

    package init(
        timeout: Int? = nil, retries: Int = 0, startingDeadline: Int = JobSettings.defaultStartingDeadline, include: [String] = [],
        exclude: [String] = [], output: String? = nil, alerts: Alerts? = nil
    ) {
        self.timeout = timeout
        self.retries = retries
        self.startingDeadline = startingDeadline
        self.include = include
        self.exclude = exclude
        self.output = output
        self.alerts = alerts
    }

    /// Reads the stored JSON. Rows made by hand may hold anything: a value of the wrong type
    /// reads as absent (its default), never as a crash.
    package init(stored: String?) {
        let o = StoredValue.object(stored)
        self.init(
            timeout: o["timeout"] as? Int, retries: o["retries"] as? Int ?? 0,
            startingDeadline: o["starting_deadline"] as? Int ?? Self.defaultStartingDeadline,
            include: (o["include"] as? [Any])?.compactMap { $0 as? String } ?? [],
            exclude: (o["exclude"] as? [Any])?.compactMap { $0 as? String } ?? [], output: o["output"] as? String)
        if let f = (o["formats"] as? [Any])?.compactMap({ $0 as? String }), !f.isEmpty { formats = f }
        includeDeleted = o["include_deleted"] as? Bool ?? false
        if let a = o["alerts"] as? [String: Any] {
            alerts = Alerts(
                webhook: a["webhook"] as? String, command: a["command"] as? String, onRecovery: a["on_recovery"] as? Bool ?? false,
                onFailedCases: a["on_failed_cases"] as? Bool ?? false)
        }
    }

    /// The JSON `apply` stores: sorted keys, the same bytes earlier versions wrote for the same
    /// settings (so an upgrade plans no change).
    package var stored: String {
        var o: [String: Any] = ["retries": retries, "starting_deadline": startingDeadline, "include": include, "exclude": exclude]
        if let output { o["output"] = output }
        // Only when not the default, so that rows written before the option existed plan no change.
        if formats != ["csv"] { o["formats"] = formats }
        if includeDeleted { o["include_deleted"] = true }
        if let timeout { o["timeout"] = timeout }
        if let alerts {
            var a: [String: Any] = ["on_recovery": alerts.onRecovery]
            if let w = alerts.webhook { a["webhook"] = w }
            if let c = alerts.command { a["command"] = c }
            // Only when set, so that rows written before the option existed plan no change.
            if alerts.onFailedCases { a["on_failed_cases"] = true }
            o["alerts"] = a
        }
        // Strings, integers, booleans and lists of strings: serialization cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension JobRow {
    /// The job's kind; nil for a `job_type` this version does not know (a hand-made row).
    package var kind: JobKind? { JobKind(rawValue: jobType) }

    /// The job's settings, typed.
    package var jobSettings: JobSettings { JobSettings(stored: settings) }
}
