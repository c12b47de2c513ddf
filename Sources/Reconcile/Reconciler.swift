import Config
import DatabaseDriver
import Foundation
import SQL
import Secrets
import State

/// Compares the configuration with the control tables (plan) and makes them equal (apply).
package final class Reconciler {
    package static let managedBy = "breakout"

    package let configuration: Configuration
    package let resolver: Resolver
    package let store: StateStore
    /// The key passwords are written with in `mt_database_connections` (`state.key_file`, else the master key).
    let stateKeys: Keyring
    let format: PasswordFormat

    package init(configuration: Configuration, resolver: Resolver, store: StateStore, stateKeys: Keyring) {
        self.configuration = configuration
        self.resolver = resolver
        self.store = store
        self.stateKeys = stateKeys
        format = configuration.settings.state.passwordFormat
    }

    // MARK: Desired and current, as comparable fields

    /// One managed object as a list of (column, display value) plus what apply needs to write it.
    struct Resource {
        var kind: Plan.Kind
        var organization: String
        var name: String
        var fields: [(String, String?)]
        /// Plaintext password (connections), compared by value.
        var password: String?
        /// `organizations/ansd.yaml:12` for a resource of the configuration.
        var location: String?
    }

    static func jsonList(_ items: [String]) -> String {
        "["
            + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "]"
    }

    static func jsonObject(_ map: [String: String]) -> String {
        // The map holds strings only; serialisation cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: map, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A job's settings as `apply` stores them (the typed value owns the JSON and the defaults).
    func jobSettings(_ j: Job) -> String {
        var settings = JobSettings(
            timeout: j.timeout, retries: j.retries, startingDeadline: j.startingDeadline, include: j.include, exclude: j.exclude,
            output: j.output,
            alerts: j.alerts.map {
                JobSettings.Alerts(webhook: $0.webhook, command: $0.command, onRecovery: $0.onRecovery, onFailedCases: $0.onFailedCases)
            }
        )
        settings.formats = j.formats
        settings.includeDeleted = j.includeDeleted
        return settings.stored
    }

    var defaultSettings: String { JobSettings().stored }

    func desired() throws -> [Resource] {
        var out: [Resource] = []
        for org in configuration.organizations {
            let slug = org.slug.value
            out.append(
                Resource(
                    kind: .organization, organization: slug, name: slug,
                    fields: [
                        ("display_name", org.name), ("dictionaries", Self.jsonList(org.dictionaries.map(\.value))), ("is_active", "1"),
                    ], location: Self.line(org.slug.location)))
            for c in org.connections {
                var options = c.options
                if c.naming == .sql { options["naming"] = "sql" }
                if let language = c.labelsLanguage { options["labels_language"] = language }
                if c.specials != .null { options["specials"] = c.specials.rawValue }
                out.append(
                    Resource(
                        kind: .connection, organization: slug, name: c.name.value,
                        fields: [
                            ("db_type", c.engine.pdoName), ("host", c.host), ("port", c.port.map(String.init)),
                            ("database_name", c.database),
                            ("username", c.username), ("is_default", c.isDefault ? "1" : "0"),
                            ("is_active", c.isActive ? "1" : "0"), ("connection_options", Self.jsonObject(options)),
                        ], password: try c.password.map { try resolver.plaintext($0) }, location: Self.line(c.name.location)))
            }
            for j in org.jobs {
                let command = JobCommand(
                    organization: slug, connection: j.connection, threads: j.threads, maxCasesPerChunk: j.maxCasesPerChunk,
                    dictionaries: j.dictionaries)
                out.append(
                    Resource(
                        kind: .job, organization: slug, name: j.name.value,
                        fields: [
                            ("job_type", j.kind.rawValue), ("command", command.line), ("cron_expression", j.schedule.source),
                            ("time_zone", j.timeZone),
                            ("connection", j.connection), ("dictionaries", Self.jsonList(j.dictionaries)), ("threads", String(j.threads)),
                            ("max_cases_per_chunk", String(j.maxCasesPerChunk)),
                            ("settings", jobSettings(j)),
                            ("is_active", j.isActive ? "1" : "0"),
                        ], location: Self.line(j.name.location)))
            }
        }
        return out
    }

    /// `organizations/ansd.yaml:12`: the file and line a reviewer opens.
    static func line(_ l: SourceLocation) -> String { "\(l.file):\(l.line)" }

    /// The rows as resources, with the empty columns of hand-made rows read the way the runner
    /// reads them (defaults, the organization's default connection, the command line's options),
    /// so that adopting a row that already does what the YAML says changes nothing.
    struct Current {
        var resource: Resource
        var id: Int64
        var managed: Bool
        var passwordEncrypted: String?
        var organizationID: Int64
    }

    func current(_ snapshot: StateSnapshot) -> [Current] {
        let defaults = configuration.settings.defaults
        var out: [Current] = []
        let orgName = Dictionary(snapshot.organizations.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for o in snapshot.organizations {
            out.append(
                Current(
                    resource: Resource(
                        kind: .organization, organization: o.name, name: o.name,
                        fields: [
                            ("display_name", o.displayName ?? o.name), ("dictionaries", Self.jsonList(StoredValue.list(o.dictionaries))),
                            ("is_active", o.isActive ? "1" : "0"),
                        ]), id: o.id, managed: o.managedBy != nil, organizationID: o.id))
        }
        var connectionName: [Int64: String] = [:]
        var defaultConnection: [Int64: String] = [:]
        for c in snapshot.connections {
            connectionName[c.id] = c.name
            if c.isDefault || snapshot.connections.filter({ $0.organizationID == c.organizationID }).count == 1 {
                defaultConnection[c.organizationID] = c.name
            }
            let engine = DatabaseEngine(name: c.dbType)
            let port = c.port ?? engine?.defaultPort.map(Int64.init)
            out.append(
                Current(
                    resource: Resource(
                        kind: .connection, organization: orgName[c.organizationID] ?? "#\(c.organizationID)", name: c.name,
                        fields: [
                            ("db_type", engine?.pdoName ?? c.dbType), ("host", c.host), ("port", port.map { String($0) }),
                            ("database_name", c.database),
                            ("username", c.username), ("is_default", c.isDefault ? "1" : "0"), ("is_active", c.isActive ? "1" : "0"),
                            ("connection_options", Self.jsonObject(StoredValue.strings(c.options))),
                        ], password: decrypt(c.passwordEncrypted, organization: orgName[c.organizationID] ?? "")), id: c.id,
                    managed: c.managedBy != nil, passwordEncrypted: c.passwordEncrypted,
                    organizationID: c.organizationID))
        }
        for j in snapshot.jobs {
            let parsed = j.command.flatMap(JobCommand.parse)
            let org = orgName[j.organizationID] ?? "#\(j.organizationID)"
            let dictionaries = j.dictionaries.map(StoredValue.list) ?? parsed?.dictionaries ?? []
            let connection = j.connectionID.flatMap { connectionName[$0] } ?? parsed?.connection ?? defaultConnection[j.organizationID]
            let threads = j.threads.map(Int.init) ?? parsed?.threads ?? defaults.threads
            let chunk = j.maxCasesPerChunk.map(Int.init) ?? parsed?.maxCasesPerChunk ?? defaults.maxCasesPerChunk
            let command = JobCommand(
                organization: org, connection: connection, threads: threads, maxCasesPerChunk: chunk, dictionaries: dictionaries)
            out.append(
                Current(
                    resource: Resource(
                        kind: .job, organization: org, name: j.name,
                        fields: [
                            ("job_type", j.jobType), ("command", parsed == nil ? j.command : command.line),
                            ("cron_expression", j.cronExpression),
                            ("time_zone", j.timeZone ?? defaults.timeZone), ("connection", connection),
                            ("dictionaries", Self.jsonList(dictionaries)),
                            ("threads", String(threads)), ("max_cases_per_chunk", String(chunk)),
                            (
                                "settings",
                                j.settings.map {
                                    Self.jsonObject(StoredValue.strings($0)) == "{}" ? defaultSettings : normalizedSettings($0)
                                } ?? defaultSettings
                            ),
                            ("is_active", j.isActive ? "1" : "0"),
                        ]), id: j.id, managed: j.managedBy != nil, organizationID: j.organizationID))
        }
        return out
    }

    func normalizedSettings(_ text: String) -> String {
        // A hand-written value that is not a JSON object is compared as text.
        guard let data = text.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let back = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
        else { return text }
        return String(decoding: back, as: UTF8.self)
    }

    /// A stored password's plaintext, or nil when no loaded key opens it.
    func decrypt(_ stored: String?, organization: String) -> String? {
        guard let stored, !stored.isEmpty else { return nil }
        // A stored password that does not decrypt with the loaded keys counts as different, so the plan shows it
        // rewritten.
        return try? StoredSecret.decrypt(stored, with: stateKeys, organization: organization)
    }

    /// Whether the stored password is already in the configured format under the state key.
    func storedInCurrentForm(_ stored: String?) -> Bool {
        guard let stored, let key = stateKeys.primary else { return false }
        switch format {
        // An enc:v1 value (not bound to its organization) is rewritten as enc:v2 by the next apply.
        case .encV1: return (try? SecretValue.kid(of: stored)) == key.kid && !SecretValue.isLegacy(stored)
        // Not decryptable with this key: not in the current form, so apply rewrites it.
        case .phpOpenSSL: return !SecretValue.isEncrypted(stored) && (try? PHPOpenSSLValue.decrypt(stored, with: Keyring([key]))) != nil
        }
    }

    // MARK: Plan

    package func configDigest() -> String {
        var h = FNV()
        let dir = URL(fileURLWithPath: configuration.directory)
        var files = ["breakout.yaml"]
        // The digest only labels the apply log; validate has already reported an unlistable folder.
        let orgs = (try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("organizations").path)) ?? []
        files += orgs.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "organizations/\($0)" }
        for f in files {
            h.add(Array(f.utf8))
            // As above: the files were read by validate a moment ago; the digest labels the apply log.
            h.add(Array((try? Data(contentsOf: dir.appendingPathComponent(f))) ?? Data()))
        }
        return h.hex
    }

    package func plan() throws -> Plan {
        try store.checkVersion()
        let snapshot = try store.snapshot()
        let migrated = try store.version() >= 2
        return try plan(snapshot, history: migrated ? try store.jobsWithHistory() : [], running: migrated ? try store.runningJobs() : [:])
    }

    func plan(_ snapshot: StateSnapshot, history: Set<Int64>, running: [Int64: String] = [:]) throws -> Plan {
        let want = try desired()
        let have = current(snapshot)
        func key(_ r: Resource) -> String { "\(r.kind.rawValue)\u{0}\(r.organization)\u{0}\(r.name)" }
        var haveByKey: [String: Current] = [:]
        for c in have where haveByKey[key(c.resource)] == nil { haveByKey[key(c.resource)] = c }
        var changes: [Plan.Change] = []
        var claimed = Set<String>()
        // `moved:` entries: the row under the old name is the new name's row (same id, history
        // and lease) when the new name has none yet.
        var movedFrom: [String: String] = [:]
        var movedWarnings: [Plan.Warning] = []
        for org in configuration.organizations {
            for m in org.moved {
                let kind: Plan.Kind = m.kind == .job ? .job : .connection
                let from = key(Resource(kind: kind, organization: org.slug.value, name: m.from, fields: []))
                let to = key(Resource(kind: kind, organization: org.slug.value, name: m.to, fields: []))
                switch (haveByKey[from], haveByKey[to]) {
                case (let old?, nil):
                    haveByKey[to] = old
                    haveByKey[from] = nil
                    claimed.insert(from)
                    movedFrom[to] = m.from
                case (.some, .some):
                    throw StateError(
                        "\(m.location): moved \(m.kind.rawValue)/\(m.from) to \(m.kind.rawValue)/\(m.to), but the control tables have both",
                        hint: "remove the entry (the two stay separate), or delete \(m.kind.rawValue) \(m.to) first")
                case (nil, _):
                    movedWarnings.append(
                        Plan.Warning(
                            .movedStale,
                            "\(m.kind.rawValue) \(m.from) has no row to move to \(m.to) (already applied?); the entry can be removed",
                            location: m.location.description, organization: org.slug.value))
                }
            }
        }
        for r in want {
            let k = key(r)
            guard let c = haveByKey[k] else {
                var fields = r.fields.map { Plan.FieldChange(field: $0.0, old: nil, new: $0.1, sensitive: false) }
                if r.kind == .connection, r.password != nil {
                    fields.append(.init(field: "password_encrypted", old: nil, new: nil, sensitive: true))
                }
                changes.append(
                    .init(
                        action: .create, kind: r.kind, organization: r.organization, name: r.name, fields: fields, destructive: false,
                        location: r.location))
                continue
            }
            claimed.insert(k)
            var fields: [Plan.FieldChange] = []
            let old = Dictionary(c.resource.fields.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            for (field, value) in r.fields where old[field] ?? nil != value {
                fields.append(.init(field: field, old: old[field] ?? nil, new: value, sensitive: false))
            }
            if r.kind == .connection {
                let same = r.password == c.resource.password && (r.password == nil || storedInCurrentForm(c.passwordEncrypted))
                if !same { fields.append(.init(field: "password_encrypted", old: nil, new: nil, sensitive: true)) }
            }
            if !c.managed || !fields.isEmpty || movedFrom[k] != nil {
                changes.append(
                    .init(
                        action: c.managed ? .update : .adopt, kind: r.kind, organization: r.organization, name: r.name, fields: fields,
                        destructive: false,
                        note: c.managed
                            ? movedFrom[k].map { _ in "row \(c.id) keeps its id, run history and lease" }
                            : "hand-made row \(c.id) becomes managed",
                        location: r.location, movedFrom: movedFrom[k]))
            }
        }
        var unmanaged: [Plan.UnmanagedRow] = []
        for c in have where !claimed.contains(key(c.resource)) {
            if c.managed {
                var destructive = false
                var note: String?
                if c.resource.kind == .organization {
                    let jobs = snapshot.jobs.filter { $0.organizationID == c.id }
                    if jobs.contains(where: { history.contains($0.id) }) {
                        destructive = true
                        note = "its jobs have run history"
                    }
                    let handMade =
                        snapshot.jobs.filter { $0.organizationID == c.id && $0.managedBy == nil }.count
                        + snapshot.connections.filter { $0.organizationID == c.id && $0.managedBy == nil }.count
                    if handMade > 0 {
                        note = (note.map { $0 + "; " } ?? "") + "\(handMade) unmanaged row(s) still belong to it: apply will refuse"
                    }
                    if let busy = jobs.first(where: { running[$0.id] != nil }) {
                        destructive = true
                        note = (note.map { $0 + "; " } ?? "") + "its job \(busy.name) is running now (runner \(running[busy.id]!))"
                    }
                } else if c.resource.kind == .job, let runner = running[c.id] {
                    // The run finishes (its process has what it needs) and its history stays
                    // readable with `breakout logs`; deleting it still needs --allow-destroy.
                    destructive = true
                    note = "it is running now (runner \(runner)); the run finishes and its history stays readable with `breakout logs`"
                }
                changes.append(
                    .init(
                        action: .delete, kind: c.resource.kind, organization: c.resource.organization, name: c.resource.name,
                        fields: c.resource.fields.map { .init(field: $0.0, old: $0.1, new: nil, sensitive: false) },
                        destructive: destructive, note: note))
            } else {
                unmanaged.append(
                    .init(
                        kind: c.resource.kind, id: c.id, organization: c.resource.organization, name: c.resource.name,
                        note: c.resource.kind == .job
                            ? "runs as `\(c.resource.fields.first { $0.0 == "command" }?.1 ?? "?")`" : "not in the configuration"))
            }
        }
        // Order: organizations, connections, jobs; deletes in reverse.
        func rank(_ c: Plan.Change) -> Int {
            let k = c.kind == .organization ? 0 : c.kind == .connection ? 1 : 2
            return c.action == .delete ? 10 - k : k
        }
        let orgOrder = Dictionary(configuration.organizations.enumerated().map { ($1.slug.value, $0) }, uniquingKeysWith: { a, _ in a })
        changes = changes.enumerated().sorted { a, b in
            let oa = orgOrder[a.element.organization] ?? Int.max, ob = orgOrder[b.element.organization] ?? Int.max
            if oa != ob { return oa < ob }
            if a.element.organization != b.element.organization { return a.element.organization < b.element.organization }
            return (rank(a.element), a.offset) < (rank(b.element), b.offset)
        }.map(\.element)
        var warnings: [Plan.Warning] =
            configuration.warnings.map { d in
                Plan.Warning(Plan.Warning.Code(rawValue: d.code ?? "") ?? .configuration, d.message, location: d.location.description)
            } + movedWarnings
        if format == .phpOpenSSL, changes.contains(where: { $0.fields.contains { $0.field == "password_encrypted" } }) {
            warnings.append(
                Plan.Warning(
                    .unauthenticatedPasswordFormat,
                    "state.password_format is php-openssl: passwords are written without an integrity check, in the layout the guide's PHP UI reads",
                    location: configuration.settings.state.url.location.description))
        }
        return Plan(stateDigest: snapshot.digest, configDigest: configDigest(), changes: changes, unmanaged: unmanaged, warnings: warnings)
    }
}

struct FNV {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ bytes: [UInt8]) {
        for b in bytes + [0] {
            value ^= UInt64(b)
            value = value &* 0x100_0000_01b3
        }
    }
    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
