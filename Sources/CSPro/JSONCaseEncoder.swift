import Foundation

/// Writes cases as CSPro's sync JSON (`CaseJsonWriter`): keys in dictionary order, blank items
/// omitted, repeating items as arrays up to the last non-blank entry with `""` for blanks,
/// records with more than one allowed occurrence as arrays, child levels as `level-N` arrays.
package enum JSONCaseEncoder {
    /// The whole case object.
    package static func encode(_ c: Case, layout: CaseLayout) -> String {
        var out = "{"
        var fields: [String] = []
        if let id = c.id { fields.append("\"id\":\(quote(id))") }
        if let label = c.label { fields.append("\"label\":\(quote(label))") }
        fields.append("\"caseids\":\(quote(c.key))")
        if c.deleted { fields.append("\"deleted\":true") }
        if c.verified { fields.append("\"verified\":true") }
        fields.append("\"level-1\":" + encode(c.root, layout: layout))
        out += fields.joined(separator: ",") + "}"
        return out
    }

    /// One level node (what CSWeb stores for the root).
    package static func encode(_ node: CaseNode, layout: CaseLayout) -> String {
        let dictionary = layout.dictionary
        var fields: [String] = []
        let ids = dictionary.levels[node.level].ids.compactMap { id -> String? in
            guard let v = node.ids[id.name], let text = value(v, id) else { return nil }
            return "\(quote(id.name)):\(text)"
        }
        fields.append("\"id\":{" + ids.joined(separator: ",") + "}")
        for record in layout.records where record.level == node.level {
            guard let occurrences = node.records[record.record.name], !occurrences.isEmpty else { continue }
            let objects = occurrences.map { occurrence in
                let values = occurrence.values  // built once per occurrence, not once per item
                return "{"
                    + record.fields.compactMap { f -> String? in
                        guard let list = values[f.item.name], let text = encodeOccurrences(list, f) else { return nil }
                        return "\(quote(f.item.name)):\(text)"
                    }.joined(separator: ",") + "}"
            }
            let body = record.record.maxOccurrences > 1 ? "[" + objects.joined(separator: ",") + "]" : objects[0]
            fields.append("\(quote(record.record.name)):\(body)")
        }
        if !node.children.isEmpty {
            fields.append("\"level-\(node.level + 2)\":[" + node.children.map { encode($0, layout: layout) }.joined(separator: ",") + "]")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func encodeOccurrences(_ list: [CaseValue], _ field: RecordLayout.Field) -> String? {
        if field.occurrences == 1 { return list.first.flatMap { value($0, field.item) } }
        guard let last = list.lastIndex(where: { !$0.isBlank }) else { return nil }
        return "[" + list[...last].map { value($0, field.item) ?? "\"\"" }.joined(separator: ",") + "]"
    }

    /// A value as JSON; nil for blank.
    static func value(_ v: CaseValue, _ item: Item) -> String? {
        switch v {
        case .blank: return nil
        case .text(let s): return quote(s)
        case .special(let s): return quote(s.rawValue)
        case .invalid: return quote(Special.default.rawValue)
        case .number(let d):
            if item.decimals == 0, d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
            return "\(d)"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
