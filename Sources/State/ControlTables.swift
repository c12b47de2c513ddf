import SQL

/// The control tables (`mt_*`) and their versioned migrations.
///
/// Version 1 is the layout the guide's PHP multi-tenant UI created (`mt_organizations`,
/// `mt_database_connections`, `mt_cron_jobs`), so a state store that UI already made is adopted
/// as version 1 and upgraded in place. Version 2 adds what breakout needs: `managed_by`, time
/// zones, leases, run history, the apply log and the apply lock.
package enum ControlTables {
    package static let organizations = QualifiedName("mt_organizations")
    package static let connections = QualifiedName("mt_database_connections")
    package static let jobs = QualifiedName("mt_cron_jobs")
    package static let runs = QualifiedName("mt_job_runs")
    package static let applyLog = QualifiedName("mt_apply_log")
    package static let migrationsTable = QualifiedName("mt_schema_migrations")
    package static let locks = QualifiedName("mt_locks")
    package static let runners = QualifiedName("mt_runners")

    /// One step of a migration: a statement, or a column added only when it is missing (so that
    /// tables made by hand or by the PHP UI, with some columns already there, upgrade too).
    package enum Step: Sendable {
        case statement(SQLStatement)
        case addColumnIfMissing(QualifiedName, ColumnDefinition)
    }

    package struct Migration: Sendable {
        package var version: Int
        package var description: String
        package var steps: [Step]
    }

    static func id() -> ColumnDefinition { ColumnDefinition("id", .integer, nullable: false, autoIncrement: true) }
    static func time(_ name: String) -> ColumnDefinition { ColumnDefinition(name, .timestamp) }

    package static let migrations: [Migration] = [
        Migration(
            version: 1, description: "control tables as the guide's PHP UI created them",
            steps: [
                .statement(
                    .createTable(
                        TableDefinition(
                            organizations,
                            columns: [
                                id(), ColumnDefinition("organization_name", .varchar(191), nullable: false),
                                ColumnDefinition("display_name", .varchar(255)),
                                ColumnDefinition("dictionaries", .text),
                                ColumnDefinition("is_active", .integer, nullable: false, defaultValue: .integer(1)),
                                time("created_time"), time("modified_time"),
                            ], uniqueKeys: [["organization_name"]]))),
                .statement(
                    .createTable(
                        TableDefinition(
                            connections,
                            columns: [
                                id(), ColumnDefinition("organization_id", .integer, nullable: false),
                                ColumnDefinition("connection_name", .varchar(191), nullable: false),
                                ColumnDefinition("db_type", .varchar(32), nullable: false), ColumnDefinition("host", .varchar(255)),
                                ColumnDefinition("port", .integer),
                                ColumnDefinition("database_name", .varchar(255)), ColumnDefinition("username", .varchar(255)),
                                ColumnDefinition("password_encrypted", .text),
                                ColumnDefinition("is_default", .integer, nullable: false, defaultValue: .integer(0)),
                                ColumnDefinition("is_active", .integer, nullable: false, defaultValue: .integer(1)),
                                ColumnDefinition("connection_options", .text),
                                time("created_time"), time("modified_time"),
                            ], uniqueKeys: [["organization_id", "connection_name"]],
                            foreignKeys: [ForeignKey(["organization_id"], references: organizations, ["id"], onDeleteCascade: false)]))),
                .statement(
                    .createTable(
                        TableDefinition(
                            jobs,
                            columns: [
                                id(), ColumnDefinition("organization_id", .integer, nullable: false),
                                ColumnDefinition("job_name", .varchar(191), nullable: false),
                                ColumnDefinition("job_type", .varchar(32), nullable: false, defaultValue: .text("breakout")),
                                ColumnDefinition("command", .text),
                                ColumnDefinition("cron_expression", .varchar(100), nullable: false),
                                ColumnDefinition("db_connection_id", .integer),
                                ColumnDefinition("dictionaries", .text), ColumnDefinition("threads", .integer),
                                ColumnDefinition("max_cases_per_chunk", .integer),
                                ColumnDefinition("is_active", .integer, nullable: false, defaultValue: .integer(1)), time("last_run_at"),
                                ColumnDefinition("last_run_status", .varchar(16)), ColumnDefinition("last_run_output", .text),
                                time("created_time"), time("modified_time"),
                            ], foreignKeys: [ForeignKey(["organization_id"], references: organizations, ["id"], onDeleteCascade: false)],
                            indexes: [IndexDefinition("mt_cron_jobs_organization", on: jobs, ["organization_id"])]))),
            ]),
        Migration(
            version: 2, description: "breakout: managed rows, time zones, leases, run history, apply log and lock",
            steps: [
                .addColumnIfMissing(organizations, ColumnDefinition("managed_by", .varchar(64))),
                .addColumnIfMissing(connections, ColumnDefinition("managed_by", .varchar(64))),
                .addColumnIfMissing(jobs, ColumnDefinition("managed_by", .varchar(64))),
                .addColumnIfMissing(jobs, ColumnDefinition("time_zone", .varchar(64))),
                .addColumnIfMissing(jobs, ColumnDefinition("settings", .text)),
                .addColumnIfMissing(jobs, time("next_run_at")),
                .addColumnIfMissing(jobs, ColumnDefinition("lease_owner", .varchar(191))),
                .addColumnIfMissing(jobs, time("lease_expires_at")),
                .statement(
                    .createTable(
                        TableDefinition(
                            runs,
                            columns: [
                                id(), ColumnDefinition("job_id", .integer, nullable: false),
                                ColumnDefinition("trigger_type", .varchar(16), nullable: false),
                                time("scheduled_for"), time("started_at"), time("finished_at"),
                                ColumnDefinition("status", .varchar(16), nullable: false),
                                ColumnDefinition("runner", .varchar(191)), ColumnDefinition("cases_loaded", .bigint),
                                ColumnDefinition("rows_loaded", .bigint),
                                ColumnDefinition("output", .text),
                            ], indexes: [IndexDefinition("mt_job_runs_job", on: runs, ["job_id", "started_at"])]))),
                .statement(
                    .createTable(
                        TableDefinition(
                            applyLog,
                            columns: [
                                id(), time("applied_at"), ColumnDefinition("applied_by", .varchar(191)),
                                ColumnDefinition("host", .varchar(191)),
                                ColumnDefinition("config_digest", .varchar(64)), ColumnDefinition("state_digest", .varchar(64)),
                                ColumnDefinition("git_commit", .varchar(64)), ColumnDefinition("summary", .text),
                            ]))),
                .statement(
                    .createTable(
                        TableDefinition(
                            locks,
                            columns: [
                                ColumnDefinition("name", .varchar(64), nullable: false),
                                ColumnDefinition("owner", .varchar(191), nullable: false),
                                ColumnDefinition("acquired_at", .timestamp, nullable: false),
                                ColumnDefinition("expires_at", .timestamp, nullable: false),
                            ], primaryKey: ["name"]))),
            ]),
        Migration(
            version: 3, description: "breakout: runner heartbeats, failed-case counts, run history that outlives its job",
            steps: [
                .statement(
                    .createTable(
                        TableDefinition(
                            runners,
                            columns: [
                                ColumnDefinition("runner_name", .varchar(191), nullable: false), ColumnDefinition("host", .varchar(191)),
                                ColumnDefinition("kind", .varchar(16)), ColumnDefinition("pid", .integer),
                                ColumnDefinition("version", .varchar(32)),
                                time("started_at"), time("last_tick_at"), ColumnDefinition("tick_seconds", .integer),
                                ColumnDefinition("clock_offset_ms", .bigint),
                            ], primaryKey: ["runner_name"]))),
                .addColumnIfMissing(runs, ColumnDefinition("failed_cases", .bigint)),
                .addColumnIfMissing(runs, ColumnDefinition("organization_name", .varchar(191))),
                .addColumnIfMissing(runs, ColumnDefinition("job_name", .varchar(191))),
                .addColumnIfMissing(jobs, ColumnDefinition("last_run_failed_cases", .bigint)),
            ]),
    ]

    /// The lock table, created before any migration so that migrations themselves run under the
    /// apply lock (two first `apply` on a new store do not race).
    static let locksDefinition = TableDefinition(
        locks,
        columns: [
            ColumnDefinition("name", .varchar(64), nullable: false), ColumnDefinition("owner", .varchar(191), nullable: false),
            ColumnDefinition("acquired_at", .timestamp, nullable: false), ColumnDefinition("expires_at", .timestamp, nullable: false),
        ], primaryKey: ["name"])

    package static var latestVersion: Int { migrations.last!.version }

    static let migrationsDefinition = TableDefinition(
        migrationsTable,
        columns: [
            ColumnDefinition("version", .integer, nullable: false), ColumnDefinition("description", .varchar(255), nullable: false),
            ColumnDefinition("applied_at", .timestamp, nullable: false),
        ], primaryKey: ["version"])
}
