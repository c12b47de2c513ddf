import ArgumentParser
import Config
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

/// `breakout db test ORG/CONNECTION [-c DIR]` or `breakout db test --type T --host H [--port P] --database D --user U`.
struct DBTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Connect to a database and report its version, round-trip latency and whether tables can be created.",
        discussion: """
            With ORG/CONNECTION, the connection comes from the configuration (its password decrypted with the
            loaded key). Otherwise the password is read from the BREAKOUT_DB_PASSWORD environment variable,
            never from the command line; for SQLite, only --database FILE is needed.
            Examples:
              breakout db test ansd/postgres-ansd -c /etc/breakout/config
              BREAKOUT_DB_PASSWORD=… breakout db test --type postgresql --host 127.0.0.1 --database ansd_data --user ansd_user
            """
    )

    @Argument(help: "ORG/CONNECTION: a connection of the configuration.")
    var target: String?

    @OptionGroup var config: ConfigOptions

    @Option(help: "Database type: postgresql, mysql, sqlserver or sqlite (aliases: pdo_pgsql, pdo_mysql, pdo_sqlsrv, sqlsrv, pdo_sqlite).")
    var type: String?

    @Option(help: "Server host name or address.")
    var host: String?

    @Option(help: "Server port (default: the engine's usual port).")
    var port: Int?

    @Option(help: "Database name; for SQLite, the database file.")
    var database: String?

    @Option(help: "User name.")
    var user: String?

    @Option(
        name: .customLong("option"),
        help: ArgumentHelp("A driver option as KEY=VALUE (e.g. sslmode=require); repeatable.", valueName: "key=value"))
    var options: [String] = []

    func validate() throws {
        if let target {
            guard target.contains("/") else { throw ValidationError("\"\(target)\" is not ORG/CONNECTION (e.g. ansd/postgres-ansd).") }
            if type != nil || host != nil || database != nil {
                throw ValidationError("Give either ORG/CONNECTION or --type/--host/--database, not both.")
            }
            return
        }
        guard let type else { throw ValidationError("Give ORG/CONNECTION, or --type with --host, --database and --user.") }
        guard database != nil else { throw ValidationError("--database is required with --type.") }
        guard let engine = DatabaseEngine(name: type) else {
            throw ValidationError("Unknown database type \"\(type)\"; expected \(DatabaseEngine.names).")
        }
        if !engine.isEmbedded && host == nil {
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
        if let target {
            let configuration = try config.load()
            let resolver = Resolver(configuration, keyring: try config.keyring())
            let slash = target.firstIndex(of: "/")!
            let org = try resolver.organization(String(target[..<slash]))
            let connection = try resolver.connection(of: org, named: String(target[target.index(after: slash)...]))
            let settings = try resolver.connectionConfig(connection, of: org.slug.value)
            let report: ConnectionProbe.Report
            do {
                report = try ConnectionProbe.run(settings)
            } catch let error as DatabaseError {
                throw CLIError(
                    "cannot use \(target) (\(settings))", cause: error,
                    hint: ConnectionProbe.hint(for: error, config: settings).map {
                        $0 + "; the connection is defined in \(org.file) line \(connection.name.location.line)"
                    })
            }
            print(report.text)
            return
        }
        let engine = DatabaseEngine(name: type!)!
        let database = self.database!
        var settings: [String: String] = [:]
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1)
            settings[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let config = ConnectionConfig(
            engine: engine, host: host, port: port ?? engine.defaultPort, database: database,
            user: user, password: ProcessInfo.processInfo.environment["BREAKOUT_DB_PASSWORD"],
            options: settings)
        let report: ConnectionProbe.Report
        do {
            report = try ConnectionProbe.run(config)
        } catch let error as DatabaseError {
            throw CLIError("cannot use \(config)", cause: error, hint: ConnectionProbe.hint(for: error, config: config))
        }
        print(report.text)
    }
}
