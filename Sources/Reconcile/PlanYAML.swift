import Foundation

/// The plan's changes as the reviewer wrote them: YAML keys and values of the organization file
/// (`active: true → false`, `dictionaries: [RGPH]`, `timeout: 2h`), not the control tables'
/// columns and encodings (`is_active: "1" → "0"`, `settings: "{…}"`). The JSON plan keeps the
/// columns (`fields`), which scripts already read.
extension Plan {
    /// One key of the YAML, before and after; nil is absent.
    package struct YAMLChange: Sendable, Hashable {
        package var key: String
        package var old: String?
        package var new: String?
        package var sensitive: Bool
    }

    /// Column → YAML key (the names do not collide across kinds); nil drops the column from the YAML view (`command` is derived
    /// from the other keys).
    static func yamlKey(_ column: String) -> String? {
        switch column {
        case "display_name": "name"
        case "db_type", "job_type": "type"
        case "database_name": "database"
        case "is_default": "default"
        case "is_active": "active"
        case "cron_expression": "schedule"
        case "password_encrypted": "password"
        case "command": nil
        default: column
        }
    }

    /// The YAML view of one field change: JSON columns (`settings`, `connection_options`) become
    /// one entry per key that differs.
    static func yamlChanges(_ f: FieldChange) -> [YAMLChange] {
        guard let key = yamlKey(f.field) else { return [] }
        if f.sensitive { return [YAMLChange(key: key, old: nil, new: nil, sensitive: true)] }
        switch f.field {
        case "settings", "connection_options":
            let old = f.old.flatMap(jsonObject) ?? [:]
            let new = f.new.flatMap(jsonObject) ?? [:]
            // A value that is not a JSON object (a hand-written row) is shown as it is.
            if (f.old != nil && f.old.flatMap(jsonObject) == nil) || (f.new != nil && f.new.flatMap(jsonObject) == nil) {
                return [YAMLChange(key: key, old: f.old, new: f.new, sensitive: false)]
            }
            var out: [YAMLChange] = []
            for k in Set(old.keys).union(new.keys).sorted() {
                let o = old[k].map { Self.setting(k, $0) }, n = new[k].map { Self.setting(k, $0) }
                guard o != n else { continue }
                let name = f.field == "settings" || ["naming", "labels_language", "specials"].contains(k) ? k : "options.\(k)"
                out.append(YAMLChange(key: name, old: o, new: n, sensitive: false))
            }
            return out
        case "is_active", "is_default":
            return [YAMLChange(key: key, old: f.old.map(boolean), new: f.new.map(boolean), sensitive: false)]
        case "db_type":
            return [YAMLChange(key: key, old: f.old.map(engineName), new: f.new.map(engineName), sensitive: false)]
        case "dictionaries":
            func list(_ s: String) -> String { json(s)?.yaml ?? scalar(s) }
            return [YAMLChange(key: key, old: f.old.map(list), new: f.new.map(list), sensitive: false)]
        case "threads", "max_cases_per_chunk", "port":
            func number(_ s: String) -> String { Int(s) != nil ? s : scalar(s) }
            return [YAMLChange(key: key, old: f.old.map(number), new: f.new.map(number), sensitive: false)]
        default:
            return [YAMLChange(key: key, old: f.old.map(scalar), new: f.new.map(scalar), sensitive: false)]
        }
    }

    /// The YAML view of a change, in order.
    package func yamlChanges(_ change: Change) -> [YAMLChange] {
        change.fields.flatMap(Self.yamlChanges)
    }

    /// A JSON value with booleans kept apart from numbers (JSONSerialization gives both as NSNumber).
    indirect enum JSON: Decodable, Equatable {
        case bool(Bool), number(String), string(String), array([JSON]), object([String: JSON]), null

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? c.decode(Int64.self) {
                self = .number(String(i))
            } else if let d = try? c.decode(Double.self) {
                self = .number(String(d))
            } else if let s = try? c.decode(String.self) {
                self = .string(s)
            } else if let a = try? c.decode([JSON].self) {
                self = .array(a)
            } else {
                self = .object(try c.decode([String: JSON].self))
            }
        }

        /// As YAML flow: `[A, B]`, `{webhook: …}`, `true`, `3`, plain or quoted strings.
        var yaml: String {
            switch self {
            case .bool(let b): b ? "true" : "false"
            case .number(let n): n
            case .string(let s): Plan.scalar(s)
            case .array(let a): "[" + a.map(\.yaml).joined(separator: ", ") + "]"
            case .object(let o): "{" + o.keys.sorted().map { "\($0): \(o[$0]!.yaml)" }.joined(separator: ", ") + "}"
            case .null: "null"
            }
        }
    }

    /// A job setting as written: durations (`timeout`, `starting_deadline`, stored in seconds) as `25m`.
    static func setting(_ key: String, _ value: JSON) -> String {
        guard key == "timeout" || key == "starting_deadline", case .number(let n) = value, let seconds = Int(n), seconds > 0 else {
            return value.yaml
        }
        var rest = seconds
        var out = ""
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }

    static func json(_ text: String) -> JSON? { try? JSONDecoder().decode(JSON.self, from: Data(text.utf8)) }

    static func jsonObject(_ text: String) -> [String: JSON]? {
        if case .object(let o) = json(text) { return o }
        return nil
    }

    static func boolean(_ s: String) -> String { s == "1" ? "true" : s == "0" ? "false" : scalar(s) }

    static func engineName(_ pdo: String) -> String {
        switch pdo {
        case "pdo_pgsql": "postgresql"
        case "pdo_mysql": "mysql"
        case "pdo_sqlsrv": "sqlserver"
        case "pdo_sqlite": "sqlite"
        default: scalar(pdo)
        }
    }

    /// A string as YAML writes it: plain when it reads back as the same string, quoted otherwise.
    static func scalar(_ s: String) -> String {
        let special: Set<Character> = ["@", "*", "&", "!", "|", ">", "'", "\"", "%", "`", "#", ",", "[", "]", "{", "}", "?", "-", ":"]
        let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~", ""]
        let plain =
            !reserved.contains(s.lowercased()) && !special.contains(s.first!) && !s.contains(": ") && !s.contains(" #")
            && s.trimmingCharacters(in: .whitespaces) == s && Double(s) == nil && !s.contains(where: \.isNewline)
        if plain { return s }
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"?\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    /// Text lines of a change in YAML terms, each ending with a newline-free string.
    func yamlLines(_ change: Change, indent: String, marked: Bool = false) -> [String] {
        yamlChanges(change).flatMap { c -> [String] in
            let old = c.sensitive ? "(sensitive)" : c.old ?? "null"
            let new = c.sensitive ? "(sensitive)" : c.new ?? "null"
            switch change.action {
            case .create:
                // Unset lists of the job's settings (`include: []`) say nothing on a new job.
                if (c.new == nil || (c.new == "[]" && c.key != "dictionaries")) && !c.sensitive { return [] }
                return ["\(marked ? "+ " : "")\(indent)\(c.key): \(new)"]
            case .delete:
                if c.old == nil && !c.sensitive { return [] }
                return ["\(marked ? "- " : "")\(indent)\(c.key): \(old)"]
            case .update, .adopt:
                if marked {
                    if c.sensitive { return ["! \(indent)\(c.key): (sensitive, changed)"] }
                    return (c.old == nil ? [] : ["- \(indent)\(c.key): \(old)"]) + (c.new == nil ? [] : ["+ \(indent)\(c.key): \(new)"])
                }
                return ["\(indent)\(c.key): \(c.sensitive ? "(sensitive, changed)" : "\(old) → \(new)")"]
            }
        }
    }
}
