import ArgumentParser
import Cron
import Foundation

/// `breakout cron …`.
struct CronCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cron",
        abstract: "Cron schedules: check an expression's next fire times; run one scheduler tick.",
        subcommands: [Next.self, CronRun.self]
    )

    /// `breakout cron next EXPR [--time-zone TZ] [--from ISO8601] [--count N]`.
    struct Next: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the next fire times of a cron expression, one ISO 8601 instant per line (in the zone's offset).",
            discussion: """
                Fixed-time jobs (minute and hour not starting with *) run once per local day across DST
                changes: a skipped time runs at the first minute after the gap, a repeated time runs once.
                Wildcard jobs follow elapsed time.
                Example: breakout cron next "30 2 * * *" --time-zone Europe/Paris --from 2026-03-28T00:00:00Z --count 3
                """
        )

        @Argument(help: "A 5-field expression or @yearly, @monthly, @weekly, @daily, @midnight, @hourly.")
        var expression: String

        @Option(name: .customLong("time-zone"), help: "IANA time zone (default UTC).")
        var timeZone: String = "UTC"

        @Option(help: "Start after this instant (ISO 8601; default now).")
        var from: String?

        @Option(help: "How many fire times (default 5).")
        var count: Int = 5

        func run() throws {
            try reportingErrors {
                let cron: CronExpression
                do { cron = try CronExpression(expression) } catch let error as CronError {
                    throw CLIError(
                        "\(expression): \(error.message)",
                        hint:
                            "fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day of week (0-7 or sun-sat)"
                    )
                }
                guard let zone = TimeZone(identifier: timeZone) else {
                    throw CLIError("unknown time zone \"\(timeZone)\"", hint: "use an IANA name such as Africa/Dakar or Europe/Paris")
                }
                var start = Date()
                if let from {
                    guard let d = Self.parse(from) else {
                        throw CLIError(
                            "--from \"\(from)\" is not an ISO 8601 instant",
                            hint: "write e.g. 2026-03-29T00:00:00Z or 2026-03-29T01:00:00+01:00")
                    }
                    start = d
                }
                guard (1...10_000).contains(count) else { throw CLIError("--count must be between 1 and 10000") }
                let fires = cron.nextFires(after: start, in: zone, count: count)
                if fires.isEmpty { throw CLIError("\(expression) never fires (checked five years ahead)") }
                let formatter = ISO8601DateFormatter()
                formatter.timeZone = zone
                formatter.formatOptions = [.withInternetDateTime]
                for f in fires { print(formatter.string(from: f)) }
            }
        }

        static func parse(_ s: String) -> Date? {
            let f = ISO8601DateFormatter()
            if let d = f.date(from: s) { return d }
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.date(from: s)
        }
    }
}
