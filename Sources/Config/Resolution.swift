import DatabaseDriver
import Diagnostics
import Foundation
import SQL
import Secrets

/// Turning validated configuration into what a run needs: plaintext secrets (in memory only) and
/// connection settings with paths resolved against the config directory.
package struct Resolver: Sendable {
    package let configuration: Configuration
    package let keyring: Keyring
    package let environment: [String: String]

    package init(_ configuration: Configuration, keyring: Keyring, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configuration = configuration
        self.keyring = keyring
        self.environment = environment
    }

    /// The plaintext of a secret reference.
    package func plaintext(_ secret: SecretReference) throws -> String {
        switch secret {
        case .encrypted(let value):
            do {
                return try SecretValue.decrypt(
                    value.value, with: keyring, scope: SecretScope.of(file: value.location.file),
                    candidates: configuration.organizations.map { .organization($0.slug.value) })
            } catch {
                throw ConfigError(
                    "\(value.location): cannot decrypt the value: \(error)",
                    hint: "load the key it was encrypted with (--key-file, BREAKOUT_KEY_FILE or BREAKOUT_MASTER_KEY)")
            }
        case .environment(let variable, let at):
            guard let v = environment[variable] else { throw ConfigError("\(at): environment variable \(variable) is not set") }
            return v
        }
    }

    /// A relative SQLite path resolved against the config directory.
    package func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || path == ":memory:" { return path }
        return URL(fileURLWithPath: configuration.directory).appendingPathComponent(path).standardizedFileURL.path
    }

    /// Settings for a URL plus an optional password reference (state store, CSWeb source).
    package func connectionConfig(url: String, password: SecretReference?) throws -> ConnectionConfig {
        var config = try ConnectionConfig.parse(url: url)
        if config.engine.isEmbedded { config.database = resolve(config.database) }
        if let password { config.password = try plaintext(password) }
        return config
    }

    /// Settings for an organization's connection: an SQLite file and TLS files inside the
    /// organization's data folder, options checked against the allow-list.
    package func connectionConfig(_ connection: Connection, of organization: String) throws -> ConnectionConfig {
        ConnectionConfig(
            engine: connection.engine, host: connection.host, port: connection.port,
            database: connection.engine.isEmbedded ? try organizationPath(organization, connection.database) : connection.database,
            user: connection.username, password: try connection.password.map(plaintext),
            options: try organizationOptions(organization, engine: connection.engine, connection.options))
    }

    /// The organization with this slug, or an error listing the ones that exist.
    package func organization(_ slug: String) throws -> Organization {
        guard let org = configuration.organizations.first(where: { $0.slug.value == slug }) else {
            let known = configuration.organizations.map(\.slug.value).sorted()
            throw ConfigError(
                "no organization \"\(slug)\" in \(configuration.directory)/organizations",
                hint: known.isEmpty ? "add organizations/\(slug).yaml" : "known organizations: \(known.joined(separator: ", "))")
        }
        return org
    }

    /// The named connection of an organization, or its default one.
    package func connection(of org: Organization, named name: String?) throws -> Connection {
        if let name {
            guard let c = org.connections.first(where: { $0.name.value == name }) else {
                throw ConfigError(
                    "organization \(org.slug.value) has no connection \"\(name)\"",
                    hint: "its connections: \(org.connections.map(\.name.value).joined(separator: ", "))")
            }
            return c
        }
        guard let c = org.defaultConnection else {
            throw ConfigError(
                "organization \(org.slug.value) has no default connection",
                hint: "pass --connection NAME or mark one connection \"default: true\"")
        }
        return c
    }
}

/// A configuration problem found when using it (not when validating it).
package struct ConfigError: UserFacingError, Sendable {
    package var message: String
    package var hint: String?
    package init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    package var description: String { message }
}
