import ArgumentParser
import Drivers
import Foundation
import SQL

/// `breakout db …`: destination database checks.
struct DB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Check destination database connections.",
        subcommands: [DBTest.self]
    )
}

/// `breakout db test --type T --host H [--port P] --database D --user U`.
struct DBTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Connect to a database and report its version, round-trip latency and whether tables can be created.",
        discussion: """
        The password is read from the BREAKOUT_DB_PASSWORD environment variable, never from the command line.
        For SQLite, only --database FILE is needed.
        Example: BREAKOUT_DB_PASSWORD=… breakout db test --type postgresql --host 127.0.0.1 --database ansd_data --user ansd_user
        """
    )

    @Option(help: "Database type: postgresql, mysql, sqlserver or sqlite (aliases: pdo_pgsql, pdo_mysql, pdo_sqlsrv, sqlsrv, pdo_sqlite).")
    var type: String

    @Option(help: "Server host name or address.")
    var host: String?

    @Option(help: "Server port (default: the engine's usual port).")
    var port: Int?

    @Option(help: "Database name; for SQLite, the database file.")
    var database: String

    @Option(help: "User name.")
    var user: String?

    @Option(name: .customLong("option"), help: ArgumentHelp("A driver option as KEY=VALUE (e.g. sslmode=require); repeatable.", valueName: "key=value"))
    var options: [String] = []

    func validate() throws {
        guard let engine = DatabaseEngine(name: type) else {
            throw ValidationError("Unknown database type \"\(type)\"; expected postgresql, mysql, sqlserver or sqlite.")
        }
        if engine != .sqlite && host == nil {
            throw ValidationError("--host is required for \(engine.rawValue).")
        }
        if let port, !(1...65535).contains(port) {
            throw ValidationError("--port \(port) is out of range 1-65535.")
        }
        for option in options where !option.contains("=") {
            throw ValidationError("--option \"\(option)\" must be KEY=VALUE.")
        }
    }

    func run() throws {
        try reportingErrors(probe)
    }

    private func probe() throws {
        let engine = DatabaseEngine(name: type)!
        var settings: [String: String] = [:]
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1)
            settings[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let config = ConnectionConfig(engine: engine, host: host, port: port ?? engine.defaultPort, database: database,
                                      user: user, password: ProcessInfo.processInfo.environment["BREAKOUT_DB_PASSWORD"],
                                      options: settings)
        let report: ConnectionProbe.Report
        do {
            report = try ConnectionProbe.run(config)
        } catch let error as DatabaseError {
            throw CLIError("cannot use \(config): \(error)", hint: ConnectionProbe.hint(for: error, config: config))
        }
        print(report.text)
    }
}
