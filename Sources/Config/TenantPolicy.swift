import Foundation
import SQL

/// What an organization may declare about its connections and files (docs/security.md). One
/// place, used by `validate` for organization files and by the runner for the rows it reads (which
/// may have been written by hand), so both refuse the same things.
package enum TenantPolicy {
    /// Driver options an organization may set, per engine. Nothing here names a credential or a
    /// file outside the organization's data folder (TLS files are paths inside it).
    package static func allowedOptions(_ engine: DatabaseEngine) -> [String] {
        switch engine {
        case .postgresql:
            [
                "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout", "application_name",
                "target_session_attrs", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            ]
        case .mysql: ["ssl_ca", "ssl_cert", "ssl_key", "connect_timeout", "local_infile"]
        case .sqlserver: ["connect_timeout"]
        case .sqlite: []
        }
    }

    /// Options whose value is a file: resolved inside the organization's data folder.
    package static let fileOptions: Set<String> = ["sslrootcert", "sslcert", "sslkey", "sslcrl", "ssl_ca", "ssl_cert", "ssl_key"]

    /// Why an option may not be set by an organization, or nil when it may.
    package static func optionProblem(_ key: String, engine: DatabaseEngine) -> String? {
        let allowed = allowedOptions(engine)
        if allowed.contains(key) { return nil }
        let credential = ["password", "passfile", "service", "servicefile", "user", "krbsrvname", "gsslib", "pwd", "uid"].contains(
            key.lowercased())
        return "option \"\(key)\" is not allowed for \(engine.rawValue) connections"
            + (credential ? " (options never carry credentials: use \"password\" with an enc:v2 value or ${env:VAR})" : "")
            + "; allowed: " + (allowed.isEmpty ? "none" : allowed.joined(separator: ", "))
    }

    /// Why a path written by an organization (an SQLite database, an export folder, a TLS file) may
    /// not be used, or nil: it must be relative, inside the organization's data folder, with no `..`.
    package static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path == ":memory:" { return nil }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "is absolute; paths in an organization file are relative to the organization's data folder (data_root/<organization>/)"
        }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            return "contains \"..\"; paths in an organization file stay inside the organization's data folder (data_root/<organization>/)"
        }
        if path.contains("\0") { return "contains a NUL character" }
        return nil
    }

    /// Whether `host` is one of the operator's `tenant_hosts` (exact, case-insensitive, or `*.domain`).
    package static func hostAllowed(_ host: String?, _ allowed: [String]?) -> Bool {
        guard let allowed else { return true }
        let h = (host ?? "localhost").lowercased()
        return allowed.contains { pattern in
            let p = pattern.lowercased()
            return p.hasPrefix("*.") ? h.hasSuffix(p.dropFirst(1)) && h.count > p.count - 1 : h == p
        }
    }

    /// A server destination's identity: two organizations may not both declare it.
    package static func destinationKey(engine: DatabaseEngine, host: String?, port: Int?, database: String) -> String? {
        guard !engine.isEmbedded else { return nil }
        let h = (host ?? "localhost").lowercased()
        let normalizedHost = ["localhost", "127.0.0.1", "::1", "[::1]"].contains(h) ? "loopback" : h
        let db = engine == .postgresql ? database : database.lowercased()
        return "\(engine.rawValue)://\(normalizedHost):\(port ?? engine.defaultPort ?? 0)/\(db)"
    }
}

extension Resolver {
    /// The operator's data root (`data_root` in breakout.yaml), absolute.
    package var dataRoot: String? { configuration.settings.dataRoot.map { resolve($0.value) } }

    /// The folder an organization's SQLite files and exports live in: `data_root/<organization>`.
    package func organizationFolder(_ organization: String) throws -> String {
        guard let root = dataRoot else {
            throw ConfigError(
                "breakout.yaml sets no data_root, so organization \(organization) has nowhere to keep SQLite files and exports",
                hint: "set data_root in breakout.yaml (for example data_root: /var/lib/breakout); docs/security.md")
        }
        guard TenantPolicy.pathProblem(organization) == nil, !organization.contains("/") else {
            throw ConfigError("organization name \(organization) cannot name a folder")
        }
        return URL(fileURLWithPath: root).appendingPathComponent(organization).standardizedFileURL.path
    }

    /// A path an organization wrote (its SQLite database, export folder or TLS file), inside its
    /// data folder. Refused when it escapes the folder, by `..`, an absolute path, or a symbolic
    /// link below the folder.
    package func organizationPath(_ organization: String, _ path: String) throws -> String {
        if path == ":memory:" { return path }
        if let problem = TenantPolicy.pathProblem(path) {
            throw ConfigError(
                "organization \(organization): the path \"\(path)\" \(problem); the run is refused",
                hint: "write a relative path such as data/\((path as NSString).lastPathComponent)")
        }
        let folder = try organizationFolder(organization)
        let full = URL(fileURLWithPath: folder).appendingPathComponent(path).standardizedFileURL.path
        guard full.hasPrefix(folder + "/") else {
            throw ConfigError(
                "organization \(organization): the path \"\(path)\" leads outside its data folder \(folder); the run is refused")
        }
        // No symbolic link below the organization's folder, dangling or not: one could lead into
        // another organization's folder or to the state store. (The folder itself and the data
        // root may be links the operator made.)
        var current = folder
        for component in full.dropFirst(folder.count + 1).split(separator: "/") {
            current += "/" + component
            // A path component that does not exist yet is not a symbolic link; missing ones are created later inside
            // the folder.
            let type = (try? FileManager.default.attributesOfItem(atPath: current))?[.type] as? FileAttributeType
            if type == .typeSymbolicLink {
                throw ConfigError(
                    "organization \(organization): the path \"\(path)\" passes through the symbolic link \(current); the run is refused",
                    hint: "remove the link; an organization's files stay in \(folder)")
            }
        }
        return full
    }

    /// An organization's driver options checked against the allow-list, file options resolved
    /// inside its data folder.
    package func organizationOptions(_ organization: String, engine: DatabaseEngine, _ options: [String: String]) throws -> [String: String]
    {
        var out: [String: String] = [:]
        for (key, value) in options {
            if let problem = TenantPolicy.optionProblem(key, engine: engine) {
                throw ConfigError("organization \(organization): \(problem); the run is refused")
            }
            out[key] = TenantPolicy.fileOptions.contains(key) ? try organizationPath(organization, value) : value
        }
        return out
    }
}
