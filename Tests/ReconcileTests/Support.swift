import Config
import DatabaseDriver
import Drivers
import Foundation
import Reconcile
import SQL
import Secrets
import State
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// A private (0600) copy of the public demo key: key files must be 0600, and git keeps files 0644.
let demoKeyFile: String = {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-demo-\(UUID().uuidString).key").path
    try! FileManager.default.copyItem(atPath: repository.appendingPathComponent("examples/multi-tenant/demo.key").path, toPath: copy)
    try! FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
    return copy
}()

/// Where the control tables live in a test: SQLite always; PostgreSQL and MariaDB when their URLs
/// are set (always under CI=true). Each test gets a database of its own.
enum StateBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgresql, mysql
    var testDescription: String { rawValue }

    static var available: [StateBackend] {
        allCases.filter { b in
            switch b {
            case .sqlite: true
            case .postgresql:
                ProcessInfo.processInfo.environment["CI"] == "true"
                    || ProcessInfo.processInfo.environment["BREAKOUT_TEST_POSTGRES_URL"] != nil
            case .mysql:
                ProcessInfo.processInfo.environment["CI"] == "true" || ProcessInfo.processInfo.environment["BREAKOUT_TEST_MYSQL_URL"] != nil
            }
        }
    }

    /// A fresh, empty database: its URL (no password), the password, and the admin connection settings.
    func fresh() throws -> (url: String, password: String?, admin: ConnectionConfig?, name: String) {
        let name = "bt_state_\(UInt32.random(in: 0...UInt32.max))"
        switch self {
        case .sqlite:
            return ("sqlite:" + FileManager.default.temporaryDirectory.appendingPathComponent(name + ".db").path, nil, nil, name)
        case .postgresql, .mysql:
            let variable = self == .postgresql ? "BREAKOUT_TEST_POSTGRES_URL" : "BREAKOUT_TEST_MYSQL_URL"
            guard let url = ProcessInfo.processInfo.environment[variable] else {
                throw DatabaseError(.configuration, engine: nil, "\(variable) is not set: run the tests through `make test`")
            }
            let admin = try ConnectionConfig.parse(url: url)
            let c = try Databases.connect(admin)
            defer { c.close() }
            try c.execute("CREATE DATABASE \(try c.dialect.quote(name))")
            let scheme = self == .postgresql ? "postgresql" : "mysql"
            return ("\(scheme)://\(admin.user!)@\(admin.host!):\(admin.port!)/\(name)", admin.password, admin, name)
        }
    }

    func drop(_ fresh: (url: String, password: String?, admin: ConnectionConfig?, name: String)) {
        guard let admin = fresh.admin, let c = try? Databases.connect(admin) else { return }
        defer { c.close() }
        _ = try? c.execute("DROP DATABASE \(try! c.dialect.quote(fresh.name))\(self == .postgresql ? " WITH (FORCE)" : "")")
    }
}

/// A config directory in /tmp with the demo key, pointing its state at a test database.
final class Sandbox: @unchecked Sendable {
    let dir: URL
    let keyring: Keyring
    let backend: StateBackend
    let state: (url: String, password: String?, admin: ConnectionConfig?, name: String)
    var passwordFormat = "enc-v1"

    init(_ backend: StateBackend) throws {
        self.backend = backend
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("breakout-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("organizations"), withIntermediateDirectories: true)
        keyring = try Keyring.load(keyFiles: [demoKeyFile], environment: [:])
        state = try backend.fresh()
        try writeSettings()
    }

    deinit { backend.drop(state) }

    var environment: [String: String] { ["STATE_PW": state.password ?? ""] }

    func writeSettings() throws {
        var y = "version: 1\nstate:\n  url: \(state.url)\n"
        if state.password != nil { y += "  password: ${env:STATE_PW}\n" }
        y += "  password_format: \(passwordFormat)\n"
        y += "defaults: {threads: 3, max_cases_per_chunk: 1000, time_zone: UTC}\n"
        try write("breakout.yaml", y)
    }

    func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: dir.appendingPathComponent(path))
    }

    func remove(_ path: String) throws { try FileManager.default.removeItem(at: dir.appendingPathComponent(path)) }

    /// A value for `organization`'s file (values are bound to the file they are written in).
    func encrypt(_ plaintext: String, organization: String = "ansd") throws -> String {
        try SecretValue.encrypt(plaintext, with: keyring.primary!, scope: .organization(organization))
    }

    func load() throws -> Configuration {
        let result = ConfigLoader(directory: dir.path, keyring: keyring, environment: environment).load()
        guard let c = result.configuration else { throw StateError("config errors: \(result.errors.map(\.description))") }
        return c
    }

    /// Organization ansd with one PostgreSQL connection and `jobs`, applied.
    static func applied(_ backend: StateBackend, jobs: String) throws -> Sandbox {
        let s = try Sandbox(backend)
        try s.write("organizations/ansd.yaml", org("ansd", connections: pgConnection("pg", password: try s.encrypt("x")), jobs: jobs))
        try s.apply()
        return s
    }

    func connectState() throws -> any DatabaseConnection {
        var config = try ConnectionConfig.parse(url: state.url)
        config.password = state.password
        return try Databases.connect(config)
    }

    func reconciler() throws -> Reconciler {
        let configuration = try load()
        return Reconciler(
            configuration: configuration, resolver: Resolver(configuration, keyring: keyring, environment: environment),
            store: StateStore(connection: try connectState()), stateKeys: keyring)
    }

    func plan() throws -> Plan {
        let r = try reconciler()
        defer { r.store.connection.close() }
        return try r.plan()
    }

    @discardableResult
    func apply(_ options: ApplyOptions = ApplyOptions(), saved: Plan? = nil) throws -> Plan {
        let r = try reconciler()
        defer { r.store.connection.close() }
        return try r.apply(saved: saved, options: options) { _ in true }!.plan
    }

    func query(_ sql: String) throws -> [Row] {
        let c = try connectState()
        defer { c.close() }
        return try c.query(sql)
    }

    func execute(_ sql: String) throws {
        let c = try connectState()
        defer { c.close() }
        try c.execute(sql)
    }
}

func org(_ slug: String, name: String = "Office", dictionaries: [String] = ["RGPH"], connections: String, jobs: String = "") -> String {
    "organization: \(slug)\nname: \(name)\ndictionaries: [\(dictionaries.joined(separator: ", "))]\nconnections:\n\(connections)"
        + (jobs.isEmpty ? "" : "jobs:\n\(jobs)")
}

/// Two organizations never share a destination: give each its own `database`.
func pgConnection(_ name: String, password: String, isDefault: Bool = true, database: String = "data") -> String {
    "  - name: \(name)\n    type: postgresql\n    host: db.example\n    database: \(database)\n    username: u\n    password: \(password)\n"
        + (isDefault ? "    default: true\n" : "")
}

func job(_ name: String, schedule: String = "0 2 * * *", extra: String = "") -> String {
    "  - name: \(name)\n    schedule: \"\(schedule)\"\n" + extra
}
