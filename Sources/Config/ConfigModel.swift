import Cron
import SQL

/// The whole configuration: `breakout.yaml` plus every `organizations/*.yaml`, validated.
package struct Configuration: Sendable {
    /// The config directory as given.
    package var directory: String
    package var settings: Settings
    package var organizations: [Organization]
    /// The loader's warnings (each with its code), for `plan` to report with the rest.
    package var warnings: [Diagnostic] = []
}

/// `breakout.yaml`.
package struct Settings: Sendable {
    package var version: Int
    package var state: StateSettings
    package var source: SourceSettings?
    package var defaults: Defaults
    /// `serve.token`: who may press "Run now" on the dashboard (an encrypted secret).
    package var serveToken: SecretReference?
    /// `alerts`: the operator's alerts, for every job's failures; the only alerts that may run a
    /// command (organization files may name webhooks only).
    package var alerts: Alerts?
    /// `data_root`: the folder under which each organization's SQLite files and exports live
    /// (`data_root/<organization>/`); relative to the config directory.
    package var dataRoot: Located<String>?
    /// `tenant_hosts`: when set, the only database hosts organizations may point at (names,
    /// addresses, or `*.domain`); unset, any host.
    package var tenantHosts: [String]?
    /// `serve.allowed_hosts`: the Host names the dashboard answers to, besides the host it listens on
    /// and the loopback names (a guard against DNS rebinding).
    package var serveAllowedHosts: [String] = []
}

/// Where the `mt_*` control tables live.
package struct StateSettings: Sendable {
    /// A connection URL; relative SQLite paths are resolved against the config directory.
    package var url: Located<String>
    package var password: SecretReference?
    package var keyFile: Located<String>?
    /// `enc-v1` (default) or `php-openssl` (the layout the guide's PHP UI reads).
    package var passwordFormat: PasswordFormat
}

package enum PasswordFormat: String, Sendable, CaseIterable {
    case encV1 = "enc-v1"
    case phpOpenSSL = "php-openssl"
}

/// Where cases come from.
package enum SourceSettings: Sendable {
    package enum Kind: String, Sendable, CaseIterable { case csweb, csdb, dat }

    /// A CSWeb database: its URL (no password inside) and the password's reference.
    case csweb(url: Located<String>, password: SecretReference?)
    /// `.csdb` files (a glob, relative to the config directory).
    case csdb(path: Located<String>)
    /// One `.dat` file and the dictionary that reads it.
    case dat(path: Located<String>, dictionary: Located<String>)

    package var kind: Kind {
        switch self {
        case .csweb: .csweb
        case .csdb: .csdb
        case .dat: .dat
        }
    }
}

package struct Defaults: Sendable {
    package var threads: Int = 3
    package var maxCasesPerChunk: Int = 1000
    package var timeZone: String = "UTC"
}

/// A secret as written in configuration: an `enc:v2:…` (or old `enc:v1:…`) value or an `${env:VAR}` reference. A
/// plaintext secret never becomes one of these (validation refuses it).
package enum SecretReference: Sendable, Hashable {
    case encrypted(Located<String>)
    case environment(variable: String, at: SourceLocation)

    package var location: SourceLocation {
        switch self {
        case .encrypted(let v): v.location
        case .environment(_, let at): at
        }
    }
}

/// `organizations/<slug>.yaml`.
package struct Organization: Sendable {
    package var slug: Located<String>
    package var name: String
    package var dictionaries: [Located<String>]
    package var connections: [Connection]
    package var jobs: [Job]
    package var file: String
    /// Alerts for every job of the organization that has none of its own.
    package var alerts: Alerts?
    /// `moved:`: renames that keep the row (its id, run history and lease), as Terraform's
    /// `moved` blocks.
    package var moved: [Moved] = []

    /// The connection jobs use when they name none: the one marked default, or the only one.
    package var defaultConnection: Connection? {
        connections.first { $0.isDefault } ?? (connections.count == 1 ? connections[0] : nil)
    }
}

/// A destination database of an organization.
package struct Connection: Sendable {
    package var name: Located<String>
    package var engine: DatabaseEngine
    package var host: String?
    package var port: Int?
    package var database: String
    package var username: String?
    package var password: SecretReference?
    package var isDefault: Bool
    package var isActive: Bool
    package var options: [String: String]
    /// How breakout names the tables and columns it creates in this database.
    package var naming: Naming
    /// `labels_language:`: the dictionary language of the labels in the analyst views (nil: its first).
    package var labelsLanguage: String? = nil
    /// `specials:`: what cells hold for special values (docs/breakout.md, "Special values").
    package var specials: SpecialValues = .null
}

/// A scheduled job of an organization.
package struct Job: Sendable {
    package enum Kind: String, Sendable, CaseIterable { case breakout, export }

    package var name: Located<String>
    package var kind: Kind
    package var schedule: CronExpression
    package var scheduleLocation: SourceLocation
    package var timeZone: String
    /// Resolved: the job's connection, or the organization's default.
    package var connection: String
    package var dictionaries: [String]
    package var threads: Int
    package var maxCasesPerChunk: Int
    package var isActive: Bool
    /// Seconds; `nil` for no limit.
    package var timeout: Int?
    package var retries: Int
    /// Seconds after a missed fire within which it still runs (default one hour).
    package var startingDeadline: Int
    package var include: [String]
    package var exclude: [String]
    /// The job's alerts, or its organization's.
    package var alerts: Alerts?
    /// Export jobs: the folder dated exports go to.
    package var output: String?
    /// Export jobs: the file formats written (`formats:`; default `[csv]`).
    package var formats: [String] = ["csv"]
    /// Export jobs: keep the cases flagged deleted (`include_deleted: true`); left out by default.
    package var includeDeleted = false
}

/// Where a failed run (with `onRecovery`, the next successful one; with `onFailedCases`, a
/// successful run that set cases aside as undecodable) is reported.
package struct Alerts: Sendable, Hashable {
    package var webhook: String?
    package var command: String?
    package var onRecovery = false
    package var onFailedCases = false
    package init(webhook: String? = nil, command: String? = nil, onRecovery: Bool = false, onFailedCases: Bool = false) {
        self.webhook = webhook
        self.command = command
        self.onRecovery = onRecovery
        self.onFailedCases = onFailedCases
    }
}

/// One entry of an organization's `moved:` list: `{from: job/OLD, to: job/NEW}`.
package struct Moved: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable { case job, connection }
    package var kind: Kind
    package var from: String
    package var to: String
    package var location: SourceLocation

    package init(kind: Kind, from: String, to: String, location: SourceLocation) {
        self.kind = kind
        self.from = from
        self.to = to
        self.location = location
    }
}
