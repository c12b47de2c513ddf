import Config
import Foundation
import Reconcile
import State
import Testing

/// `moved:` (issue 19): renaming a job or a connection keeps its row, so its id, run history and
/// lease stay with it, as Terraform's `moved` blocks do.
@Suite struct MovedTests {
    static func file(_ s: Sandbox, connection: String = "pg", jobs: String, moved: String = "") throws -> String {
        org("ansd", connections: pgConnection(connection, password: try s.encrypt("x")), jobs: jobs) + moved
    }

    @Test(arguments: StateBackend.available)
    func renamingAJobKeepsItsRowAndHistory(_ backend: StateBackend) throws {
        let s = try Sandbox.applied(backend, jobs: job("daily"))
        let id = try #require(try s.query("SELECT id FROM mt_cron_jobs").first?[0].int64)
        try s.execute(
            "INSERT INTO mt_job_runs (job_id, trigger_type, status, runner, organization_name, job_name) VALUES (\(id), 'schedule', 'success', 'r', 'ansd', 'daily')"
        )
        try s.execute("UPDATE mt_cron_jobs SET lease_owner = 'runner-a' WHERE id = \(id)")

        try s.write(
            "organizations/ansd.yaml", try Self.file(s, jobs: job("nightly"), moved: "moved:\n  - {from: job/daily, to: job/nightly}\n"))
        let plan = try s.plan()
        #expect(plan.summaryLine == "Plan: 0 to add, 1 to change, 0 to destroy.", "\(plan.text())")
        #expect(plan.text().contains("  ~ job ansd/daily → ansd/nightly (moved)"), "\(plan.text())")
        #expect(plan.changes.first?.movedFrom == "daily")
        try s.apply()

        let rows = try s.query("SELECT id, job_name, lease_owner FROM mt_cron_jobs")
        #expect(rows.count == 1)
        #expect(rows.first?[0].int64 == id && rows.first?[1].string == "nightly" && rows.first?[2].string == "runner-a")
        let runs = try s.query("SELECT job_id, job_name FROM mt_job_runs")
        #expect(runs.count == 1 && runs.first?[0].int64 == id && runs.first?[1].string == "nightly")
        // Applied: nothing left to do, and the entry is stale (a warning with its code, not an error).
        let again = try s.plan()
        #expect(!again.hasChanges)
        #expect(again.warnings.contains { $0.code == .movedStale && $0.location?.hasPrefix("organizations/ansd.yaml:") == true })
        // Without the entry, the same rename is a delete and a create: the history would be cut off.
        try s.write("organizations/ansd.yaml", try Self.file(s, jobs: job("weekly")))
        #expect(try s.plan().summaryLine == "Plan: 1 to add, 0 to change, 1 to destroy.")
    }

    @Test(arguments: StateBackend.available)
    func renamingAConnectionKeepsItsJobs(_ backend: StateBackend) throws {
        let s = try Sandbox.applied(backend, jobs: job("daily", extra: "    connection: pg\n"))
        let id = try #require(try s.query("SELECT id FROM mt_database_connections").first?[0].int64)
        try s.write(
            "organizations/ansd.yaml",
            try Self.file(
                s, connection: "warehouse", jobs: job("daily", extra: "    connection: warehouse\n"),
                moved: "moved:\n  - from: connection/pg\n    to: connection/warehouse\n"))
        let plan = try s.plan()
        #expect(plan.text().contains("~ connection ansd/pg → ansd/warehouse (moved)"), "\(plan.text())")
        #expect(plan.changes.allSatisfy { $0.action == .update }, "\(plan.text())")
        try s.apply()
        let rows = try s.query("SELECT id, connection_name FROM mt_database_connections")
        #expect(rows.count == 1 && rows.first?[0].int64 == id && rows.first?[1].string == "warehouse")
        #expect(try s.query("SELECT db_connection_id FROM mt_cron_jobs").first?[0].int64 == id)
        #expect(try !s.plan().hasChanges)
    }

    /// Entries that cannot mean a rename are errors with the file and line, before anything runs.
    @Test func conflictingEntriesAreErrors() throws {
        let s = try Sandbox(.sqlite)
        func errors(_ moved: String, jobs: String = job("nightly")) throws -> [String] {
            try s.write("organizations/ansd.yaml", try Self.file(s, jobs: jobs, moved: "moved:\n" + moved))
            return ConfigLoader(directory: s.dir.path, keyring: s.keyring, environment: s.environment).load().errors.map(\.description)
        }
        #expect(
            try errors("  - {from: job/daily, to: job/weekly}\n").contains {
                $0.contains("moved to job/weekly, which this file does not declare")
            })
        #expect(
            try errors("  - {from: job/daily, to: job/nightly}\n", jobs: job("daily") + job("nightly")).contains {
                $0.contains("job/daily is still declared")
            })
        #expect(try errors("  - {from: job/daily, to: connection/pg}\n").contains { $0.contains("a move keeps the kind") })
        #expect(try errors("  - {from: daily, to: job/nightly}\n").contains { $0.contains("write job/NAME or connection/NAME") })
        let twice = try errors("  - {from: job/daily, to: job/nightly}\n  - {from: job/hourly, to: job/nightly}\n")
        #expect(twice.contains { $0.hasPrefix("organizations/ansd.yaml:") && $0.contains("two moved entries for job nightly") }, "\(twice)")
        #expect(try errors("  - {from: job/daily, to: job/nightly}\n").isEmpty)
    }

    /// Both names already have rows: the entry cannot say which to keep, so plan refuses.
    @Test func bothRowsPresentIsRefused() throws {
        let s = try Sandbox.applied(.sqlite, jobs: job("daily") + job("nightly"))
        try s.write(
            "organizations/ansd.yaml", try Self.file(s, jobs: job("nightly"), moved: "moved:\n  - {from: job/daily, to: job/nightly}\n"))
        #expect {
            try s.plan()
        } throws: { error in
            "\(error)".contains("the control tables have both")
        }
    }
}
