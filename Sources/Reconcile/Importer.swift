import Config
import DatabaseDriver
import Foundation
import SQL
import Secrets
import State

/// `breakout import`: YAML for rows apply does not manage (hand-made or made by the PHP UI) and
/// for CSWeb's legacy per-dictionary breakout settings, so that a following apply adopts them.
package struct Importer {
    package let reconciler: Reconciler
    /// The key new `enc:v1` values are written with (the master key).
    let masterKey: MasterKey

    package init(reconciler: Reconciler, masterKey: MasterKey) {
        self.reconciler = reconciler
        self.masterKey = masterKey
    }

    package struct Output {
        /// Relative path (`organizations/ansd.yaml`) → file text.
        package var files: [String: String] = [:]
        package var warnings: [String] = []
        package var rows = 0
    }

    // MARK: YAML

    static func q(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += String(format: "\\x%02X", ch.value) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }

    static func list(_ items: [String]) -> String { "[" + items.map(q).joined(separator: ", ") + "]" }

    static func slug(_ s: String) -> String {
        var out = ""
        for ch in s.lowercased().folding(options: .diacriticInsensitive, locale: nil) {
            if ch.isASCII && (ch.isLetter || ch.isNumber) { out.append(ch) } else if out.last != "-" && !out.isEmpty { out.append("-") }
        }
        while out.last == "-" { out.removeLast() }
        return String(out.prefix(63)).isEmpty ? "imported" : String(out.prefix(63))
    }

    struct ConnectionYAML {
        var name: String
        var engine: String
        var host: String?
        var port: Int64?
        var database: String?
        var username: String?
        var password: String?
        var passwordComment: String?
        var isDefault: Bool
        var isActive: Bool
        var options: [String: String]
    }

    struct JobYAML {
        var name: String
        var type: String
        var schedule: String
        var timeZone: String?
        var connection: String?
        var dictionaries: [String]
        var threads: Int?
        var maxCasesPerChunk: Int?
        var active: Bool
        var settings: JobSettings
        var comment: String?
    }

    static func organizationFile(
        slug: String, name: String, dictionaries: [String], connections: [ConnectionYAML], jobs: [JobYAML], header: String
    ) -> String {
        var y = "# yaml-language-server: $schema=../../schemas/organization.schema.json\n# \(header)\n"
        y += "organization: \(slug)\nname: \(q(name))\ndictionaries: \(list(dictionaries))\n"
        y += connections.isEmpty ? "connections: []\n" : "connections:\n"
        for c in connections {
            y += "  - name: \(q(c.name))\n    type: \(c.engine)\n"
            if let host = c.host { y += "    host: \(q(host))\n" }
            if let port = c.port { y += "    port: \(port)\n" }
            y += "    database: \(q(c.database ?? ""))\n"
            if let user = c.username { y += "    username: \(q(user))\n" }
            if let comment = c.passwordComment { y += "    # \(comment)\n" }
            if let pw = c.password { y += "    password: \(q(pw))\n" }
            if c.isDefault { y += "    default: true\n" }
            if !c.isActive { y += "    active: false\n" }
            var options = c.options
            if let naming = options.removeValue(forKey: "naming") { y += "    naming: \(naming)\n" }
            if let language = options.removeValue(forKey: "labels_language") { y += "    labels_language: \(q(language))\n" }
            if let specials = options.removeValue(forKey: "specials") { y += "    specials: \(q(specials))\n" }
            if !options.isEmpty {
                y +=
                    "    options: {" + options.sorted { $0.key < $1.key }.map { "\($0.key): \(q($0.value))" }.joined(separator: ", ")
                    + "}\n"
            }
        }
        if !jobs.isEmpty { y += "jobs:\n" }
        for j in jobs {
            if let comment = j.comment { y += "  # \(comment)\n" }
            y += "  - name: \(q(j.name))\n    type: \(j.type)\n    schedule: \(q(j.schedule))\n"
            if let tz = j.timeZone { y += "    time_zone: \(q(tz))\n" }
            if let c = j.connection { y += "    connection: \(q(c))\n" }
            y += "    dictionaries: \(list(j.dictionaries))\n"
            if let t = j.threads { y += "    threads: \(t)\n" }
            if let m = j.maxCasesPerChunk { y += "    max_cases_per_chunk: \(m)\n" }
            y += "    active: \(j.active)\n"
            let s = j.settings
            if let timeout = s.timeout { y += "    timeout: \(timeout)s\n" }
            if s.retries != 0 { y += "    retries: \(s.retries)\n" }
            if s.startingDeadline != JobSettings.defaultStartingDeadline { y += "    starting_deadline: \(s.startingDeadline)s\n" }
            if !s.include.isEmpty { y += "    include: \(list(s.include))\n" }
            if !s.exclude.isEmpty { y += "    exclude: \(list(s.exclude))\n" }
            if let output = s.output { y += "    output: \(q(output))\n" }
            if s.formats != ["csv"] { y += "    formats: \(list(s.formats))\n" }
            if s.includeDeleted { y += "    include_deleted: true\n" }
            if let alerts = s.alerts {
                var parts: [String] = []
                if let w = alerts.webhook { parts.append("webhook: \(q(w))") }
                // A command is not imported: organization files run no program (docs/security.md).
                if alerts.command != nil {
                    y += "    # alerts.command of this row was not imported: organization files hold no commands (docs/security.md)\n"
                }
                if alerts.onRecovery { parts.append("on_recovery: true") }
                if alerts.onFailedCases { parts.append("on_failed_cases: true") }
                if alerts.webhook != nil { y += "    alerts: {\(parts.joined(separator: ", "))}\n" }
            }
        }
        return y
    }

    func reencrypt(_ stored: String?, what: String, organization: String, slug: String, _ out: inout Output) -> (String?, String?) {
        guard let stored, !stored.isEmpty else { return (nil, nil) }
        if let plain = reconciler.decrypt(stored, organization: organization) {
            do {
                return (try SecretValue.encrypt(plain, with: masterKey, scope: .organization(slug)), nil)
            } catch {
                out.warnings.append("\(what): the password could not be encrypted again (\(error)); the YAML asks for it")
                return (
                    nil,
                    "the stored password could not be encrypted again: set it here (enc:v2 value from `breakout secrets encrypt --org ORG`)"
                )
            }
        }
        out.warnings.append(
            "\(what): the stored password cannot be decrypted with the loaded keys; the YAML asks for it from the environment")
        return (
            nil,
            "stored password could not be decrypted with the loaded keys: set it here (enc:v2 value from `breakout secrets encrypt --org ORG`)"
        )
    }

    // MARK: Unmanaged rows

    /// One file per organization that has unmanaged rows, holding the whole organization (its managed
    /// rows too), values exactly as stored, passwords re-encrypted with the master key.
    package func unmanaged() throws -> Output {
        var out = Output()
        let snapshot = try reconciler.store.snapshot()
        let defaults = reconciler.configuration.settings.defaults
        for org in snapshot.organizations {
            let conns = snapshot.connections.filter { $0.organizationID == org.id }
            let jobs = snapshot.jobs.filter { $0.organizationID == org.id }
            let handMade =
                (org.managedBy == nil ? 1 : 0) + conns.filter { $0.managedBy == nil }.count + jobs.filter { $0.managedBy == nil }.count
            guard handMade > 0 else { continue }
            out.rows += handMade
            let slug = Self.slug(org.name)
            if slug != org.name {
                out.warnings.append(
                    "organization \"\(org.name)\" is not a valid slug; written as \(slug), which apply will treat as a new organization")
            }
            var connectionYAML: [ConnectionYAML] = []
            for c in conns {
                let (password, comment) = reencrypt(
                    c.passwordEncrypted, what: "connection \(org.name)/\(c.name)", organization: org.name, slug: slug, &out)
                let engine = DatabaseEngine(name: c.dbType)
                connectionYAML.append(
                    ConnectionYAML(
                        name: c.name, engine: engine?.rawValue ?? c.dbType, host: c.host,
                        port: c.port ?? engine?.defaultPort.map(Int64.init), database: c.database, username: c.username,
                        password: password
                            ?? (comment != nil
                                ? "${env:BREAKOUT_IMPORT_\(Self.slug(org.name + "_" + c.name).uppercased().replacingOccurrences(of: "-", with: "_"))}"
                                : nil),
                        passwordComment: comment, isDefault: c.isDefault, isActive: c.isActive, options: StoredValue.strings(c.options)))
            }
            let names = Dictionary(conns.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            var jobYAML: [JobYAML] = []
            for j in jobs {
                let parsed = j.command.flatMap(JobCommand.parse)
                var comment: String?
                if j.command != nil, parsed == nil {
                    out.warnings.append(
                        "job \(org.name)/\(j.name): its command \"\(j.command!)\" is not a process-cases line; imported as a breakout of every dictionary"
                    )
                    comment = "command was: \(j.command!)"
                }
                let settings = j.jobSettings
                jobYAML.append(
                    JobYAML(
                        name: j.name, type: j.jobType, schedule: j.cronExpression,
                        timeZone: j.timeZone.flatMap { $0 == defaults.timeZone ? nil : $0 },
                        connection: j.connectionID.flatMap { names[$0] } ?? parsed?.connection,
                        dictionaries: j.dictionaries.map(StoredValue.list) ?? parsed?.dictionaries ?? [],
                        threads: (j.threads.map(Int.init) ?? parsed?.threads).flatMap { $0 == defaults.threads ? nil : $0 },
                        maxCasesPerChunk: (j.maxCasesPerChunk.map(Int.init) ?? parsed?.maxCasesPerChunk).flatMap {
                            $0 == defaults.maxCasesPerChunk ? nil : $0
                        },
                        active: j.isActive, settings: settings, comment: comment))
            }
            out.files["organizations/\(slug).yaml"] = Self.organizationFile(
                slug: slug, name: org.displayName ?? org.name, dictionaries: StoredValue.list(org.dictionaries),
                connections: connectionYAML,
                jobs: jobYAML,
                header:
                    "Imported by `breakout import` from the control tables (\(handMade) unmanaged row(s)); review, commit, then `breakout apply` adopts them."
            )
        }
        return out
    }

    // MARK: CSWeb's legacy settings

    /// CSWeb's `cspro_dictionaries_schema` (one MySQL target per dictionary, password stored with
    /// MySQL's `AES_ENCRYPT(pw, 'cspro')`) as one organization: a connection and a job per dictionary,
    /// `processCasesOptions` as include/exclude. The jobs are written inactive: CSWeb had no schedule.
    package func legacy(from csweb: any DatabaseConnection, organization slug: String) throws -> Output {
        var out = Output()
        guard csweb.engine == .mysql else {
            throw StateError("CSWeb's legacy settings are read from its MySQL database; the source is \(csweb.engine.rawValue)")
        }
        let rows: [Row]
        do {
            rows = try csweb.query(
                """
                SELECT d.dictionary_name, s.host_name, s.schema_name, s.schema_user_name,
                       CAST(AES_DECRYPT(s.schema_password, 'cspro') AS CHAR) AS pw, s.additional_config
                FROM cspro_dictionaries_schema s JOIN cspro_dictionaries d ON d.id = s.dictionary_id ORDER BY d.dictionary_name
                """)
        } catch let error as DatabaseError where error.kind == .statement {
            throw StateError("CSWeb's database has no cspro_dictionaries_schema table: \(error.message)")
        }
        guard !rows.isEmpty else { return out }
        var connections: [ConnectionYAML] = []
        var jobs: [JobYAML] = []
        var dictionaries: [String] = []
        for row in rows {
            let dictionary = row["dictionary_name"]?.string ?? ""
            dictionaries.append(dictionary)
            let hostPort = (row["host_name"]?.string ?? "localhost").split(separator: ":", maxSplits: 1).map(String.init)
            var password: String?
            var comment: String?
            if let plain = row["pw"]?.string {
                password = try SecretValue.encrypt(plain, with: masterKey, scope: .organization(slug))
            } else {
                comment = "AES_DECRYPT(schema_password, 'cspro') gave NULL: set the password here"
                out.warnings.append("dictionary \(dictionary): its legacy password could not be decrypted")
            }
            let connectionName = Self.slug(dictionary) + "-mysql"
            connections.append(
                ConnectionYAML(
                    name: connectionName, engine: "mysql", host: hostPort[0], port: hostPort.count > 1 ? Int64(hostPort[1]) : 3306,
                    database: row["schema_name"]?.string, username: row["schema_user_name"]?.string,
                    password: password ?? "${env:BREAKOUT_IMPORT_\(dictionary.uppercased())_PASSWORD}", passwordComment: comment,
                    isDefault: connections.isEmpty, isActive: true, options: [:]))
            var settings = JobSettings()
            // CSWeb's additional_config is free-form JSON: anything else than its documented
            // processCasesOptions reads as no options.
            if let config = row["additional_config"]?.string, let data = config.data(using: .utf8),
                // CSWeb's settings column is free text: one that is not a JSON object is reported as not imported.
                let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let options = o["processCasesOptions"] as? [String: Any]
            {
                settings.include = (options["include"] as? [Any])?.map { "\($0)" } ?? []
                settings.exclude = (options["exclude"] as? [Any])?.map { "\($0)" } ?? []
            }
            jobs.append(
                JobYAML(
                    name: "breakout-" + Self.slug(dictionary), type: "breakout", schedule: "@hourly", timeZone: nil,
                    connection: connectionName,
                    dictionaries: [dictionary], threads: nil, maxCasesPerChunk: nil, active: false, settings: settings,
                    comment: "from cspro_dictionaries_schema; CSWeb had no schedule: set one, then active: true"))
            out.rows += 1
        }
        out.files["organizations/\(slug).yaml"] = Self.organizationFile(
            slug: slug, name: "CSWeb breakout settings", dictionaries: dictionaries, connections: connections, jobs: jobs,
            header:
                "Imported by `breakout import` from CSWeb's cspro_dictionaries_schema (legacy dataSettings); passwords re-encrypted with the master key."
        )
        return out
    }
}
