import Cron
import DatabaseDriver
import Foundation
import SQL
import Secrets
import Yams

/// Reads and validates a config directory. Every problem is reported (not only the first), each
/// with the file, line and column of the offending value; nothing is returned when any is an error.
package struct ConfigLoader {
    package let directory: String
    package let keyring: Keyring
    package let environment: [String: String]

    static let settingsKeys = ["version", "state", "source", "defaults", "serve", "alerts", "data_root", "tenant_hosts"]
    static let stateKeys = ["url", "password", "key_file", "password_format"]
    static let sourceKeys = ["type", "url", "password", "path", "dictionary"]
    static let defaultsKeys = ["threads", "max_cases_per_chunk", "time_zone"]
    static let organizationKeys = ["organization", "name", "dictionaries", "connections", "jobs", "alerts", "moved"]
    static let alertKeys = ["webhook", "command", "on_recovery", "on_failed_cases"]
    static let connectionKeys = [
        "name", "type", "host", "port", "database", "username", "password", "default", "active", "options", "naming",
        "labels_language", "specials",
    ]
    static let jobKeys = [
        "name", "type", "schedule", "time_zone", "connection", "dictionaries", "threads", "max_cases_per_chunk",
        "active", "timeout", "retries", "starting_deadline", "include", "exclude", "alerts", "output", "formats", "include_deleted",
    ]
    package static let threadsRange = 1...64
    /// The file formats an export job writes (`formats:`).
    package static let exportFormats = ["csv", "stata", "spss", "parquet"]
    package static let chunkRange = 1...100_000
    package static let retriesRange = 0...10

    package init(directory: String, keyring: Keyring, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.keyring = keyring
        self.environment = environment
    }

    /// The scopes a copied value may come from, to name its owner: every organization file's.
    var scopeCandidates: [SecretScope] {
        let folder = (directory as NSString).appendingPathComponent("organizations")
        // Only names a copied value's owner in a message; organizationFiles reports an unlistable folder.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { SecretScope.of(file: "organizations/" + $0) }
    }

    /// The result of a load: the configuration when there is no error, and every diagnostic, sorted.
    package struct Result: Sendable {
        package var configuration: Configuration?
        package var diagnostics: [Diagnostic]
        package var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    }

    package func load() -> Result {
        let sink = DiagnosticSink()
        let settings = loadSettings(sink)
        var organizations: [Organization] = []
        var foreign = Foreign()
        for (path, text) in organizationFiles(sink) {
            guard let file = YAMLFile.parse(path: path, text: text, sink: sink) else { continue }
            guard let root = file.root else {
                sink.error(SourceLocation(file: path, line: 1, column: 1), "the file is empty; it should declare one organization")
                continue
            }
            if let org = readOrganization(root, file: file, defaults: settings?.defaults ?? Defaults(), sink: sink, foreign: &foreign) {
                organizations.append(org)
            }
        }
        checkAcrossOrganizations(organizations, foreign: foreign, sink)
        checkFilesAndDestinations(organizations, settings: settings, sink)
        checkOverlappingJobs(organizations, sink)
        let diagnostics = sink.diagnostics.sorted()
        guard sink.errorCount == 0, let settings else { return Result(configuration: nil, diagnostics: diagnostics) }
        return Result(
            configuration: Configuration(
                directory: directory, settings: settings, organizations: organizations,
                warnings: diagnostics.filter { $0.severity == .warning }),
            diagnostics: diagnostics)
    }

    /// breakout.yaml alone, for the scheduling commands (which run what the control tables say):
    /// the configuration has no organizations, and an organization file's errors do not matter.
    package func loadSettingsOnly() -> Result {
        let sink = DiagnosticSink()
        let settings = loadSettings(sink)
        let diagnostics = sink.diagnostics.sorted()
        guard sink.errorCount == 0, let settings else { return Result(configuration: nil, diagnostics: diagnostics) }
        return Result(configuration: Configuration(directory: directory, settings: settings, organizations: []), diagnostics: diagnostics)
    }

    // MARK: Files

    /// The file's text, or nil when it is missing, unreadable or not UTF-8: each caller reports
    /// that at the file's line 1.
    func read(_ relative: String) -> String? {
        try? String(contentsOfFile: (directory as NSString).appendingPathComponent(relative), encoding: .utf8)
    }

    /// `organizations/*.yaml` (and `.yml`), sorted by name.
    func organizationFiles(_ sink: DiagnosticSink) -> [(String, String)] {
        let folder = (directory as NSString).appendingPathComponent("organizations")
        // No folder: no organizations. A folder that cannot be listed is an error, not "none".
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            sink.error(
                SourceLocation(file: "organizations", line: 1, column: 1),
                "cannot list the folder: \((error as NSError).localizedDescription); check its permissions")
            return []
        }
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().compactMap { name in
            let path = "organizations/\(name)"
            guard let text = read(path) else {
                sink.error(SourceLocation(file: path, line: 1, column: 1), "cannot read the file (not UTF-8 text?)")
                return nil
            }
            return (path, text)
        }
    }

    // MARK: breakout.yaml

    func loadSettings(_ sink: DiagnosticSink) -> Settings? {
        let path = "breakout.yaml"
        guard let text = read(path) else {
            sink.error(
                SourceLocation(file: path, line: 1, column: 1),
                "missing \(path) in \(directory); every config directory starts with one (see examples/quickstart)")
            return nil
        }
        guard let file = YAMLFile.parse(path: path, text: text, sink: sink) else { return nil }
        guard let root = file.root else {
            sink.error(SourceLocation(file: path, line: 1, column: 1), "\(path) is empty; it needs at least \"version: 1\" and \"state\"")
            return nil
        }
        guard let top = MappingReader(root, in: file, what: "breakout.yaml", allowedKeys: Self.settingsKeys, sink: sink) else { return nil }
        let version = top.int("version")
        if top.value("version") == nil {
            sink.error(top.location, "breakout.yaml is missing required key \"version\" (write \"version: 1\")")
        } else if let version, version.value != 1 {
            sink.error(version.location, "unsupported version \(version.value); this breakout reads version 1")
        }
        var defaults = Defaults()
        if let d = top.child("defaults", what: "defaults", allowedKeys: Self.defaultsKeys) {
            if let v = d.int("threads", range: Self.threadsRange) { defaults.threads = v.value }
            if let v = d.int("max_cases_per_chunk", range: Self.chunkRange) { defaults.maxCasesPerChunk = v.value }
            if let v = timeZone(d, "time_zone") { defaults.timeZone = v }
        }
        var state: StateSettings?
        if let s = top.child("state", what: "state", allowedKeys: Self.stateKeys, required: true) {
            let url = s.string("url", required: true)
            if let url { checkURL(url, what: "state", sink) }
            var format = PasswordFormat.encV1
            if let f = s.string("password_format") {
                if let parsed = PasswordFormat(rawValue: f.value) {
                    format = parsed
                } else {
                    sink.error(
                        f.location,
                        "state: \"password_format\" must be \(PasswordFormat.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")), got \"\(f.value)\""
                    )
                }
            }
            let password = secret(s, "password", what: "state password")
            if let url { state = StateSettings(url: url, password: password, keyFile: s.string("key_file"), passwordFormat: format) }
        }
        var source: SourceSettings?
        if let s = top.child("source", what: "source", allowedKeys: Self.sourceKeys) {
            let type = s.string("type", required: true)
            let kind = type.flatMap { t -> SourceSettings.Kind? in
                if let k = SourceSettings.Kind(rawValue: t.value) { return k }
                let hint =
                    suggestion(for: t.value, in: SourceSettings.Kind.allCases.map(\.rawValue)).map { "; did you mean \"\($0)\"?" } ?? ""
                sink.error(t.location, "source: unknown type \"\(t.value)\"; expected csweb, csdb or dat\(hint)")
                return nil
            }
            let url = s.string("url", required: kind == .csweb)
            if let url { checkURL(url, what: "source", sink) }
            let path = s.string("path", required: kind == .csdb || kind == .dat)
            let dictionary = s.string("dictionary", required: kind == .dat)
            let password = secret(s, "password", what: "source password")
            switch kind {
            case .csweb: if let url { source = .csweb(url: url, password: password) }
            case .csdb: if let path { source = .csdb(path: path) }
            case .dat: if let path, let dictionary { source = .dat(path: path, dictionary: dictionary) }
            case nil: break
            }
        }
        var serveToken: SecretReference?
        var allowedHosts: [String] = []
        if let s = top.child("serve", what: "serve", allowedKeys: ["token", "allowed_hosts"]) {
            serveToken = secret(s, "token", what: "dashboard token", minimumLength: Self.minimumServeTokenLength)
            for h in s.stringList("allowed_hosts") ?? [] {
                if h.value.isEmpty || h.value.contains("/") || h.value.contains(" ") || h.value.contains("*") {
                    sink.error(
                        h.location, "serve.allowed_hosts: \"\(h.value)\" is not a host name or an address (no scheme, path or wildcard)")
                } else {
                    allowedHosts.append(h.value)
                }
            }
        }
        // The operator's alerts (for every job): the only place a command may be named.
        let alerts = readAlerts(top, what: "breakout.yaml", commandAllowed: true)
        let dataRoot = top.string("data_root")
        if let dataRoot, dataRoot.value.isEmpty {
            sink.error(dataRoot.location, "data_root is empty; name a folder (for example /var/lib/breakout)")
        }
        let tenantHosts = top.stringList("tenant_hosts")
        for h in tenantHosts ?? [] where h.value.isEmpty || h.value.contains("/") || h.value.dropFirst().contains("*") {
            sink.error(h.location, "tenant_hosts: \"\(h.value)\" is not a host name, an address or *.domain")
        }
        guard let state else { return nil }
        return Settings(
            version: version?.value ?? 1, state: state, source: source, defaults: defaults, serveToken: serveToken, alerts: alerts,
            dataRoot: dataRoot, tenantHosts: tenantHosts?.map(\.value), serveAllowedHosts: allowedHosts)
    }

    /// The shortest `serve.token` accepted: it is all that stands between a network and Run now.
    package static let minimumServeTokenLength = 32

    func checkURL(_ url: Located<String>, what: String, _ sink: DiagnosticSink) {
        do {
            let config = try ConnectionConfig.parse(url: url.value)
            if config.password != nil {
                sink.error(url.location, "\(what): the URL contains a password; put it in \"password\" as an enc:v2 value or ${env:VAR}")
            }
        } catch let error as DatabaseError {
            sink.error(url.location, "\(what): invalid \"url\": \(error.message)")
        } catch {
            sink.error(url.location, "\(what): invalid \"url\"")
        }
    }

    // MARK: Secrets

    /// Reads a secret-valued key: `enc:v2:…` (or `enc:v1:…`) (must decrypt with a loaded key) or `${env:VAR}`
    /// (must be set). A plaintext value is refused, and never repeated in the message.
    func secret(_ reader: MappingReader, _ key: String, what: String, minimumLength: Int? = nil) -> SecretReference? {
        guard let node = reader.value(key) else { return nil }
        let location = reader.file.location(node)
        guard let text = node.scalar?.string else {
            reader.sink.error(location, "\(what) must be text, got \(MappingReader.describe(node))")
            return nil
        }
        if SecretValue.isEncrypted(text) {
            do {
                // A value is bound to the file it is written in: breakout.yaml or one organization's.
                let scope = SecretScope.of(file: reader.file.path)
                let plain = try SecretValue.decrypt(text, with: keyring, scope: scope, candidates: scopeCandidates)
                if let minimumLength, plain.count < minimumLength {
                    reader.sink.error(
                        location,
                        "the \(what) is \(plain.count) characters; it must be at least \(minimumLength) (make one with "
                            + "`openssl rand -base64 32`, then encrypt it with `breakout secrets encrypt`)")
                    return nil
                }
                if SecretValue.isLegacy(text) {
                    reader.sink.warning(
                        location, code: "legacy_secret",
                        "the \(what) is an enc:v1 value, which is not bound to \(scope) and could be copied into another "
                            + "organization's file; run `breakout secrets rotate` to upgrade it to enc:v2 (docs/security.md)")
                }
            } catch let error as SecretError {
                switch error {
                case .wrongScope: reader.sink.error(location, "the encrypted \(what) cannot be used here: \(error)")
                case .noKey:
                    reader.sink.error(
                        location, "cannot check the encrypted \(what): no master key loaded (set BREAKOUT_MASTER_KEY or BREAKOUT_KEY_FILE)")
                case .unknownKey: reader.sink.error(location, "cannot decrypt the \(what): \(error)")
                case .tampered: reader.sink.error(location, "the encrypted \(what) is corrupted: \(error)")
                case .malformed(let why): reader.sink.error(location, "the \(what) is not a valid encrypted value: \(why)")
                case .badKey(let why): reader.sink.error(location, "cannot check the encrypted \(what): \(why)")
                }
                return nil
            } catch {
                reader.sink.error(location, "cannot decrypt the \(what)")
                return nil
            }
            return .encrypted(Located(text, at: location))
        }
        if text.hasPrefix("${") {
            guard text.hasPrefix("${env:"), text.hasSuffix("}"), text.count > 7,
                let name = Optional(String(text.dropFirst(6).dropLast())),
                name.first.map({ $0.isLetter || $0 == "_" }) == true,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else {
                reader.sink.error(location, "the \(what) reference is malformed; write ${env:VARIABLE_NAME}")
                return nil
            }
            guard environment[name] != nil else {
                reader.sink.error(location, "environment variable \(name) is not set (the \(what) refers to ${env:\(name)})")
                return nil
            }
            return .environment(variable: name, at: location)
        }
        reader.sink.error(
            location,
            "plaintext \(what) refused; encrypt it (printf %s 'the-password' | breakout secrets encrypt) and paste the enc:v1 value, or write ${env:VARIABLE}"
        )
        return nil
    }

    // MARK: Organizations

    /// Connection and job names: free text as the guide's UI allowed (`Breakout quotidien ANSD`),
    /// but addressable as `ORG/NAME` and storable in a VARCHAR(191).
    static func nameProblem(_ s: String) -> String? {
        if s.contains("/") { return "contains '/', which separates the organization from the name in ORG/NAME" }
        if s.count > 191 { return "is longer than 191 characters" }
        if s.first?.isWhitespace == true || s.last?.isWhitespace == true { return "starts or ends with a space" }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "contains a control character" }
        return nil
    }

    static func isSlug(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.count <= 63 else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return ok(first) && s.unicodeScalars.allSatisfy { ok($0) || $0 == "-" }
    }

    static func isDictionaryName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("A"..."Z").contains(first) || ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    func readOrganization(
        _ root: Node, file: YAMLFile, defaults: Defaults, sink: DiagnosticSink,
        foreign: inout Foreign
    ) -> Organization? {
        let label = root.mapping?["organization"]?.scalar.map { "organization \"\($0.string)\"" } ?? "organization"
        guard let top = MappingReader(root, in: file, what: label, allowedKeys: Self.organizationKeys, sink: sink) else { return nil }
        let expected = ((file.path as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let slug = top.string("organization", required: true) else { return nil }
        if !Self.isSlug(slug.value) {
            sink.error(
                slug.location,
                "organization \"\(slug.value)\" is not a valid slug: use lowercase letters, digits and '-', starting with a letter or digit"
            )
        } else if slug.value != expected {
            sink.error(
                slug.location,
                "organization \"\(slug.value)\" is declared in \(file.path); the file must be named organizations/\(slug.value).yaml (or the slug \"\(expected)\")"
            )
        }
        let what = "organization \"\(slug.value)\""
        let name = top.string("name", required: true)?.value ?? slug.value
        var dictionaries: [Located<String>] = []
        for d in top.stringList("dictionaries") ?? [] {
            if !Self.isDictionaryName(d.value) {
                sink.error(
                    d.location, "\(what): \"\(d.value)\" is not a CSPro dictionary name (letters, digits and '_', starting with a letter)")
            } else if let first = dictionaries.first(where: { $0.value == d.value }) {
                sink.error(d.location, "\(what) lists dictionary \(d.value) twice (first at line \(first.location.line))")
            } else {
                dictionaries.append(d)
            }
        }
        var connections: [Connection] = []
        let connectionNodes = top.sequence("connections") ?? []
        for node in connectionNodes {
            guard let c = readConnection(node, file: file, org: slug.value, sink: sink) else { continue }
            if let first = connections.first(where: { $0.name.value == c.name.value }) {
                sink.error(
                    c.name.location, "\(what) has two connections named \"\(c.name.value)\" (first at line \(first.name.location.line))")
                continue
            }
            if c.isDefault, let first = connections.first(where: \.isDefault) {
                sink.error(
                    c.name.location,
                    "\(what) has more than one default connection: \"\(first.name.value)\" and \"\(c.name.value)\"; mark only one \"default: true\""
                )
            }
            connections.append(c)
        }
        var org = Organization(
            slug: slug, name: name, dictionaries: dictionaries, connections: connections, jobs: [], file: file.path,
            alerts: readAlerts(top, what: what))
        // A connection with errors of its own is not reported again through every job that would use it.
        let connectionsComplete = connections.count == connectionNodes.count
        for node in top.sequence("jobs") ?? [] {
            guard
                let job = readJob(
                    node, file: file, org: org, connectionsComplete: connectionsComplete, defaults: defaults, sink: sink,
                    foreignDictionaries: &foreign.dictionaries, foreignConnections: &foreign.connections)
            else { continue }
            if let first = org.jobs.first(where: { $0.name.value == job.name.value }) {
                sink.error(
                    job.name.location, "\(what) has two jobs named \"\(job.name.value)\" (first at line \(first.name.location.line))")
                continue
            }
            org.jobs.append(job)
        }
        org.moved = readMoved(top, org: org, file: file, sink: sink)
        return org
    }

    /// `moved:` entries. Errors: a malformed address, a move between kinds, a target this file
    /// does not declare, a source it still declares, or two entries for one name. Whether the
    /// move is still to be done is for `plan` to say (it reads the control tables).
    func readMoved(_ top: MappingReader, org: Organization, file: YAMLFile, sink: DiagnosticSink) -> [Moved] {
        let what = "organization \"\(org.slug.value)\""
        var out: [Moved] = []
        for node in top.sequence("moved") ?? [] {
            guard let r = MappingReader(node, in: file, what: "a moved entry of \(what)", allowedKeys: ["from", "to"], sink: sink),
                let from = r.string("from", required: true), let to = r.string("to", required: true)
            else { continue }
            func address(_ a: Located<String>) -> (Moved.Kind, String)? {
                let parts = a.value.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, let kind = Moved.Kind(rawValue: parts[0]), !parts[1].isEmpty else {
                    sink.error(a.location, "\(what): moved \"\(a.value)\" is not an address; write job/NAME or connection/NAME")
                    return nil
                }
                return (kind, parts[1])
            }
            guard let (fromKind, fromName) = address(from), let (toKind, toName) = address(to) else { continue }
            guard fromKind == toKind else {
                sink.error(to.location, "\(what): cannot move \(from.value) to \(to.value): a move keeps the kind (job/… to job/…)")
                continue
            }
            let declared = Set(fromKind == .job ? org.jobs.map(\.name.value) : org.connections.map(\.name.value))
            guard fromName != toName else {
                sink.error(to.location, "\(what): moved from \(from.value) to itself; remove the entry")
                continue
            }
            guard declared.contains(toName) else {
                sink.error(
                    to.location, "\(what): moved to \(to.value), which this file does not declare; declare it or correct the entry")
                continue
            }
            guard !declared.contains(fromName) else {
                sink.error(
                    from.location,
                    "\(what): \(from.value) is still declared, so it cannot also be moved to \(to.value); remove the old \(fromKind.rawValue) or this entry"
                )
                continue
            }
            if let first = out.first(where: { $0.kind == fromKind && ($0.from == fromName || $0.to == toName) }) {
                sink.error(
                    r.location,
                    "\(what): two moved entries for \(fromKind.rawValue) \(first.from == fromName ? fromName : toName) (first at line \(first.location.line)); keep one"
                )
                continue
            }
            if out.contains(where: { $0.kind == fromKind && ($0.to == fromName || $0.from == toName) }) {
                sink.error(
                    r.location,
                    "\(what): moved entries form a chain through \(fromKind.rawValue) \(fromName); move straight to the final name")
                continue
            }
            out.append(Moved(kind: fromKind, from: fromName, to: toName, location: r.location))
        }
        return out
    }

    func readConnection(_ node: Node, file: YAMLFile, org: String, sink: DiagnosticSink) -> Connection? {
        let what = Self.label("connection", node)
        guard let typed = MappingReader(node, in: file, what: what, allowedKeys: Self.connectionKeys, sink: sink) else { return nil }
        guard let name = typed.string("name", required: true) else { return nil }
        if let problem = Self.nameProblem(name.value) {
            sink.error(name.location, "connection name \"\(name.value)\" \(problem)")
        }
        var engine: DatabaseEngine?
        if let type = typed.string("type", required: true) {
            engine = DatabaseEngine(name: type.value)
            if engine == nil {
                let names = DatabaseEngine.allCases.map(\.rawValue) + DatabaseEngine.aliases.keys.sorted()
                let hint = suggestion(for: type.value, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                sink.error(
                    type.location,
                    "\(what): unknown type \"\(type.value)\"; expected \(DatabaseEngine.names) (or pdo_pgsql, pdo_mysql, pdo_sqlsrv, sqlsrv, pdo_sqlite)\(hint)"
                )
            }
        }
        let server = engine.map { !$0.isEmbedded } ?? false
        let host = typed.string("host", required: server)
        let port = typed.int("port", range: 1...65535)
        let database = typed.string("database", required: true)
        let username = typed.string("username", required: server)
        let password = secret(typed, "password", what: "password of \(what)")
        let isDefault = typed.bool("default")?.value ?? false
        let isActive = typed.bool("active")?.value ?? true
        let options = typed.stringMap("options") ?? [:]
        if let engine {
            // Driver options are an allow-list (no credentials); file options stay in the organization's folder.
            let optionsNode = typed.value("options")?.mapping
            for (key, value) in options.sorted(by: { $0.key < $1.key }) {
                let at =
                    optionsNode.flatMap { m in m.first { $0.key.scalar?.string == key }.map { file.location($0.key) } } ?? typed.location
                if let problem = TenantPolicy.optionProblem(key, engine: engine) {
                    sink.error(at, "\(what): \(problem)")
                } else if TenantPolicy.fileOptions.contains(key), let problem = TenantPolicy.pathProblem(value) {
                    sink.error(at, "\(what): option \"\(key)\" \"\(value)\" \(problem)")
                }
            }
            if engine.isEmbedded, let database, let problem = TenantPolicy.pathProblem(database.value) {
                sink.error(database.location, "\(what): database \"\(database.value)\" \(problem)")
            }
        }
        var naming = Naming.csweb
        if let n = typed.string("naming") {
            if let parsed = Naming(rawValue: n.value) {
                naming = parsed
            } else {
                sink.error(
                    n.location, "\(what): \"naming\" must be \"csweb\" (level-1, item(1)) or \"sql\" (level_1, item_1), got \"\(n.value)\"")
            }
        }
        var labelsLanguage: String?
        if let l = typed.string("labels_language") {
            // A language name of a CSPro dictionary: letters, digits, `_` and `-` (which one the
            // dictionary has is checked when a run or plan reads it).
            if !l.value.isEmpty, l.value.count <= 32,
                l.value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            {
                labelsLanguage = l.value
            } else {
                sink.error(
                    l.location,
                    "\(what): \"labels_language\" must name a language of the dictionaries (EN, FR, …: letters, digits, _ or -, at most 32), got \"\(l.value)\""
                )
            }
        }
        var specials = SpecialValues.null
        if let v = typed.string("specials") {
            if let parsed = SpecialValues(rawValue: v.value) {
                specials = parsed
            } else {
                sink.error(
                    v.location,
                    "\(what): \"specials\" must be \"null\" (special values as NULL), \"codes\" (their value-set codes) or \"columns\" (NULL and an <item>_special column), got \"\(v.value)\""
                )
            }
        }
        guard let engine, let database else { return nil }
        return Connection(
            name: name, engine: engine, host: host?.value, port: port?.value ?? engine.defaultPort, database: database.value,
            username: username?.value, password: password, isDefault: isDefault, isActive: isActive, options: options,
            naming: naming, labelsLanguage: labelsLanguage, specials: specials)
    }

    /// `connection "name"` when the mapping has a name, for messages about it.
    static func label(_ kind: String, _ node: Node) -> String {
        node.mapping?["name"]?.scalar.map { "\(kind) \"\($0.string)\"" } ?? kind
    }

    func readJob(
        _ node: Node, file: YAMLFile, org: Organization, connectionsComplete: Bool, defaults: Defaults, sink: DiagnosticSink,
        foreignDictionaries: inout [ForeignReference], foreignConnections: inout [ForeignReference]
    ) -> Job? {
        let what = Self.label("job", node)
        guard let r = MappingReader(node, in: file, what: what, allowedKeys: Self.jobKeys, sink: sink) else { return nil }
        guard let name = r.string("name", required: true) else { return nil }
        if let problem = Self.nameProblem(name.value) {
            sink.error(name.location, "job name \"\(name.value)\" \(problem)")
        }
        var kind = Job.Kind.breakout
        if let t = r.string("type") {
            if let k = Job.Kind(rawValue: t.value) {
                kind = k
            } else {
                sink.error(t.location, "\(what): unknown type \"\(t.value)\"; expected breakout or export")
            }
        }
        var schedule: CronExpression?
        var scheduleLocation = r.location
        if let s = r.string("schedule", required: true), let node = r.value("schedule") {
            scheduleLocation = s.location
            do {
                schedule = try CronExpression(s.value)
            } catch let error as CronError {
                let quoted = node.scalar.map { $0.style == .singleQuoted || $0.style == .doubleQuoted } ?? false
                var at = s.location
                at.column += error.offset + (quoted ? 1 : 0)
                sink.error(at, "\(what): invalid schedule \"\(s.value)\": \(error.message)")
            } catch {}
        }
        let timeZone = timeZone(r, "time_zone") ?? defaults.timeZone
        var connection = org.defaultConnection?.name.value
        if let c = r.string("connection") {
            connection = c.value
            if !org.connections.contains(where: { $0.name.value == c.value }) {
                if connectionsComplete {
                    foreignConnections.append(
                        ForeignReference(
                            name: c, organization: org.slug.value, job: what,
                            available: org.connections.map(\.name.value)))
                }
                connection = nil
            }
        } else if connection == nil, connectionsComplete {
            sink.error(
                name.location,
                org.connections.isEmpty
                    ? "\(what) has no connection to write to: organization \"\(org.slug.value)\" declares none"
                    : "\(what) names no connection and organization \"\(org.slug.value)\" has no default; add \"connection:\" or mark one connection \"default: true\""
            )
        }
        var dictionaries: [String] = []
        for d in r.stringList("dictionaries") ?? [] {
            if org.dictionaries.contains(where: { $0.value == d.value }) {
                dictionaries.append(d.value)
            } else {
                foreignDictionaries.append(
                    ForeignReference(name: d, organization: org.slug.value, job: what, available: org.dictionaries.map(\.value)))
            }
        }
        let threads = r.int("threads", range: Self.threadsRange)?.value ?? defaults.threads
        let chunk = r.int("max_cases_per_chunk", range: Self.chunkRange)?.value ?? defaults.maxCasesPerChunk
        let active = r.bool("active")?.value ?? true
        let timeout = duration(r, "timeout")
        let retries = r.int("retries", range: Self.retriesRange)?.value ?? 0
        let deadline = duration(r, "starting_deadline") ?? 3600
        let include = r.stringList("include")?.map(\.value) ?? []
        let exclude = r.stringList("exclude")?.map(\.value) ?? []
        let alerts = readAlerts(r, what: what)
        let output = r.string("output")
        if kind == .export, output == nil {
            sink.error(
                r.location,
                "\(what) is an export job and needs \"output\": the folder its dated exports go to (relative to the organization's data folder, data_root/<organization>/)"
            )
        } else if kind == .breakout, let output {
            sink.error(output.location, "\(what): \"output\" is for export jobs; a breakout job writes into its connection")
        } else if let output, let problem = TenantPolicy.pathProblem(output.value) {
            sink.error(output.location, "\(what): output \"\(output.value)\" \(problem)")
        }
        var formats = ["csv"]
        if let list = r.stringList("formats") {
            if kind == .breakout {
                sink.error(
                    list.first?.location ?? r.location, "\(what): \"formats\" is for export jobs; a breakout job writes into its connection"
                )
            }
            var seen: [String] = []
            for f in list {
                if !Self.exportFormats.contains(f.value) {
                    sink.error(
                        f.location,
                        "\(what): export format \"\(f.value)\" is not one of \(Self.exportFormats.joined(separator: ", "))")
                } else if !seen.contains(f.value) {
                    seen.append(f.value)
                }
            }
            if list.isEmpty {
                sink.error(r.location, "\(what): \"formats\" is empty; name at least one of \(Self.exportFormats.joined(separator: ", "))")
            }
            if !seen.isEmpty { formats = seen }
        }
        let includeDeleted = r.bool("include_deleted")
        if kind == .breakout, let includeDeleted {
            sink.error(includeDeleted.location, "\(what): \"include_deleted\" is for export jobs; a breakout job keeps every case, flagged")
        }
        guard let schedule, let connection else { return nil }
        var job = Job(
            name: name, kind: kind, schedule: schedule, scheduleLocation: scheduleLocation, timeZone: timeZone, connection: connection,
            dictionaries: dictionaries, threads: threads, maxCasesPerChunk: chunk, isActive: active, timeout: timeout, retries: retries,
            startingDeadline: deadline, include: include, exclude: exclude, alerts: alerts ?? org.alerts, output: output?.value)
        job.formats = formats
        job.includeDeleted = includeDeleted?.value ?? false
        return job
    }

    /// `alerts: {webhook: URL, command: TEXT, on_recovery: BOOL, on_failed_cases: BOOL}`: the operator's in breakout.yaml,
    /// or an organization's or job's in an organization file, where `command` is refused: an
    /// organization file runs no program on the runner host (docs/security.md).
    func readAlerts(_ r: MappingReader, what: String, commandAllowed: Bool = false) -> Alerts? {
        guard let a = r.child("alerts", what: "alerts of \(what)", allowedKeys: Self.alertKeys) else { return nil }
        var alerts = Alerts()
        let webhookGiven = a.value("webhook") != nil
        if let w = a.string("webhook") {
            if let url = URL(string: w.value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil {
                alerts.webhook = w.value
            } else {
                a.sink.error(w.location, "alerts of \(what): webhook \"\(w.value)\" is not an http(s) URL")
            }
        }
        if let command = a.string("command") {
            if commandAllowed {
                alerts.command = command.value
            } else {
                a.sink.error(
                    command.location,
                    "alerts of \(what): \"command\" is not allowed in an organization file: organization files run no "
                        + "program on the runner host (docs/security.md); use \"webhook\", or ask the operator for an alert command in breakout.yaml"
                )
            }
        }
        alerts.onRecovery = a.bool("on_recovery")?.value ?? false
        alerts.onFailedCases = a.bool("on_failed_cases")?.value ?? false
        if alerts.webhook == nil && alerts.command == nil && !webhookGiven && (commandAllowed || a.value("command") == nil) {
            a.sink.error(a.location, "alerts of \(what) need a webhook" + (commandAllowed ? " or a command" : ""))
        }
        return alerts
    }

    func timeZone(_ r: MappingReader, _ key: String) -> String? {
        guard let tz = r.string(key) else { return nil }
        guard TimeZone(identifier: tz.value) != nil, tz.value.contains("/") || ["UTC", "GMT"].contains(tz.value) else {
            let known = TimeZone.knownTimeZoneIdentifiers
            let hint =
                suggestion(for: tz.value, in: known).map { "; did you mean \"\($0)\"?" }
                ?? " (use an IANA name such as Africa/Dakar or UTC)"
            r.sink.error(tz.location, "\(r.what): unknown time zone \"\(tz.value)\"\(hint)")
            return nil
        }
        return tz.value
    }

    func duration(_ r: MappingReader, _ key: String) -> Int? {
        guard let d = r.string(key) else { return nil }
        if d.value.allSatisfy({ $0 == "0" || "smhd".contains($0) }), d.value.contains("0") {
            r.sink.error(d.location, "\(r.what): \"\(key)\" must be longer than zero, got \"\(d.value)\"")
            return nil
        }
        guard let seconds = DurationParser.seconds(d.value) else {
            r.sink.error(d.location, "\(r.what): \"\(key)\" is not a duration: \"\(d.value)\"; write e.g. 90s, 30m, 2h or 1h30m")
            return nil
        }
        return seconds
    }

    /// A dictionary or connection a job names that its organization does not have; checked once
    /// every file is read, so the message can say whose it is.
    struct ForeignReference {
        var name: Located<String>
        var organization: String
        var job: String
        var available: [String]
    }

    struct Foreign {
        var dictionaries: [ForeignReference] = []
        var connections: [ForeignReference] = []
    }

    func checkAcrossOrganizations(_ organizations: [Organization], foreign: Foreign, _ sink: DiagnosticSink) {
        var owner: [String: (String, SourceLocation)] = [:]
        for org in organizations {
            for d in org.dictionaries {
                if let (other, at) = owner[d.value] {
                    sink.error(
                        d.location,
                        "dictionary \(d.value) is owned by organization \"\(other)\" (\(at.file):\(at.line)) and \"\(org.slug.value)\"; a dictionary has one owner"
                    )
                } else {
                    owner[d.value] = (org.slug.value, d.location)
                }
            }
        }
        for item in foreign.connections {
            let (c, org, what) = (item.name, item.organization, item.job)
            if let other = organizations.first(where: { $0.slug.value != org && $0.connections.contains { $0.name.value == c.value } }) {
                sink.error(
                    c.location,
                    "\(what) uses connection \"\(c.value)\" of organization \"\(other.slug.value)\"; an organization's jobs use only its own connections"
                )
            } else {
                sink.error(
                    c.location,
                    "\(what) uses connection \"\(c.value)\", which organization \"\(org)\" does not declare; its connections: \(item.available.map { "\"\($0)\"" }.joined(separator: ", ").nilIfEmpty ?? "none")"
                )
            }
        }
        for item in foreign.dictionaries {
            let (d, org, what) = (item.name, item.organization, item.job)
            if let (other, _) = owner[d.value], other != org {
                sink.error(
                    d.location,
                    "\(what) uses dictionary \(d.value) of organization \"\(other)\"; an organization's jobs use only its own dictionaries")
            } else {
                sink.error(
                    d.location,
                    "\(what) uses dictionary \(d.value), which organization \"\(org)\" does not own; add it to the organization's \"dictionaries\""
                )
            }
        }
    }
}

extension ConfigLoader {
    /// Two active breakout jobs that write one dictionary into one connection: their runs can
    /// overlap, and the second then waits for the first's destination lock (docs/runner.md).
    func checkOverlappingJobs(_ organizations: [Organization], _ sink: DiagnosticSink) {
        for org in organizations {
            let owned = org.dictionaries.map(\.value)
            let jobs = org.jobs.filter { $0.isActive && $0.kind == .breakout }
            for (i, later) in jobs.enumerated() {
                for earlier in jobs[..<i] where earlier.connection == later.connection {
                    let a = Set(earlier.dictionaries.isEmpty ? owned : earlier.dictionaries)
                    let shared = (later.dictionaries.isEmpty ? owned : later.dictionaries).filter(a.contains)
                    guard !shared.isEmpty else { continue }
                    sink.warning(
                        later.name.location, code: "jobs_overlap",
                        "jobs \"\(earlier.name.value)\" and \"\(later.name.value)\" both break out \(shared.joined(separator: ", ")) "
                            + "into connection \"\(later.connection)\": when their runs overlap, the second waits up to 60 s for the first, "
                            + "then is recorded skipped as destination busy (docs/runner.md); give them schedules that do not overlap, or one job"
                    )
                }
            }
        }
    }

    /// Organizations' files need the operator's data root; two organizations never share a
    /// server destination (engine, host, port, database).
    func checkFilesAndDestinations(_ organizations: [Organization], settings: Settings?, _ sink: DiagnosticSink) {
        if let settings, settings.dataRoot == nil {
            for org in organizations {
                for c in org.connections where c.engine.isEmbedded && c.database != ":memory:" {
                    sink.error(
                        c.name.location,
                        "connection \"\(c.name.value)\" of organization \"\(org.slug.value)\" is an SQLite file, and breakout.yaml sets no "
                            + "data_root: organizations' files live in data_root/<organization>/; set data_root in breakout.yaml (docs/security.md)"
                    )
                }
                for j in org.jobs where j.kind == .export {
                    sink.error(
                        j.name.location,
                        "export job \"\(j.name.value)\" of organization \"\(org.slug.value)\" writes files, and breakout.yaml sets no "
                            + "data_root: organizations' files live in data_root/<organization>/; set data_root in breakout.yaml (docs/security.md)"
                    )
                }
            }
        }
        if let allowed = settings?.tenantHosts {
            for org in organizations {
                for c in org.connections where !c.engine.isEmbedded && !TenantPolicy.hostAllowed(c.host, allowed) {
                    sink.error(
                        c.name.location,
                        "connection \"\(c.name.value)\" of organization \"\(org.slug.value)\" targets host \"\(c.host ?? "localhost")\", "
                            + "which breakout.yaml's tenant_hosts does not allow (\(allowed.joined(separator: ", "))); ask the operator to add it"
                    )
                }
            }
        }
        var seen: [String: (String, String, SourceLocation)] = [:]
        for org in organizations {
            for c in org.connections {
                guard let key = TenantPolicy.destinationKey(engine: c.engine, host: c.host, port: c.port, database: c.database) else {
                    continue
                }
                if let (other, name, at) = seen[key], other != org.slug.value {
                    sink.error(
                        c.name.location,
                        "connection \"\(c.name.value)\" of organization \"\(org.slug.value)\" is the destination of connection \"\(name)\" "
                            + "of organization \"\(other)\" (\(at.file):\(at.line)): two organizations never share a destination; give each its own database"
                    )
                } else if seen[key] == nil {
                    seen[key] = (org.slug.value, c.name.value, c.name.location)
                }
            }
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
