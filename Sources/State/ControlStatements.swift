import Foundation
import SQL

/// Every statement the runner, the dashboard and the CLI run on the control tables, as values.
/// State owns this SQL: callers only choose which statement to run and when (the scheduler runs
/// them under its lock, on its store connection, so a broken connection is reopened once).
///
/// Times are the store's (`StoreClock`); fire times are stored in whole seconds.
package enum ControlStatements {
    static let jobs = ControlTables.jobs
    static let runs = ControlTables.runs

    /// A fire time as stored: whole seconds, or NULL.
    package static func fireTime(_ d: Date?) -> SQLValue {
        d.map { .timestamp(Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down))) } ?? .null
    }

    // MARK: Jobs: fires and leases

    /// A job's scheduling columns: `next_run_at`, `lease_owner`, `lease_expires_at`, `last_run_status`.
    package static func schedule(ofJob job: Int64) -> SQLStatement {
        .select(
            Select(
                from: jobs, columns: ["next_run_at", "lease_owner", "lease_expires_at", "last_run_status"],
                where: .equals("id", .integer(job))))
    }

    /// Frees a lease that expired (its runner died) and records why as the job's last outcome;
    /// changes nothing if another runner got there first (same owner and expiry, read before).
    package static func takeOverExpiredLease(job: Int64, owner: String, expiresAt: SQLValue, message: String) -> SQLStatement {
        .update(
            Update(
                jobs,
                set: [
                    Assignment("lease_owner", .null), Assignment("lease_expires_at", .null),
                    Assignment("last_run_status", .text("failed")), Assignment("last_run_output", .text(message)),
                ],
                where: .and([
                    .equals("id", .integer(job)), .equals("lease_owner", .text(owner)), .equals("lease_expires_at", expiresAt),
                ])))
    }

    /// Makes the job due at `at` (a retry after a lost run).
    package static func dueAgain(job: Int64, at: Date) -> SQLStatement {
        .update(Update(jobs, set: [Assignment("next_run_at", fireTime(at))], where: .equals("id", .integer(job))))
    }

    /// Sets the first fire of a new or rescheduled job (only if it still has none).
    package static func scheduleFirstFire(job: Int64, at: Date?) -> SQLStatement {
        .update(
            Update(
                jobs, set: [Assignment("next_run_at", fireTime(at))], where: .and([.equals("id", .integer(job)), .isNull("next_run_at")])))
    }

    /// Moves the next fire from `from` (as read) to `to`; changes nothing if another runner moved it.
    package static func moveNextFire(job: Int64, from: SQLValue, to: Date?) -> SQLStatement {
        .update(
            Update(
                jobs, set: [Assignment("next_run_at", fireTime(to))],
                where: .and([.equals("id", .integer(job)), .equals("next_run_at", from)])))
    }

    /// Claims the job for `owner` until `now + leaseSeconds`, if no live lease holds it. A
    /// scheduled claim also moves the fire from `fire` (as read) to `next`; a manual one (`fire`
    /// nil) leaves the schedule alone. One row changed means the claim was won.
    package static func claim(
        job: Int64, owner: String, now: Date, leaseSeconds: Double, fire: (from: SQLValue, next: Date?)?
    )
        -> SQLStatement
    {
        var set = [
            Assignment("lease_owner", .text(owner)), Assignment("lease_expires_at", .timestamp(now.addingTimeInterval(leaseSeconds))),
            Assignment("last_run_status", .text("running")), Assignment("last_run_at", .timestamp(now)),
        ]
        var conditions: [SQLPredicate] = [.equals("id", .integer(job))]
        if let fire {
            set.insert(Assignment("next_run_at", fireTime(fire.next)), at: 0)
            conditions.append(.equals("next_run_at", fire.from))
        }
        conditions.append(.or([.isNull("lease_owner"), .compare("lease_expires_at", .less, .timestamp(now))]))
        return .update(Update(jobs, set: set, where: .and(conditions)))
    }

    /// Extends `owner`'s lease to `until` (nothing if it lost the lease).
    package static func renewLease(job: Int64, owner: String, until: Date) -> SQLStatement {
        .update(
            Update(
                jobs, set: [Assignment("lease_expires_at", .timestamp(until))],
                where: .and([.equals("id", .integer(job)), .equals("lease_owner", .text(owner))])))
    }

    /// The job's last outcome, and `owner`'s lease released (nothing if it no longer holds it).
    package static func releaseLease(job: Int64, owner: String, status: String, output: String, failedCases: Int64) -> SQLStatement {
        .update(
            Update(
                jobs,
                set: [
                    Assignment("last_run_status", .text(status)), Assignment("last_run_output", .text(cap(output))),
                    Assignment("lease_owner", .null), Assignment("lease_expires_at", .null),
                    Assignment("last_run_failed_cases", .integer(failedCases)),
                ], where: .and([.equals("id", .integer(job)), .equals("lease_owner", .text(owner))])))
    }

    /// The lease and last run time of a job (`jobs run --wait` follows them).
    package static func leaseAndLastRun(ofJob job: Int64) -> SQLStatement {
        .select(Select(from: jobs, columns: ["lease_owner", "last_run_at"], where: .equals("id", .integer(job))))
    }

    /// Every job's live columns, for the dashboard: `id`, `next_run_at`, `lease_owner`,
    /// `lease_expires_at`, `last_run_output`.
    package static let liveJobColumns = SQLStatement.select(
        Select(from: jobs, columns: ["id", "next_run_at", "lease_owner", "lease_expires_at", "last_run_output"]))

    /// The earliest next fire of the active jobs, for the daemon's sleep.
    package static let earliestNextFire = SQLStatement.select(
        Select(
            from: jobs, columns: ["next_run_at"], where: .and([.equals("is_active", .integer(1)), .isNotNull("next_run_at")]),
            orderBy: [SortKey("next_run_at")], limit: 1))

    // MARK: Runs

    /// Runs still `running`: `id`, `job_id`, `runner`, `output`, oldest first.
    package static let runningRuns = SQLStatement.select(
        Select(
            from: runs, columns: ["id", "job_id", "runner", "output"], where: .equals("status", .text("running")), orderBy: [SortKey("id")])
    )

    /// Marks `runner`'s running runs of the job failed with `message`.
    package static func failRuns(ofJob job: Int64, runner: String, at: Date, message: String) -> SQLStatement {
        .update(
            Update(
                runs,
                set: [
                    Assignment("status", .text("failed")), Assignment("finished_at", .timestamp(at)), Assignment("output", .text(message)),
                ],
                where: .and([.equals("job_id", .integer(job)), .equals("runner", .text(runner)), .equals("status", .text("running"))])))
    }

    /// Marks one run failed with `message`, if it is still `running`.
    package static func failRun(_ run: Int64, at: Date, message: String) -> SQLStatement {
        .update(
            Update(
                runs,
                set: [
                    Assignment("status", .text("failed")), Assignment("finished_at", .timestamp(at)), Assignment("output", .text(message)),
                ],
                where: .and([.equals("id", .integer(run)), .equals("status", .text("running"))])))
    }

    /// The statuses of the job's last 20 runs, newest first.
    package static func recentStatuses(ofJob job: Int64) -> SQLStatement {
        .select(
            Select(
                from: runs, columns: ["status"], where: .equals("job_id", .integer(job)), orderBy: [SortKey("id", descending: true)],
                limit: 20))
    }

    /// The status of the job's last finished run before `run`.
    package static func previousOutcome(ofJob job: Int64, before run: Int64) -> SQLStatement {
        .select(
            Select(
                from: runs, columns: ["status"],
                where: .and([
                    .equals("job_id", .integer(job)), .compare("id", .less, .integer(run)),
                    .isIn("status", [.text("success"), .text("failed")]),
                ]), orderBy: [SortKey("id", descending: true)], limit: 1))
    }

    /// A run's row, with its job's and organization's names (kept when the job is deleted).
    package static func insertRun(
        job: Int64, jobName: String, organizationName: String, trigger: String, scheduledFor: Date?, started: Date, finished: Date?,
        status: String, runner: String, output: String
    ) -> SQLStatement {
        .insert(
            Insert(
                into: runs,
                columns: [
                    "job_id", "trigger_type", "scheduled_for", "started_at", "finished_at", "status", "runner", "output",
                    "organization_name", "job_name",
                ],
                rows: [
                    [
                        .integer(job), .text(trigger), fireTime(scheduledFor), .timestamp(started),
                        finished.map { .timestamp($0) } ?? .null,
                        .text(status), .text(runner), .text(cap(output)), .text(organizationName), .text(jobName),
                    ]
                ]))
    }

    /// The id of `runner`'s newest run of the job (the one just inserted).
    package static func newestRun(ofJob job: Int64, runner: String) -> SQLStatement {
        .select(
            Select(
                from: runs, columns: ["id"], where: .and([.equals("job_id", .integer(job)), .equals("runner", .text(runner))]),
                orderBy: [SortKey("id", descending: true)], limit: 1))
    }

    /// A progress line in a running run's output.
    package static func runProgress(_ run: Int64, line: String) -> SQLStatement {
        .update(
            Update(
                runs, set: [Assignment("output", .text("running: " + line))],
                where: .and([.equals("id", .integer(run)), .equals("status", .text("running"))])))
    }

    /// A run's outcome; with `onlyIfRunning`, not over an outcome another runner recorded meanwhile.
    package static func recordOutcome(
        _ run: Int64, finished: Date, status: String, cases: Int64, rows: Int64, failedCases: Int64, output: String, onlyIfRunning: Bool
    ) -> SQLStatement {
        let id: SQLPredicate = .equals("id", .integer(run))
        return .update(
            Update(
                runs,
                set: [
                    Assignment("finished_at", .timestamp(finished)), Assignment("status", .text(status)),
                    Assignment("cases_loaded", .integer(cases)), Assignment("rows_loaded", .integer(rows)),
                    Assignment("failed_cases", .integer(failedCases)), Assignment("output", .text(cap(output))),
                ], where: onlyIfRunning ? .and([id, .equals("status", .text("running"))]) : id))
    }

    /// Every run's counters, for `/metrics`: `job_id`, `status`, `started_at`, `finished_at`,
    /// `cases_loaded`, `rows_loaded`, `failed_cases`.
    package static let runCounters = SQLStatement.select(
        Select(from: runs, columns: ["job_id", "status", "started_at", "finished_at", "cases_loaded", "rows_loaded", "failed_cases"]))

    /// Runs, newest first, filtered by any of: the job's organization and job names, only
    /// finished ones, the job id, the run id.
    package static func runs(
        names: (organization: String, job: String)? = nil, finishedOnly: Bool = false, job: Int64? = nil, run: Int64? = nil, limit: Int?
    )
        -> SQLStatement
    {
        var conditions: [SQLPredicate] = []
        if let names { conditions += [.equals("organization_name", .text(names.organization)), .equals("job_name", .text(names.job))] }
        if finishedOnly { conditions.append(.isIn("status", [.text("success"), .text("failed")])) }
        if let job { conditions.append(.equals("job_id", .integer(job))) }
        if let run { conditions.append(.equals("id", .integer(run))) }
        return .select(
            Select(from: runs, where: conditions.isEmpty ? nil : .and(conditions), orderBy: [SortKey("id", descending: true)], limit: limit)
        )
    }

    // MARK: apply

    /// The three tables `apply` manages, each row named within its organization.
    package enum Managed: Sendable {
        case organization, connection, job

        package var table: QualifiedName {
            switch self {
            case .organization: ControlTables.organizations
            case .connection: ControlTables.connections
            case .job: ControlTables.jobs
            }
        }

        package var nameColumn: String {
            switch self {
            case .organization: "organization_name"
            case .connection: "connection_name"
            case .job: "job_name"
            }
        }
    }

    /// The row named `name` (in `organization`, for connections and jobs).
    static func scope(_ kind: Managed, name: String, organization: Int64?) -> SQLPredicate {
        var scope: [SQLPredicate] = [.equals(kind.nameColumn, .text(name))]
        if let organization { scope.append(.equals("organization_id", .integer(organization))) }
        return .and(scope)
    }

    package static func insert(_ kind: Managed, values: [(String, SQLValue)]) -> SQLStatement {
        .insert(Insert(into: kind.table, columns: values.map(\.0), rows: [values.map(\.1)]))
    }

    package static func update(_ kind: Managed, name: String, organization: Int64?, values: [(String, SQLValue)]) -> SQLStatement {
        .update(Update(kind.table, set: values.map { Assignment($0.0, $0.1) }, where: scope(kind, name: name, organization: organization)))
    }

    /// A job renamed by a `moved:` entry: its runs carry the new name (they are the same job's).
    package static func renameRuns(job: Int64, to name: String) -> SQLStatement {
        .update(Update(runs, set: [Assignment("job_name", .text(name))], where: .equals("job_id", .integer(job))))
    }

    package static func delete(_ kind: Managed, name: String, organization: Int64?) -> SQLStatement {
        .delete(Delete(from: kind.table, where: scope(kind, name: name, organization: organization)))
    }

    /// One `mt_apply_log` row.
    package static func applyLogEntry(
        at: SQLValue, user: String, host: String, configDigest: String, stateDigest: String, commit: String?, summary: String
    ) -> SQLStatement {
        .insert(
            Insert(
                into: ControlTables.applyLog,
                columns: ["applied_at", "applied_by", "host", "config_digest", "state_digest", "git_commit", "summary"],
                rows: [
                    [
                        at, .text(user), .text(host), .text(configDigest), .text(stateDigest), commit.map { .text($0) } ?? .null,
                        .text(summary),
                    ]
                ]
            ))
    }

    // MARK: Organizations

    /// An organization's name by id.
    package static func organizationName(_ id: Int64) -> SQLStatement {
        .select(Select(from: ControlTables.organizations, columns: ["organization_name"], where: .equals("id", .integer(id))))
    }

    /// Output longer than this is cut, with a line saying so.
    package static func cap(_ s: String) -> String {
        s.count > 65_000 ? String(s.prefix(65_000)) + "\n… (output cut at 65,000 characters)" : s
    }
}
