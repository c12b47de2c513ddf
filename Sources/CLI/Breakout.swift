import ArgumentParser
import Foundation

/// `breakout`: CSWeb cases into relational tables, declared as code.
@main
struct Breakout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breakout",
        abstract: "Break out CSPro/CSWeb cases into relational tables in PostgreSQL, MySQL/MariaDB, SQL Server or SQLite.",
        discussion: """
            Organizations, connections and jobs are declared in YAML kept in git; see README.md.
            Exit codes: 0 ok, 1 error (or a warning, with plan --fail-on-warnings),
            2 changes to review (plan --detailed-exitcode: config changes, or a job
            whose next run migrates or rebuilds a destination's tables).
            """,
        version: BreakoutVersion.current,
        subcommands: [
            Validate.self, PlanCommand.self, ApplyCommand.self, ImportCommand.self, DB.self, SecretsCommand.self, DictionaryCommand.self,
            CasesCommand.self, ProcessCases.self, CronCommand.self, RunDaemon.self, JobsCommand.self, StatusCommand.self, LogsCommand.self,
            ServeCommand.self, RunJobProcess.self, ExportCommand.self,
        ]
    )

    /// Everything breakout writes (state databases, SQLite destinations, exports of microdata,
    /// logs) is for the runner's user alone: files 0600, folders 0700, whatever the caller's umask.
    static func main() {
        umask(0o077)
        // The client libraries complete a connection from these when the configuration gives no
        // value (libpq ignores an empty password and reads PGPASSWORD): a tenant's server would
        // receive the runner's credentials. breakout takes credentials from its configuration only.
        for variable in ambientCredentials { unsetenv(variable) }
        main(nil)
    }

    static let ambientCredentials = ["PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGSSLCERT", "PGSSLKEY", "MYSQL_PWD"]
}

enum BreakoutVersion {
    static let number = "0.1.0"
    /// `breakout --version`: the version, and the commit of a packaged build.
    static let current = number + (BuildInfo.commit.map { " (commit \($0))" } ?? "")
}
