import Foundation

/// Reads CSPro's JSON dictionary format (CSPro 7.7 and later, `"fileType": "dictionary"`).
/// Errors name the JSON path of the offending value.
enum JSONDictionaryParser {
    static func parse(_ data: Data, file: String) throws -> CSProDictionary {
        let root: Any
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: data).any
        } catch {
            throw DictionaryError(file: file, location: "JSON", message: "not valid JSON: \(error.localizedDescription)")
        }
        var reader = JSONReader(file: file)
        let top = try reader.object(root, "$")
        guard (top["fileType"] as? String) == "dictionary" else {
            throw DictionaryError(file: file, location: "fileType", message: "not a CSPro dictionary (fileType is not \"dictionary\")")
        }
        let recordType = try reader.optionalObject(top["recordType"], "recordType") ?? [:]
        let defaults = try reader.optionalObject(top["defaults"], "defaults") ?? [:]
        let defaultZeroFill = try reader.bool(defaults["zeroFill"], "defaults.zeroFill") ?? false
        let defaultDecimalMark = try reader.bool(defaults["decimalMark"], "defaults.decimalMark") ?? true
        let relative = try reader.bool(top["relativePositions"], "relativePositions") ?? true
        var languages: [CSProDictionary.Language] = []
        for (i, entry) in try reader.array(top["languages"] ?? [Any](), "languages").enumerated() {
            let o = try reader.object(entry, "languages[\(i)]")
            languages.append(.init(name: try reader.string(o["name"], "languages[\(i)].name"), label: (o["label"] as? String) ?? ""))
        }
        var dictionary = CSProDictionary(
            name: try reader.string(top["name"], "name"), labels: try reader.labels(top["labels"], "labels"),
            recordTypeStart: try reader.int(recordType["start"], "recordType.start") ?? 1,
            recordTypeLength: try reader.int(recordType["length"], "recordType.length") ?? 0,
            relativePositions: relative, defaultZeroFill: defaultZeroFill, defaultDecimalMark: defaultDecimalMark,
            languages: languages, levels: [])
        var pendingByRecord: [[[DictionaryLayout.Pending]]] = []
        for (l, levelValue) in try reader.array(top["levels"], "levels").enumerated() {
            let path = "levels[\(l)]"
            let level = try reader.object(levelValue, path)
            let idsObject = try reader.optionalObject(level["ids"], "\(path).ids") ?? [:]
            var ids: [Item] = []
            var idPending: [DictionaryLayout.Pending] = []
            for (i, v) in try reader.array(idsObject["items"] ?? [Any](), "\(path).ids.items").enumerated() {
                let (item, pending) = try readItem(v, "\(path).ids.items[\(i)]", &reader, defaultZeroFill: defaultZeroFill, parent: nil)
                ids.append(item)
                idPending.append(pending)
            }
            DictionaryLayout.assignStarts(&ids, pending: idPending, firstColumn: 1)
            var records: [Record] = []
            var levelPending: [[DictionaryLayout.Pending]] = []
            for (r, v) in try reader.array(level["records"] ?? [Any](), "\(path).records").enumerated() {
                let rpath = "\(path).records[\(r)]"
                let record = try reader.object(v, rpath)
                let occurrences = try reader.optionalObject(record["occurrences"], "\(rpath).occurrences") ?? [:]
                var items: [Item] = []
                var pending: [DictionaryLayout.Pending] = []
                var lastParent: String?
                for (i, itemValue) in try reader.array(record["items"] ?? [Any](), "\(rpath).items").enumerated() {
                    let (item, p) = try readItem(
                        itemValue, "\(rpath).items[\(i)]", &reader, defaultZeroFill: defaultZeroFill, parent: lastParent)
                    if !item.isSubitem { lastParent = item.name }
                    items.append(item)
                    pending.append(p)
                }
                records.append(
                    Record(
                        name: try reader.string(record["name"], "\(rpath).name"),
                        labels: try reader.labels(record["labels"], "\(rpath).labels"),
                        typeValue: (record["recordType"] as? String) ?? "",
                        required: try reader.bool(occurrences["required"], "\(rpath).occurrences.required") ?? true,
                        maxOccurrences: try reader.int(occurrences["maximum"], "\(rpath).occurrences.maximum") ?? 1, items: items))
                levelPending.append(pending)
            }
            dictionary.levels.append(
                Level(
                    name: try reader.string(level["name"], "\(path).name"), labels: try reader.labels(level["labels"], "\(path).labels"),
                    ids: ids, records: records))
            pendingByRecord.append(levelPending)
        }
        let first = DictionaryLayout.firstRecordColumn(
            dictionary.levels, recordTypeStart: dictionary.recordTypeStart,
            recordTypeLength: dictionary.recordTypeLength)
        for l in dictionary.levels.indices {
            for r in dictionary.levels[l].records.indices {
                DictionaryLayout.assignStarts(&dictionary.levels[l].records[r].items, pending: pendingByRecord[l][r], firstColumn: first)
            }
        }
        dictionary.resolveLinks()
        return dictionary
    }

    static func readItem(
        _ value: Any, _ path: String, _ reader: inout JSONReader, defaultZeroFill: Bool,
        parent: String?
    ) throws -> (Item, DictionaryLayout.Pending) {
        let o = try reader.object(value, path)
        let typeName = try reader.string(o["contentType"] ?? "numeric", "\(path).contentType")
        guard let type = Item.ContentType(rawValue: typeName.lowercased()) else {
            throw DictionaryError(file: reader.file, location: "\(path).contentType", message: "unknown content type \"\(typeName)\"")
        }
        let length = try reader.int(o["length"], "\(path).length") ?? 0
        guard length >= 1 else {
            throw DictionaryError(file: reader.file, location: "\(path).length", message: "an item needs a length of at least 1")
        }
        let isSubitem = try reader.bool(o["subitem"], "\(path).subitem") ?? false
        if isSubitem && parent == nil {
            throw DictionaryError(file: reader.file, location: "\(path).subitem", message: "a subitem must follow the item it belongs to")
        }
        let decimals = try reader.int(o["decimals"], "\(path).decimals") ?? 0
        var occurrences = 1
        if let occ = try reader.optionalObject(o["occurrences"], "\(path).occurrences") {
            occurrences = try reader.int(occ["maximum"], "\(path).occurrences.maximum") ?? 1
        }
        guard occurrences >= 1 else {
            throw DictionaryError(file: reader.file, location: "\(path).occurrences.maximum", message: "occurrences must be at least 1")
        }
        var valueSets: [ValueSet] = []
        for (i, vs) in try reader.array(o["valueSets"] ?? [Any](), "\(path).valueSets").enumerated() {
            valueSets.append(try readValueSet(vs, "\(path).valueSets[\(i)]", &reader))
        }
        let item = Item(
            name: try reader.string(o["name"], "\(path).name"), labels: try reader.labels(o["labels"], "\(path).labels"),
            contentType: type, start: 0, length: length, decimals: decimals,
            decimalMark: decimals > 0 ? (try reader.bool(o["decimalMark"], "\(path).decimalMark") ?? false) : false,
            zeroFill: try reader.bool(o["zeroFill"], "\(path).zeroFill") ?? (type == .numeric ? defaultZeroFill : false),
            occurrences: occurrences, parent: isSubitem ? parent : nil, valueSets: valueSets)
        let pending = DictionaryLayout.Pending(
            explicitStart: try reader.int(o["start"], "\(path).start"),
            subitemOffset: isSubitem ? (try reader.int(o["subitemOffset"], "\(path).subitemOffset") ?? 0) : nil)
        return (item, pending)
    }

    static func readValueSet(_ value: Any, _ path: String, _ reader: inout JSONReader) throws -> ValueSet {
        let o = try reader.object(value, path)
        var values: [ValueSet.Value] = []
        for (i, v) in try reader.array(o["values"] ?? [Any](), "\(path).values").enumerated() {
            let vpath = "\(path).values[\(i)]"
            let entry = try reader.object(v, vpath)
            var pieces: [ValueSet.Piece] = []
            for (p, pairValue) in try reader.array(entry["pairs"] ?? [Any](), "\(vpath).pairs").enumerated() {
                let pair = try reader.object(pairValue, "\(vpath).pairs[\(p)]")
                if let range = pair["range"] as? [Any], range.count == 2 {
                    pieces.append(
                        .init(
                            from: "\(range[0])".trimmingCharacters(in: .whitespaces), to: "\(range[1])".trimmingCharacters(in: .whitespaces)
                        ))
                } else if let single = pair["value"] {
                    pieces.append(.init(from: "\(single)".trimmingCharacters(in: .whitespaces), to: nil))
                } else {
                    throw DictionaryError(
                        file: reader.file, location: "\(vpath).pairs[\(p)]", message: "a pair needs \"value\" or \"range\"")
                }
            }
            var special: Special?
            if let s = entry["special"] as? String {
                guard let parsed = Special(rawValue: s.uppercased()) else {
                    throw DictionaryError(file: reader.file, location: "\(vpath).special", message: "unknown special value \"\(s)\"")
                }
                special = parsed
            }
            values.append(.init(labels: try reader.labels(entry["labels"], "\(vpath).labels"), pieces: pieces, special: special))
        }
        return ValueSet(
            name: try reader.string(o["name"], "\(path).name"), labels: try reader.labels(o["labels"], "\(path).labels"),
            values: values, link: o["link"].map { "\($0)" })
    }
}

