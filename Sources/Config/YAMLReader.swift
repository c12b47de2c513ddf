import Yams

/// One YAML file, composed into nodes that keep their line and column.
struct YAMLFile {
    let path: String
    let text: String
    let root: Node?

    /// Parses `text`; a syntax error or a duplicate key becomes a diagnostic (the file is then
    /// skipped, since its structure is unknown).
    static func parse(path: String, text: String, sink: DiagnosticSink) -> YAMLFile? {
        do {
            return YAMLFile(path: path, text: text, root: try Yams.compose(yaml: text))
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let location =
                duplicateLocation(text: text, first: context.mark, key: duplicates.first ?? "")
                .map { SourceLocation(file: path, line: $0.line, column: $0.column) }
                ?? SourceLocation(file: path, line: context.mark.line, column: context.mark.column)
            sink.error(
                location, "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")): each key may appear once in a mapping")
        } catch let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _),
            let YamlError.composer(_, problem, mark, _)
        {
            sink.error(SourceLocation(file: path, line: mark.line, column: mark.column), "YAML syntax error: \(problem)")
        } catch {
            sink.error(SourceLocation(file: path, line: 1, column: 1), "cannot read YAML: \(error)")
        }
        return nil
    }

    /// The second occurrence of a duplicated key: the next line after the first one that has the
    /// key at the same column.
    private static func duplicateLocation(text: String, first: Mark, key: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        for index in first.line..<lines.count {
            let line = Array(lines[index].unicodeScalars)
            let column = first.column - 1
            guard column < line.count else { continue }
            let rest = String(String.UnicodeScalarView(line[column...]))
            if rest.hasPrefix(key + ":") || rest.hasPrefix("\"\(key)\":") || rest.hasPrefix("'\(key)':") {
                return (index + 1, first.column)
            }
        }
        return nil
    }

    func location(_ node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: path, line: 1, column: 1) }
        return SourceLocation(file: path, line: mark.line, column: mark.column)
    }
}

/// Reads one YAML mapping as a configuration object: every key must be known, each value of the
/// expected type; problems go to the sink with the value's position.
struct MappingReader {
    let file: YAMLFile
    let node: Node
    let mapping: Node.Mapping
    /// What the mapping is, for messages (`connection "postgres-ansd"`).
    let what: String
    let sink: DiagnosticSink

    init?(_ node: Node, in file: YAMLFile, what: String, allowedKeys: [String], sink: DiagnosticSink) {
        guard let mapping = node.mapping else {
            sink.error(file.location(node), "\(what) must be a mapping of keys to values, got \(MappingReader.describe(node))")
            return nil
        }
        self.file = file
        self.node = node
        self.mapping = mapping
        self.what = what
        self.sink = sink
        for key in mapping.keys {
            guard let name = key.scalar?.string else {
                sink.error(file.location(key), "\(what) has a key that is not a plain name")
                continue
            }
            if !allowedKeys.contains(name) {
                let hint =
                    suggestion(for: name, in: allowedKeys).map { "; did you mean \"\($0)\"?" }
                    ?? "; allowed keys: \(allowedKeys.joined(separator: ", "))"
                sink.error(file.location(key), "unknown key \"\(name)\" in \(what)\(hint)")
            }
        }
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "an empty value" : "\"\(s.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    var location: SourceLocation { file.location(node) }

    /// The node for `key`, or nil (with an error when required).
    func value(_ key: String, required: Bool = false) -> Node? {
        if let node = mapping[key] {
            if case .scalar(let s) = node, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) {
                if required { sink.error(file.location(node), "\(what): \"\(key)\" must not be empty") }
                return nil
            }
            return node
        }
        if required { sink.error(location, "\(what) is missing required key \"\(key)\"") }
        return nil
    }

    func string(_ key: String, required: Bool = false) -> Located<String>? {
        guard let node = value(key, required: required) else { return nil }
        guard let scalar = node.scalar else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be text, got \(Self.describe(node))")
            return nil
        }
        return Located(scalar.string, at: file.location(node))
    }

    func int(_ key: String, range: ClosedRange<Int>? = nil) -> Located<Int>? {
        guard let node = value(key) else { return nil }
        guard let scalar = node.scalar, scalar.style == .plain, let v = Int(scalar.string) else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be a whole number, got \(Self.describe(node))")
            return nil
        }
        if let range, !range.contains(v) {
            sink.error(file.location(node), "\(what): \"\(key)\" is \(v), out of range \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return Located(v, at: file.location(node))
    }

    func bool(_ key: String) -> Located<Bool>? {
        guard let node = value(key) else { return nil }
        // YAML 1.2 core booleans only: `yes`, `no`, `on`, `off` are not booleans.
        guard let scalar = node.scalar, scalar.style == .plain, ["true", "True", "TRUE", "false", "False", "FALSE"].contains(scalar.string)
        else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be true or false, got \(Self.describe(node))")
            return nil
        }
        return Located(scalar.string.lowercased() == "true", at: file.location(node))
    }

    func stringList(_ key: String) -> [Located<String>]? {
        guard let node = value(key) else { return nil }
        guard case .sequence(let sequence) = node else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be a list, got \(Self.describe(node))")
            return nil
        }
        var out: [Located<String>] = []
        for item in sequence {
            guard let scalar = item.scalar, !scalar.string.isEmpty else {
                sink.error(file.location(item), "\(what): every item of \"\(key)\" must be text, got \(Self.describe(item))")
                continue
            }
            out.append(Located(scalar.string, at: file.location(item)))
        }
        return out
    }

    func stringMap(_ key: String) -> [String: String]? {
        guard let node = value(key) else { return nil }
        guard let mapping = node.mapping else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be a mapping, got \(Self.describe(node))")
            return nil
        }
        var out: [String: String] = [:]
        for (k, v) in mapping {
            guard let name = k.scalar?.string, let value = v.scalar?.string else {
                sink.error(file.location(v), "\(what): \"\(key)\" values must be text")
                continue
            }
            out[name] = value
        }
        return out
    }

    func sequence(_ key: String) -> [Node]? {
        guard let node = value(key) else { return nil }
        guard case .sequence(let sequence) = node else {
            sink.error(file.location(node), "\(what): \"\(key)\" must be a list, got \(Self.describe(node))")
            return nil
        }
        return Array(sequence)
    }

    func child(_ key: String, what childWhat: String, allowedKeys: [String], required: Bool = false) -> MappingReader? {
        guard let node = value(key, required: required) else { return nil }
        return MappingReader(node, in: file, what: childWhat, allowedKeys: allowedKeys, sink: sink)
    }
}
