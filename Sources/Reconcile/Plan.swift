import Foundation

/// What apply would do, as plan prints it and `--out` saves it (JSON, `format_version` 2; see
/// docs/control-tables.md, "plan").
package struct Plan: Codable, Sendable {
    /// 2 since warnings are objects with a code; `apply` still reads a format 1 file.
    package static let currentFormat = 2
    package var formatVersion = Plan.currentFormat
    /// Digest of the managed tables the plan was made against; a saved plan is refused when it changed.
    package var stateDigest: String
    /// Digest of the config files the plan was made from.
    package var configDigest: String
    package var changes: [Change]
    package var unmanaged: [UnmanagedRow]
    package var warnings: [Warning]

    /// Something a reviewer should know that does not stop the plan; `plan --fail-on-warnings`
    /// exits 1 when there is any.
    package struct Warning: Codable, Sendable, Hashable {
        /// Stable: scripts match on it (docs/control-tables.md lists them all).
        package enum Code: String, Codable, Sendable, CaseIterable {
            /// A job's dictionary is not in the source: its runs fail until it is.
            case dictionaryMissing = "dictionary_missing"
            /// The source cannot be read, so no job was planned.
            case sourceUnreachable = "source_unreachable"
            /// A job's destination cannot be reached (read-only).
            case destinationUnreachable = "destination_unreachable"
            /// A job could not be planned for another reason, given in the message.
            case jobNotPlanned = "job_not_planned"
            /// The destination does not hold what breakout committed there (a table dropped or renamed).
            case destinationDrift = "destination_drift"
            /// Two active jobs break out one dictionary into one connection: their runs can overlap.
            case jobsOverlap = "jobs_overlap"
            /// An `enc:v1` value, not bound to its file.
            case legacySecret = "legacy_secret"
            /// `state.password_format: php-openssl`: passwords written without an integrity check.
            case unauthenticatedPasswordFormat = "unauthenticated_password_format"
            /// A `moved:` entry with nothing left to move (already applied): it can be removed.
            case movedStale = "moved_stale"
            /// Any other warning `validate` prints about a file.
            case configuration = "config_warning"
        }

        package var code: Code
        package var message: String
        /// `organizations/ansd.yaml:12:5` when the warning is about something written there.
        package var location: String?
        package var organization: String?
        package var job: String?

        package init(_ code: Code, _ message: String, location: String? = nil, organization: String? = nil, job: String? = nil) {
            self.code = code
            self.message = message
            self.location = location
            self.organization = organization
            self.job = job
        }

        enum CodingKeys: String, CodingKey { case code, message, location, organization, job }

        package func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
            try c.encode(location, forKey: .location)
            try c.encode(organization, forKey: .organization)
            try c.encode(job, forKey: .job)
        }

        /// `[jobs_overlap] organizations/ansd.yaml:12:5: jobs "a" and "b" …`
        package var text: String {
            "[\(code.rawValue)] " + (location.map { "\($0): " } ?? "")
                + (job.map { "job \(organization ?? "?")/\($0): " } ?? organization.map { "organization \($0): " } ?? "") + message
        }
    }

    package enum Action: String, Codable, Sendable {
        case create, update, delete
        /// A hand-made row taken over: `managed_by` set, plus any field changes listed.
        case adopt
    }

    package enum Kind: String, Codable, Sendable {
        case organization, connection, job
    }

    package struct FieldChange: Codable, Sendable, Hashable {
        package var field: String
        /// Display values; nil for NULL. Never a secret: sensitive fields show `(sensitive)`.
        package var old: String?
        package var new: String?
        package var sensitive: Bool

        package init(field: String, old: String?, new: String?, sensitive: Bool) {
            self.field = field
            self.old = old
            self.new = new
            self.sensitive = sensitive
        }

        enum CodingKeys: String, CodingKey { case field, old, new, sensitive }

        /// Nulls are written, not left out: the format is documented with every key present.
        package func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(field, forKey: .field)
            try c.encode(old, forKey: .old)
            try c.encode(new, forKey: .new)
            try c.encode(sensitive, forKey: .sensitive)
        }
    }

    package struct Change: Codable, Sendable {
        package var action: Action
        package var kind: Kind
        package var organization: String
        package var name: String
        package var fields: [FieldChange]
        /// Needs `--allow-destroy` (deleting an organization whose jobs have run).
        package var destructive: Bool
        package var note: String?
        /// Where the resource is written (`organizations/ansd.yaml:12`); nil for deletes.
        package var location: String?
        /// The row's name before a `moved:` entry renames it (same id, history and lease).
        package var movedFrom: String?

        package var address: String { kind == .organization ? "organization \(organization)" : "\(kind.rawValue) \(organization)/\(name)" }

        /// `job ansd/a → ansd/b (moved)` for a rename, else the address.
        package var heading: String {
            guard let movedFrom else { return address }
            return "\(kind.rawValue) \(organization)/\(movedFrom) → \(organization)/\(name) (moved)"
        }

        package init(
            action: Action, kind: Kind, organization: String, name: String, fields: [FieldChange], destructive: Bool, note: String? = nil,
            location: String? = nil, movedFrom: String? = nil
        ) {
            self.action = action
            self.kind = kind
            self.organization = organization
            self.name = name
            self.fields = fields
            self.destructive = destructive
            self.note = note
            self.location = location
            self.movedFrom = movedFrom
        }

        enum CodingKeys: String, CodingKey {
            case action, kind, organization, name, fields, destructive, note, location, movedFrom = "moved_from"
        }

        package func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(action, forKey: .action)
            try c.encode(kind, forKey: .kind)
            try c.encode(organization, forKey: .organization)
            try c.encode(name, forKey: .name)
            try c.encode(fields, forKey: .fields)
            try c.encode(destructive, forKey: .destructive)
            try c.encode(note, forKey: .note)
            try c.encode(location, forKey: .location)
            try c.encode(movedFrom, forKey: .movedFrom)
        }
    }

    package struct UnmanagedRow: Codable, Sendable {
        package var kind: Kind
        package var id: Int64
        package var organization: String
        package var name: String
        /// What adopting it takes (`breakout import` writes the YAML).
        package var note: String
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", stateDigest = "state_digest", configDigest = "config_digest", changes, unmanaged, warnings,
            summary
    }

    package struct Summary: Codable, Sendable, Hashable {
        package var add: Int
        package var change: Int
        package var destroy: Int
    }

    package var summary: Summary {
        Summary(
            add: changes.filter { $0.action == .create }.count,
            change: changes.filter { $0.action == .update || $0.action == .adopt }.count,
            destroy: changes.filter { $0.action == .delete }.count)
    }

    package var hasChanges: Bool { !changes.isEmpty }

    package init(stateDigest: String, configDigest: String, changes: [Change], unmanaged: [UnmanagedRow], warnings: [Warning]) {
        self.stateDigest = stateDigest
        self.configDigest = configDigest
        self.changes = changes
        self.unmanaged = unmanaged
        self.warnings = warnings
    }

    package init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        guard (1...Self.currentFormat).contains(formatVersion) else {
            throw DecodingError.dataCorruptedError(
                forKey: .formatVersion, in: c,
                debugDescription: "format_version \(formatVersion) is newer than this breakout reads (up to \(Self.currentFormat))")
        }
        stateDigest = try c.decode(String.self, forKey: .stateDigest)
        configDigest = try c.decode(String.self, forKey: .configDigest)
        changes = try c.decode([Change].self, forKey: .changes)
        unmanaged = try c.decode([UnmanagedRow].self, forKey: .unmanaged)
        // Format 1 wrote warnings as sentences; apply does not use them, so they are not carried over.
        warnings = formatVersion == 1 ? [] : try c.decode([Warning].self, forKey: .warnings)
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(stateDigest, forKey: .stateDigest)
        try c.encode(configDigest, forKey: .configDigest)
        try c.encode(changes, forKey: .changes)
        try c.encode(unmanaged, forKey: .unmanaged)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(summary, forKey: .summary)
    }

    /// `Plan: 3 to add, 1 to change, 0 to destroy.` or `No changes.`
    package var summaryLine: String {
        hasChanges
            ? "Plan: \(summary.add) to add, \(summary.change) to change, \(summary.destroy) to destroy."
            : "No changes. The control tables match the configuration."
    }

    // MARK: Rendering

    static func show(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "null" }

    /// A long sentence on lines of at most `width` characters (a word longer than that stays whole).
    static func wrapped(_ text: String, width: Int, indent: String) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = indent + word
            } else {
                line += (line.isEmpty ? "" : " ") + word
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    static func symbol(_ a: Action) -> String {
        switch a {
        case .create: "+"
        case .update: "~"
        case .delete: "-"
        case .adopt: "~"
        }
    }

    /// Terraform-style text, grouped by organization; `color` adds ANSI colors for a terminal.
    package func text(color: Bool = false) -> String {
        func paint(_ s: String, _ a: Action) -> String {
            guard color else { return s }
            let code = a == .create ? "32" : a == .delete ? "31" : "33"
            return "\u{1B}[\(code)m\(s)\u{1B}[0m"
        }
        var lines: [String] = []
        for w in warnings { lines += Self.wrapped("Warning \(w.text)", width: 100, indent: "  ") }
        if !warnings.isEmpty { lines.append("") }
        let orgs = changes.map(\.organization).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for org in orgs {
            lines.append("Organization \(org):")
            for change in changes where change.organization == org {
                var head = "  \(Self.symbol(change.action)) \(change.action == .adopt ? "adopt " : "")\(change.heading)"
                if change.destructive { head += "   # destructive: needs --allow-destroy" }
                if let note = change.note { head += "   # \(note)" }
                if let location = change.location { head += "   (\(location))" }
                lines.append(paint(head, change.action))
                lines += yamlLines(change, indent: "      ")
            }
            lines.append("")
        }
        if !unmanaged.isEmpty {
            lines.append("Unmanaged rows (apply leaves them alone; `breakout import` writes YAML to adopt them):")
            for u in unmanaged { lines.append("  \(u.kind.rawValue) \(u.organization)/\(u.name) (id \(u.id)): \(u.note)") }
            lines.append("")
        }
        lines.append(summaryLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown for a pull-request comment: a summary, then one collapsible section per
    /// organization; kept under `limit` characters by summarising the longest sections.
    package func markdown(limit: Int = 60_000) -> String {
        var head = "### breakout plan\n\n**\(summaryLine)**\n\n"
        for w in warnings { head += "> ⚠️ \(w.text)\n" }
        if !warnings.isEmpty { head += "\n" }
        let orgs = changes.map(\.organization).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var sections: [(org: String, full: String, short: String)] = []
        for org in orgs {
            let mine = changes.filter { $0.organization == org }
            let counts =
                "\(mine.filter { $0.action == .create }.count) to add, \(mine.filter { $0.action == .update || $0.action == .adopt }.count) to change, \(mine.filter { $0.action == .delete }.count) to destroy"
            var body = "```diff\n"
            for change in mine {
                body +=
                    "\(Self.symbol(change.action)) \(change.action == .adopt ? "adopt " : "")\(change.heading)\(change.destructive ? "   # destructive" : "")\(change.location.map { "   (\($0))" } ?? "")\n"
                body += yamlLines(change, indent: "    ", marked: true).map { $0 + "\n" }.joined()
            }
            body += "```\n"
            let full = "<details><summary><b>\(org)</b>: \(counts)</summary>\n\n\(body)\n</details>\n\n"
            let short =
                "<details><summary><b>\(org)</b>: \(counts)</summary>\n\n"
                + mine.map { "- `\(Self.symbol($0.action))` \($0.heading)\($0.destructive ? " **(destructive)**" : "")\n" }.joined()
                + "\n_(field details left out to fit a comment; run `breakout plan` for them)_\n</details>\n\n"
            sections.append((org, full, short))
        }
        var tail = ""
        if !unmanaged.isEmpty {
            tail =
                "<details><summary>\(unmanaged.count) unmanaged row(s), left alone</summary>\n\n"
                + unmanaged.map { "- \($0.kind.rawValue) `\($0.organization)/\($0.name)` (id \($0.id))\n" }.joined() + "\n</details>\n"
        }
        var chosen = sections.map(\.full)
        func total() -> Int { head.count + chosen.reduce(0) { $0 + $1.count } + tail.count }
        // Summarise the biggest sections first until it fits.
        for i in sections.indices.sorted(by: { sections[$0].full.count > sections[$1].full.count }) where total() > limit {
            chosen[i] = sections[i].short
        }
        if total() > limit {
            let kept = chosen.prefix { _ in true }
            var out = head
            var omitted = 0
            for s in kept {
                if out.count + s.count + 200 > limit { omitted += 1 } else { out += s }
            }
            return out + "_\(omitted) more organization(s) not shown; run `breakout plan` for the full plan._\n"
        }
        return head + chosen.joined() + tail
    }
}
