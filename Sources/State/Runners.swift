import DatabaseDriver
import Foundation
import SQL

/// A runner's heartbeat row in `mt_runners`: one per host and kind (`daemon`, `cron`), written at
/// every tick, so `status`, the dashboard and `/metrics` can say when a runner last ticked and
/// that none has (docs/runner.md, "Liveness").
package struct RunnerRow: Sendable {
    package var name: String
    package var host: String
    package var kind: String
    package var pid: Int64
    package var version: String
    package var startedAt: Date?
    package var lastTickAt: Date?
    /// Longest expected gap between two ticks (the daemon's --max-sleep, 60 for cron).
    package var tickSeconds: Int64
    /// This host's clock minus the store's, in milliseconds, at its last tick.
    package var clockOffsetMilliseconds: Int64

    package init(
        name: String, host: String, kind: String, pid: Int64, version: String, startedAt: Date?, lastTickAt: Date?,
        tickSeconds: Int64, clockOffsetMilliseconds: Int64
    ) {
        self.name = name
        self.host = host
        self.kind = kind
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.lastTickAt = lastTickAt
        self.tickSeconds = tickSeconds
        self.clockOffsetMilliseconds = clockOffsetMilliseconds
    }

    /// The runner is late: no tick for three of its intervals (and at least three minutes).
    package func isLate(at now: Date) -> Bool {
        guard let lastTickAt else { return true }
        return now.timeIntervalSince(lastTickAt) > max(180, 3 * Double(tickSeconds))
    }
}

extension StateStore {
    /// Records a tick: updates the runner's row, or inserts it the first time.
    package func heartbeat(_ runner: RunnerRow) throws {
        guard try exists(ControlTables.runners) else { return }
        let values: [(String, SQLValue)] = [
            ("host", .text(runner.host)), ("kind", .text(runner.kind)), ("pid", .integer(runner.pid)), ("version", .text(runner.version)),
            ("started_at", runner.startedAt.map { .timestamp($0) } ?? .null),
            ("last_tick_at", runner.lastTickAt.map { .timestamp($0) } ?? .null),
            ("tick_seconds", .integer(runner.tickSeconds)), ("clock_offset_ms", .integer(runner.clockOffsetMilliseconds)),
        ]
        let updated = try connection.execute(
            .update(
                Update(
                    ControlTables.runners, set: values.map { Assignment($0.0, $0.1) },
                    where: .equals("runner_name", .text(runner.name)))))
        guard updated == 0 else { return }
        do {
            try connection.execute(
                .insert(
                    Insert(
                        into: ControlTables.runners, columns: ["runner_name"] + values.map(\.0),
                        rows: [[.text(runner.name)] + values.map(\.1)])))
        } catch let error as DatabaseError where error.kind == .statement {
            // Another process of the same host and kind inserted it first: update that row.
            try connection.execute(
                .update(
                    Update(
                        ControlTables.runners, set: values.map { Assignment($0.0, $0.1) },
                        where: .equals("runner_name", .text(runner.name)))))
        }
    }

    /// Every runner that has ticked, most recent first (empty on a store older than version 3).
    package func runners() throws -> [RunnerRow] {
        guard try exists(ControlTables.runners) else { return [] }
        return try connection.query(.select(Select(from: ControlTables.runners, orderBy: [SortKey("last_tick_at", descending: true)]))).map
        { row in
            RunnerRow(
                name: text(row["runner_name"]) ?? "", host: text(row["host"]) ?? "", kind: text(row["kind"]) ?? "",
                pid: int(row["pid"]) ?? 0, version: text(row["version"]) ?? "", startedAt: row["started_at"].flatMap(StateStore.date),
                lastTickAt: row["last_tick_at"].flatMap(StateStore.date), tickSeconds: int(row["tick_seconds"]) ?? 60,
                clockOffsetMilliseconds: int(row["clock_offset_ms"]) ?? 0)
        }
    }
}
