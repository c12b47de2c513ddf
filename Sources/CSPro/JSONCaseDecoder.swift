import Diagnostics
import Foundation

/// Why a case could not be decoded; the breakout records it with the case id and revision and skips the case.
package struct CaseDecodingError: UserFacingError, Sendable, Hashable {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Cases in CSPro's sync JSON (`CaseJsonWriter`): the whole case object with `level-1` (CSPro 7.5+)
/// or `data` text lines (7.4 clients), or just the `level-1` object as CSWeb stores it.
package enum JSONCaseDecoder {
    /// Decodes a whole case object (`id`, `caseids`, `label`, `deleted`, `verified`, `notes`,
    /// `partialSave`, and `level-1` or `data`).
    package static func decodeCase(_ data: Data, layout: CaseLayout) throws -> Case {
        guard let object = try parse(data) as? [String: Any] else { throw CaseDecodingError("a case must be a JSON object") }
        return try decodeCase(object, layout: layout)
    }

    /// Decodes a JSON array of case objects.
    package static func decodeCases(_ data: Data, layout: CaseLayout) throws -> [Case] {
        guard let array = try parse(data) as? [Any] else { throw CaseDecodingError("expected a JSON array of cases") }
        return try array.enumerated().map { i, entry in
            guard let object = entry as? [String: Any] else { throw CaseDecodingError("case \(i + 1) is not a JSON object") }
            return try decodeCase(object, layout: layout)
        }
    }

    static func parse(_ data: Data) throws -> Any {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data).any
        } catch {
            throw CaseDecodingError("invalid JSON: \(error.localizedDescription)")
        }
    }

    static func decodeCase(_ object: [String: Any], layout: CaseLayout) throws -> Case {
        var c: Case
        if let level1 = object["level-1"] as? [String: Any] {
            c = Case(key: object["caseids"] as? String ?? "", root: try node(level1, level: 0, layout: layout))
        } else if let lines = object["data"] as? [Any] {
            let text = lines.compactMap { $0 as? String }
            let (cases, warnings) = TextCaseCodec.decode(text, layout: layout)
            if let warning = warnings.first { throw CaseDecodingError("data line \(warning.line): \(warning.message)") }
            guard cases.count == 1 else { throw CaseDecodingError("\"data\" holds \(cases.count) cases; expected 1") }
            c = cases[0]
        } else {
            throw CaseDecodingError("the case has neither \"level-1\" nor \"data\"")
        }
        c.id = object["id"] as? String
        if let key = object["caseids"] as? String { c.key = key }
        c.label = object["label"] as? String
        c.deleted = object["deleted"] as? Bool ?? false
        c.verified = object["verified"] as? Bool ?? false
        c.notes = (object["notes"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(note) }
        if let partial = object["partialSave"] as? [String: Any] {
            let field = partial["field"] as? [String: Any] ?? [:]
            c.partialSave = Case.PartialSave(
                mode: partial["mode"] as? String ?? "", field: field["name"] as? String ?? "",
                levelKey: field["levelKey"] as? String ?? "", recordOccurrence: field["recordOccurrence"] as? Int ?? 0,
                itemOccurrence: field["itemOccurrence"] as? Int ?? 0, subitemOccurrence: field["subitemOccurrence"] as? Int ?? 0)
        }
        return c
    }

    static func note(_ o: [String: Any]) -> Case.Note {
        let field = o["field"] as? [String: Any] ?? [:]
        return Case.Note(
            content: o["content"] as? String ?? "", field: field["name"] as? String ?? "", levelKey: field["levelKey"] as? String ?? "",
            recordOccurrence: field["recordOccurrence"] as? Int ?? 0, itemOccurrence: field["itemOccurrence"] as? Int ?? 0,
            subitemOccurrence: field["subitemOccurrence"] as? Int ?? 0, operatorId: o["operatorId"] as? String ?? "",
            modifiedTime: o["modifiedTime"] as? String ?? "")
    }

    /// Decodes just a `level-1` object (what CSWeb stores in its questionnaire blobs for 7.5+ clients).
    package static func decodeLevel(_ data: Data, layout: CaseLayout) throws -> CaseNode {
        guard let object = try parse(data) as? [String: Any] else { throw CaseDecodingError("the questionnaire must be a JSON object") }
        return try node(object, level: 0, layout: layout)
    }

    static func node(_ object: [String: Any], level: Int, layout: CaseLayout) throws -> CaseNode {
        let dictionary = layout.dictionary
        guard level < dictionary.levels.count else { throw CaseDecodingError("level \(level + 1) is not in dictionary \(dictionary.name)") }
        var node = CaseNode(level: level)
        let ids = object["id"] as? [String: Any] ?? [:]
        for id in dictionary.levels[level].ids {
            node.ids[id.name] = try value(ids[id.name], id, path: "id.\(id.name)").first ?? .blank
        }
        for record in layout.records where record.level == level {
            guard let raw = object[record.record.name] else { continue }
            let occurrences: [Any]
            if let list = raw as? [Any] { occurrences = list } else { occurrences = [raw] }
            guard occurrences.count <= record.record.maxOccurrences else {
                throw CaseDecodingError(
                    "record \(record.record.name) has \(occurrences.count) occurrences; the dictionary allows \(record.record.maxOccurrences)"
                )
            }
            node.records[record.record.name] = try occurrences.map { entry in
                guard let fields = entry as? [String: Any] else {
                    throw CaseDecodingError("record \(record.record.name) must be an object")
                }
                var values = RecordValues()
                for f in record.fields where !f.item.contentType.isBinary {
                    var list = try value(fields[f.item.name], f.item, path: "\(record.record.name).\(f.item.name)")
                    guard list.count <= f.occurrences else {
                        throw CaseDecodingError(
                            "\(record.record.name).\(f.item.name) has \(list.count) occurrences; the dictionary allows \(f.occurrences)")
                    }
                    while list.count < f.occurrences { list.append(.blank) }
                    values.values[f.item.name] = list
                }
                return values
            }
        }
        if level + 1 < dictionary.levels.count, let children = object["level-\(level + 2)"] as? [Any] {
            node.children = try children.map { child in
                guard let o = child as? [String: Any] else { throw CaseDecodingError("level-\(level + 2) entries must be objects") }
                return try self.node(o, level: level + 1, layout: layout)
            }
        }
        return node
    }

    /// The occurrences of one item's JSON value: numbers, strings (alpha, or special names for
    /// numeric items), arrays with `""` for blank occurrences, absent for all blank.
    static func value(_ raw: Any?, _ item: Item, path: String) throws -> [CaseValue] {
        guard let raw else { return [] }
        if let list = raw as? [Any] { return try list.map { try single($0, item, path: path) } }
        return [try single(raw, item, path: path)]
    }

    static func single(_ raw: Any, _ item: Item, path: String) throws -> CaseValue {
        switch raw {
        case let n as Int: return item.contentType == .numeric ? .number(Double(n)) : .text(String(n))
        case let d as Double: return item.contentType == .numeric ? .number(d) : .text(numberText(d))
        case let s as String: return CaseValue(jsonString: s, numeric: item.contentType == .numeric)
        case is NSNull: return .blank
        default:
            throw CaseDecodingError("\(path) has a value of an unexpected JSON type")
        }
    }
}

/// A JSON number as text (for an alpha item that holds one): whole numbers without ".0".
func numberText(_ d: Double) -> String {
    d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
}
