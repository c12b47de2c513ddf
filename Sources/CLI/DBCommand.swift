import ArgumentParser
import Config
import Drivers
import Foundation
import Runner
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
            With ORG/CONNECTION, the connection is the one applied to the control tables, as the runner
            will use it (its stored password decrypted with the state key); --from-config tests the
            organization file's values instead, before they are applied. Otherwise the password is read from the BREAKOUT_DB_PASSWORD environment variable,
            never from the command line; for SQLite, only --database FILE is needed.
            Examples:
              breakout db test ansd/postgres-ansd -c /etc/breakout/config
              BREAKOUT_DB_PASSWORD=… breakout db test --type postgresql --host 127.0.0.1 --database ansd_data --user ansd_user
            """
    )

    @Argument(help: "ORG/CONNECTION: a connection of the control tables (or, with --from-config, of the configuration).")
    var target: String?

    @Flag(name: .customLong("from-config"), help: "With ORG/CONNECTION: test the organization file's values, not the applied row.")
    var fromConfig = false

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
        if fromConfig { throw ValidationError("--from-config goes with ORG/CONNECTION.") }
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
            let slash = target.firstIndex(of: "/")!
            let (orgName, connectionName) = (String(target[..<slash]), String(target[target.index(after: slash)...]))
            let settings: ConnectionConfig
            let defined: String
            if fromConfig {
                let configuration = try config.load()
                let resolver = Resolver(configuration, keyring: try config.keyring())
                let org = try resolver.organization(orgName)
                let connection = try resolver.connection(of: org, named: connectionName)
                settings = try resolver.connectionConfig(connection, of: org.slug.value)
                defined = "\(org.file) line \(connection.name.location.line)"
                print("Testing \(target) as \(defined) declares it (not necessarily applied).")
            } else {
                (settings, defined) = try applied(orgName, connectionName)
                print("Testing \(target) as applied (\(defined)); --from-config tests the organization file's values.")
            }
            let report: ConnectionProbe.Report
            do {
                report = try ConnectionProbe.run(settings)
            } catch let error as DatabaseError {
                throw CLIError(
                    "cannot use \(target) (\(settings))", cause: error,
                    hint: ConnectionProbe.hint(for: error, config: settings).map { $0 + "; the connection is \(defined)" })
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

    /// The applied row of ORG/CONNECTION as the runner would connect to it (the same checks as a
    /// run), and where it is: `mt_database_connections row 3`.
    private func applied(_ orgName: String, _ connectionName: String) throws -> (ConnectionConfig, String) {
        let runner = try RunnerAccess(config)
        let store = try runner.access.open(forWriting: false)
        defer { store.connection.close() }
        let snapshot = try store.snapshot()
        guard let org = snapshot.organizations.first(where: { $0.name == orgName }) else {
            throw CLIError(
                "no organization \"\(orgName)\" in the control tables",
                hint: snapshot.organizations.isEmpty
                    ? "run `breakout apply` first, or pass --from-config to test the organization file's values"
                    : "known: \(snapshot.organizations.map(\.name).joined(separator: ", "))")
        }
        let connections = snapshot.connections.filter { $0.organizationID == org.id }
        guard let connection = connections.first(where: { $0.name == connectionName }) else {
            throw CLIError(
                "organization \(orgName) has no connection \"\(connectionName)\" in the control tables",
                hint: "its connections: \(connections.map(\.name).joined(separator: ", ")); a new one is there after `breakout apply` "
                    + "(--from-config tests it before)")
        }
        let (_, settings, _) = try runner.executor.destination(
            connection, of: org, in: snapshot, for: "connection \(orgName)/\(connectionName)", refusing: "it is not tested")
        return (settings, "mt_database_connections row \(connection.id)")
    }
}
