import DatabaseDriver
import Diagnostics
import Foundation
import SQL

/// The state store: the database holding the `mt_*` control tables (SQLite by default; CSWeb's
/// MySQL/MariaDB database in the guide's setup; PostgreSQL).
package final class StateStore {
    package private(set) var connection: any DatabaseConnection
    /// How to open the connection again after the server restarted or the network broke.
    private let connect: (() throws -> any DatabaseConnection)?

    package init(connection: any DatabaseConnection) {
        self.connection = connection
        connect = nil
    }

    /// A store that can reconnect (`reconnect()`): the runners use this one.
    package init(connect: @escaping () throws -> any DatabaseConnection) throws {
        connection = try connect()
        self.connect = connect
    }

    /// Whether the connection still answers a trivial query.
    package func isAlive() -> Bool { (try? connection.query("SELECT 1")) != nil }

    /// Replaces the connection with a new one. Throws (the store stays unusable) while the server
    /// cannot be reached, or for a store opened without a way to reconnect.
    package func reconnect() throws {
        guard let connect else { throw StateError("the state store connection broke and cannot be reopened") }
        let fresh = try connect()
        connection.close()
        connection = fresh
    }

    /// The state store's own time: the one clock every runner uses for leases and fires.
    package func serverTime() throws -> Date {
        let row = try connection.query(connection.dialect.currentTimeQuery).first
        guard let seconds = row?[0].string.flatMap(Double.init) else {
            throw StateError("the state store did not return its time (\(connection.dialect.currentTimeQuery))")
        }
        return Date(timeIntervalSince1970: seconds)
    }

    // MARK: Migrations

    /// The highest migration applied (0 when the store is new).
    package func version() throws -> Int {
        guard try exists(ControlTables.migrationsTable) else { return 0 }
        let rows = try connection.query(.select(Select(from: ControlTables.migrationsTable, columns: ["version"])))
        return rows.compactMap { $0[0].int64 }.map(Int.init).max() ?? 0
    }

    /// Whether a table exists, from the catalog; throws when the store cannot be read.
    func exists(_ table: QualifiedName) throws -> Bool {
        try connection.tableExists(table)
    }

    /// Whether a table has a column. The column is qualified by its table: SQLite reads an unknown
    /// double-quoted name as a string literal, but not a qualified one.
    func hasColumn(_ table: QualifiedName, _ column: String) -> Bool {
        let d = connection.dialect
        // Names from ControlTables, which always quote; a probe that cannot be written means "no such column".
        guard let t = try? d.quote(table), let c = try? d.quote(column) else { return false }
        // Used only by migrations, outside transactions, after the table is known to exist: a failed probe means the
        // column is missing.
        return (try? connection.query("SELECT \(t).\(c) FROM \(t) WHERE 1 = 0")) != nil
    }

    /// Applies every pending migration, each in its own transaction (MySQL commits DDL implicitly;
    /// every step is idempotent, so an interrupted migration is finished by the next run). Returns
    /// the versions applied.
    @discardableResult
    package func migrate() throws -> [Int] {
        try createIfMissing(ControlTables.migrationsDefinition)
        let current = try version()
        var applied: [Int] = []
        for migration in ControlTables.migrations where migration.version > current {
            // Probe first: a failed probe inside a PostgreSQL transaction would abort it.
            let statements: [SQLStatement] = migration.steps.compactMap { step in
                switch step {
                case .statement(let s): s
                case .addColumnIfMissing(let table, let column): hasColumn(table, column.name) ? nil : .addColumn(table, column)
                }
            }
            try connection.transaction {
                for statement in statements { try connection.execute(statement) }
                try connection.execute(
                    .insert(
                        Insert(
                            into: ControlTables.migrationsTable, columns: ["version", "description", "applied_at"],
                            rows: [[.integer(Int64(migration.version)), .text(migration.description), .timestamp(Date())]])))
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// Migrates under the apply lock: two `apply` (or an `apply` and a runner starting) on a new
    /// or older store never run the same migration at once. The lock table comes first.
    @discardableResult
    package func migrate(owner: String, timeout: Double, staleAfter: Double = 600) throws -> [Int] {
        try createIfMissing(ControlTables.locksDefinition)
        try createIfMissing(ControlTables.migrationsDefinition)
        guard try version() < ControlTables.latestVersion else { return [] }
        try acquireLock("apply", owner: owner, timeout: timeout, staleAfter: staleAfter)
        defer { releaseLock("apply", owner: owner) }
        return try migrate()
    }

    /// `CREATE TABLE IF NOT EXISTS`, tolerating the race where two processes create the table at
    /// once (PostgreSQL then reports a duplicate in its catalog for the loser).
    func createIfMissing(_ table: TableDefinition) throws {
        do {
            try connection.execute(.createTable(table))
        } catch {
            // The table is there after all (another process made it): the race is harmless. If
            // even the catalog cannot be read, the creation's own error is the one to report.
            guard (try? exists(table.name)) == true else { throw error }
        }
    }

    /// Refuses to work on a store that a newer breakout migrated.
    package func checkVersion() throws {
        let v = try version()
        if v > ControlTables.latestVersion {
            throw StateError(
                "the state store is at schema version \(v); this breakout knows up to \(ControlTables.latestVersion)",
                hint: "upgrade breakout")
        }
    }

    // MARK: Rows

    /// Every row of the three managed tables, as read (run-time columns included).
    package func snapshot() throws -> StateSnapshot {
        guard try exists(ControlTables.organizations) else { return StateSnapshot(organizations: [], connections: [], jobs: []) }
        let migrated = try version() >= 2
        func rows(_ table: QualifiedName) throws -> [Row] {
            try connection.query(.select(Select(from: table, orderBy: [SortKey("id")])))
        }
        let orgs = try rows(ControlTables.organizations).map { OrganizationRow($0) }
        let conns = try rows(ControlTables.connections).map { ConnectionRow($0) }
        let jobs = try rows(ControlTables.jobs).map { JobRow($0) }
        _ = migrated
        return StateSnapshot(organizations: orgs, connections: conns, jobs: jobs)
    }

    /// Jobs whose lease is held now (store time), with the runner holding it.
    package func runningJobs() throws -> [Int64: String] {
        // The store's clock where it answers; this host's otherwise (the query that follows reports a lost store).
        let now = (try? serverTime()) ?? Date()
        var out: [Int64: String] = [:]
        for row in try connection.query(
            .select(
                Select(
                    from: ControlTables.jobs, columns: ["id", "lease_owner", "lease_expires_at"],
                    where: .not(.isNull("lease_owner")))))
        {
            guard let id = row[0].int64, let owner = row[1].string, let expires = StateStore.date(row[2]), expires > now else { continue }
            out[id] = owner
        }
        return out
    }

    /// Ids of jobs that have run (a `last_run_at`, or rows in `mt_job_runs`).
    package func jobsWithHistory() throws -> Set<Int64> {
        var ids = Set(try snapshot().jobs.filter { $0.lastRunAt != nil }.map(\.id))
        if try exists(ControlTables.runs) {
            for row in try connection.query("SELECT DISTINCT job_id FROM mt_job_runs") { if let id = row[0].int64 { ids.insert(id) } }
        }
        return ids
    }

    // MARK: Lock

    /// Takes the named lock, waiting up to `timeout` seconds for its holder; a lock older than its
    /// expiry (its holder died) is taken over. Each step commits on its own.
    package func acquireLock(_ name: String, owner: String, timeout: Double, staleAfter: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let now = Date()
            do {
                try connection.transaction {
                    try connection.execute(
                        .insert(
                            Insert(
                                into: ControlTables.locks, columns: ["name", "owner", "acquired_at", "expires_at"],
                                rows: [[.text(name), .text(owner), .timestamp(now), .timestamp(now.addingTimeInterval(staleAfter))]])))
                }
                return
            } catch let error as DatabaseError where error.kind == .statement {
                // Held: take it over if it expired, else wait.
                let holder = try connection.query(.select(Select(from: ControlTables.locks, where: .equals("name", .text(name))))).first
                if let holder, let expires = holder["expires_at"].flatMap(Self.date), expires < now {
                    let taken = try connection.transaction {
                        try connection.execute(
                            .update(
                                Update(
                                    ControlTables.locks,
                                    set: [
                                        Assignment("owner", .text(owner)), Assignment("acquired_at", .timestamp(now)),
                                        Assignment("expires_at", .timestamp(now.addingTimeInterval(staleAfter))),
                                    ],
                                    where: .and([
                                        .equals("name", .text(name)), .equals("owner", holder["owner"] ?? .null),
                                        .compare("expires_at", .less, .timestamp(now)),
                                    ]))))
                    }
                    if taken == 1 { return }
                    continue
                }
                if Date() >= deadline {
                    let who = holder?["owner"]?.string ?? "another apply"
                    let since = holder?["acquired_at"].flatMap(Self.date).map { SQLTimestamp.format($0) } ?? "?"
                    let until = holder?["expires_at"].flatMap(Self.date).map { SQLTimestamp.format($0) } ?? "?"
                    throw StateError(
                        "the state store is locked by \(who) since \(since) UTC (the lock expires at \(until) UTC)",
                        hint: "wait for that apply to finish, or pass --lock-timeout 5m to wait longer")
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    package func releaseLock(_ name: String, owner: String) {
        // Releasing the apply lock: if the store is gone, the lock expires on its own (expires_at).
        _ = try? connection.execute(
            .delete(Delete(from: ControlTables.locks, where: .and([.equals("name", .text(name)), .equals("owner", .text(owner))]))))
    }

    package static func date(_ value: SQLValue) -> Date? {
        switch value {
        case .timestamp(let d): d
        case .text(let s): SQLTimestamp.parse(s)
        default: nil
        }
    }
}

/// A problem with the state store, with a hint.
package struct StateError: UserFacingError, Sendable {
    package var message: String
    package var hint: String?
    package init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    package var description: String { message }
}

/// The managed tables' rows.
package struct StateSnapshot: Sendable {
    package var organizations: [OrganizationRow]
    package var connections: [ConnectionRow]
    package var jobs: [JobRow]

    /// A digest of everything apply manages (run-time columns excluded), to refuse stale saved plans.
    package var digest: String {
        var h = Hasher64()
        for o in organizations { h.add(o.fields.map { "\($0.0)=\($0.1)" }.joined(separator: "|")) }
        for c in connections { h.add(c.fields.map { "\($0.0)=\($0.1)" }.joined(separator: "|")) }
        for j in jobs { h.add(j.fields.map { "\($0.0)=\($0.1)" }.joined(separator: "|")) }
        return h.hex
    }
}

func text(_ v: SQLValue?) -> String? { v?.string }
func int(_ v: SQLValue?) -> Int64? {
    guard let v else { return nil }
    if let i = v.int64 { return i }
    return v.string.flatMap { Int64($0) }
}

package struct OrganizationRow: Sendable {
    package var id: Int64
    package var name: String
    package var displayName: String?
    package var dictionaries: String?
    package var isActive: Bool
    package var managedBy: String?

    init(_ row: Row) {
        id = int(row["id"]) ?? 0
        name = text(row["organization_name"]) ?? ""
        displayName = text(row["display_name"])
        dictionaries = text(row["dictionaries"])
        isActive = int(row["is_active"]) != 0
        managedBy = text(row["managed_by"])
    }

    var fields: [(String, String)] {
        [
            ("id", "\(id)"), ("name", name), ("display", displayName ?? "∅"), ("dict", dictionaries ?? "∅"), ("active", "\(isActive)"),
            ("managed", managedBy ?? "∅"),
        ]
    }
}

package struct ConnectionRow: Sendable {
    package var id: Int64
    package var organizationID: Int64
    package var name: String
    package var dbType: String
    package var host: String?
    package var port: Int64?
    package var database: String?
    package var username: String?
    package var passwordEncrypted: String?
    package var isDefault: Bool
    package var isActive: Bool
    package var options: String?
    package var managedBy: String?

    init(_ row: Row) {
        id = int(row["id"]) ?? 0
        organizationID = int(row["organization_id"]) ?? 0
        name = text(row["connection_name"]) ?? ""
        dbType = text(row["db_type"]) ?? ""
        host = text(row["host"])
        port = int(row["port"])
        database = text(row["database_name"])
        username = text(row["username"])
        passwordEncrypted = text(row["password_encrypted"])
        isDefault = int(row["is_default"]) == 1
        isActive = int(row["is_active"]) != 0
        options = text(row["connection_options"])
        managedBy = text(row["managed_by"])
    }

    var fields: [(String, String)] {
        [
            ("id", "\(id)"), ("org", "\(organizationID)"), ("name", name), ("type", dbType), ("host", host ?? "∅"),
            ("port", port.map { "\($0)" } ?? "∅"),
            ("db", database ?? "∅"), ("user", username ?? "∅"), ("pw", passwordEncrypted ?? "∅"), ("default", "\(isDefault)"),
            ("active", "\(isActive)"),
            ("options", options ?? "∅"), ("managed", managedBy ?? "∅"),
        ]
    }
}

package struct JobRow: Sendable {
    package var id: Int64
    package var organizationID: Int64
    package var name: String
    package var jobType: String
    package var command: String?
    package var cronExpression: String
    package var timeZone: String?
    package var connectionID: Int64?
    package var dictionaries: String?
    package var threads: Int64?
    package var maxCasesPerChunk: Int64?
    package var settings: String?
    package var isActive: Bool
    package var managedBy: String?
    package var lastRunAt: Date?
    package var lastRunStatus: String?
    package var lastRunFailedCases: Int64?
    package var nextRunAt: Date?

    init(_ row: Row) {
        id = int(row["id"]) ?? 0
        organizationID = int(row["organization_id"]) ?? 0
        name = text(row["job_name"]) ?? ""
        jobType = text(row["job_type"]) ?? "breakout"
        command = text(row["command"])
        cronExpression = text(row["cron_expression"]) ?? ""
        timeZone = text(row["time_zone"])
        connectionID = int(row["db_connection_id"])
        dictionaries = text(row["dictionaries"])
        threads = int(row["threads"])
        maxCasesPerChunk = int(row["max_cases_per_chunk"])
        settings = text(row["settings"])
        isActive = int(row["is_active"]) != 0
        managedBy = text(row["managed_by"])
        lastRunAt = row["last_run_at"].flatMap(StateStore.date)
        lastRunStatus = text(row["last_run_status"])
        lastRunFailedCases = int(row["last_run_failed_cases"])
        nextRunAt = row["next_run_at"].flatMap(StateStore.date)
    }

    var fields: [(String, String)] {
        [
            ("id", "\(id)"), ("org", "\(organizationID)"), ("name", name), ("type", jobType), ("command", command ?? "∅"),
            ("cron", cronExpression),
            ("tz", timeZone ?? "∅"), ("conn", connectionID.map { "\($0)" } ?? "∅"), ("dict", dictionaries ?? "∅"),
            ("threads", threads.map { "\($0)" } ?? "∅"), ("chunk", maxCasesPerChunk.map { "\($0)" } ?? "∅"), ("settings", settings ?? "∅"),
            ("active", "\(isActive)"), ("managed", managedBy ?? "∅"),
        ]
    }
}

/// FNV-1a 64-bit over strings (change detection, not security).
struct Hasher64 {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ s: String) {
        for b in s.utf8 + [0] {
            value ^= UInt64(b)
            value = value &* 0x100_0000_01b3
        }
    }
    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