/// Typed access to `JSONSerialization` output with JSON-path errors.
struct JSONReader {
    let file: String

    func fail(_ path: String, _ message: String) -> DictionaryError { DictionaryError(file: file, location: path, message: message) }

    func object(_ value: Any?, _ path: String) throws -> [String: Any] {
        guard let o = value as? [String: Any] else { throw fail(path, "expected an object") }
        return o
    }

    func optionalObject(_ value: Any?, _ path: String) throws -> [String: Any]? {
        guard let value else { return nil }
        return try object(value, path)
    }

    func array(_ value: Any?, _ path: String) throws -> [Any] {
        guard let a = value as? [Any] else { throw fail(path, value == nil ? "missing" : "expected an array") }
        return a
    }

    func string(_ value: Any?, _ path: String) throws -> String {
        guard let s = value as? String else { throw fail(path, value == nil ? "missing" : "expected a string") }
        return s
    }

    func int(_ value: Any?, _ path: String) throws -> Int? {
        guard let value else { return nil }
        if value is Bool { throw fail(path, "expected a whole number, got true/false") }
        if let n = value as? Int { return n }
        if let d = value as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        if let s = value as? String, let n = Int(s) { return n }
        throw fail(path, "expected a whole number")
    }

    func bool(_ value: Any?, _ path: String) throws -> Bool? {
        guard let value else { return nil }
        if let b = value as? Bool { return b }
        throw fail(path, "expected true or false")
    }

    func labels(_ value: Any?, _ path: String) throws -> [Label] {
        guard let value else { return [] }
        if let s = value as? String { return s.isEmpty ? [] : [Label(s)] }
        return try array(value, path).enumerated().compactMap { i, entry in
            let o = try object(entry, "\(path)[\(i)]")
            let text = (o["text"] as? String) ?? ""
            return text.isEmpty ? nil : Label(text, language: o["language"] as? String)
        }
    }
}

/// JSON decoded without Foundation's NSNumber bridging, so that `1` never reads as `true`.
enum JSONValue: Decodable {
    case bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
            // Trying each JSON type in turn: a failed decode only means "not this type".
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Plain Swift values: Bool, Int, Double, String, [Any], [String: Any]; null is dropped from objects.
    var any: Any {
        switch self {
        case .bool(let b): b
        case .int(let i): i
        case .double(let d): d
        case .string(let s): s
        case .array(let a): a.map(\.any)
        case .object(let o):
            o.compactMapValues { (value: JSONValue) -> Any? in
                if case .null = value { return nil }
                return value.any
            }
        case .null: NSNull()
        }
    }
}
