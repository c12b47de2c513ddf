import Cron
import SQL

/// The whole configuration: `breakout.yaml` plus every `organizations/*.yaml`, validated.
public struct Configuration: Sendable {
    /// The config directory as given.
    public var directory: String
    public var settings: Settings
    public var organizations: [Organization]
}

/// `breakout.yaml`.
public struct Settings: Sendable {
    public var version: Int
    public var state: StateSettings
    public var source: SourceSettings?
    public var defaults: Defaults
    /// `serve.token`: who may press "Run now" on the dashboard (an encrypted secret).
    public var serveToken: SecretReference?
    /// `alerts`: the operator's alerts, for every job's failures; the only alerts that may run a
    /// command (organization files may name webhooks only).
    public var alerts: Alerts?
    /// `data_root`: the folder under which each organization's SQLite files and exports live
    /// (`data_root/<organization>/`); relative to the config directory.
    public var dataRoot: Located<String>?
    /// `tenant_hosts`: when set, the only database hosts organizations may point at (names,
    /// addresses, or `*.domain`); unset, any host.
    public var tenantHosts: [String]?
}

/// Where the `mt_*` control tables live.
public struct StateSettings: Sendable {
    /// A connection URL; relative SQLite paths are resolved against the config directory.
    public var url: Located<String>
    public var password: SecretReference?
    public var keyFile: Located<String>?
    /// `enc-v1` (default) or `php-openssl` (the layout the guide's PHP UI reads).
    public var passwordFormat: PasswordFormat
}

public enum PasswordFormat: String, Sendable, CaseIterable {
    case encV1 = "enc-v1"
    case phpOpenSSL = "php-openssl"
}

/// Where cases come from.
public struct SourceSettings: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case csweb, csdb, dat }
    public var kind: Kind
    public var url: Located<String>?
    public var password: SecretReference?
    public var path: Located<String>?
    public var dictionary: Located<String>?
}

public struct Defaults: Sendable {
    public var threads: Int = 3
    public var maxCasesPerChunk: Int = 1000
    public var timeZone: String = "UTC"
}

/// A secret as written in configuration: an `enc:v2:…` (or old `enc:v1:…`) value or an `${env:VAR}` reference. A
/// plaintext secret never becomes one of these (validation refuses it).
public enum SecretReference: Sendable, Hashable {
    case encrypted(Located<String>)
    case environment(variable: String, at: SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .encrypted(let v): v.location
        case .environment(_, let at): at
        }
    }
}

/// `organizations/<slug>.yaml`.
public struct Organization: Sendable {
    public var slug: Located<String>
    public var name: String
    public var dictionaries: [Located<String>]
    public var connections: [Connection]
    public var jobs: [Job]
    public var file: String
    /// Alerts for every job of the organization that has none of its own.
    public var alerts: Alerts?

    /// The connection jobs use when they name none: the one marked default, or the only one.
    public var defaultConnection: Connection? {
        connections.first { $0.isDefault } ?? (connections.count == 1 ? connections[0] : nil)
    }
}

/// A destination database of an organization.
public struct Connection: Sendable {
    public var name: Located<String>
    public var engine: DatabaseEngine
    public var host: String?
    public var port: Int?
    public var database: String
    public var username: String?
    public var password: SecretReference?
    public var isDefault: Bool
    public var isActive: Bool
    public var options: [String: String]
    /// How breakout names the tables and columns it creates in this database.
    public var naming: TableNaming
}

/// `naming:` of a connection: CSWeb/CSPro names (`level-1`, `item(1)`) or plain SQL names (`level_1`, `item_1`).
public enum TableNaming: String, Sendable, CaseIterable {
    case csweb, sql
}

/// A scheduled job of an organization.
public struct Job: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case breakout, export }

    public var name: Located<String>
    public var kind: Kind
    public var schedule: CronExpression
    public var scheduleLocation: SourceLocation
    public var timeZone: String
    /// Resolved: the job's connection, or the organization's default.
    public var connection: String
    public var dictionaries: [String]
    public var threads: Int
    public var maxCasesPerChunk: Int
    public var isActive: Bool
    /// Seconds; `nil` for no limit.
    public var timeout: Int?
    public var retries: Int
    /// Seconds after a missed fire within which it still runs (default one hour).
    public var startingDeadline: Int
    public var include: [String]
    public var exclude: [String]
    /// The job's alerts, or its organization's.
    public var alerts: Alerts?
    /// Export jobs: the folder dated exports go to.
    public var output: String?
}

/// Where a failed run (with `onRecovery`, the next successful one; with `onFailedCases`, a
/// successful run that set cases aside as undecodable) is reported.
public struct Alerts: Sendable, Hashable {
    public var webhook: String?
    public var command: String?
    public var onRecovery = false
    public var onFailedCases = false
    public init(webhook: String? = nil, command: String? = nil, onRecovery: Bool = false, onFailedCases: Bool = false) {
        self.webhook = webhook
        self.command = command
        self.onRecovery = onRecovery
        self.onFailedCases = onFailedCases
    }
}
