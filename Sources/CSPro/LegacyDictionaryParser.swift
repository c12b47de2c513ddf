import Foundation

/// Reads CSPro's legacy text dictionary format (CSPro 6.x–7.6, `[Dictionary]` sections), as
/// `Pre80SpecFile.cpp` does: lines trimmed, blank lines skipped, `.` comments, `&` continuations,
/// `key=value` split at the first `=`, keys case-insensitive. Errors name the line.
enum LegacyDictionaryParser {
    struct Line {
        var number: Int
        var text: String
    }

    static func parse(_ text: String, file: String) throws -> CSProDictionary {
        // Logical lines: trimmed, comments and blanks dropped, continuations joined.
        var lines: [Line] = []
        var pending: Line?
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .enumerated()
        {
            var line = raw.trimmingCharacters(in: .whitespacesAndBOM)
            if index == 0, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix(".") { continue }
            let continued = line.hasSuffix("&")
            if continued { line.removeLast() }
            if var p = pending { p.text += line; pending = p } else { pending = Line(number: index + 1, text: line) }
            if !continued, let p = pending { lines.append(p); pending = nil }
        }
        if let p = pending { lines.append(p) }

        func fail(_ line: Line, _ message: String) -> DictionaryError {
            DictionaryError(file: file, location: "line \(line.number)", message: message)
        }
        func yes(_ v: String) -> Bool { v.lowercased() == "yes" }
        func number(_ line: Line, _ v: String, _ key: String) throws -> Int {
            guard let n = Int(v) else { throw fail(line, "\(key)=\(v) is not a number") }
            return n
        }

        guard let first = lines.first, first.text.lowercased() == "[dictionary]" else {
            throw DictionaryError(
                file: file, location: "line \(lines.first?.number ?? 1)", message: "a legacy dictionary starts with [Dictionary]")
        }
        var dictionary = CSProDictionary(
            name: "", labels: [], recordTypeStart: 1, recordTypeLength: 0, relativePositions: true,
            defaultZeroFill: false, defaultDecimalMark: false, languages: [], levels: [])
        enum Section { case dictionary, languages, level, idItems, record, item, valueSet, relation, other }
        var section = Section.dictionary
        var inIds = false
        var dictionaryLabel = ""
        // The object being filled.
        var level: Level?
        var record: Record?
        var item: Item?
        var valueSet: ValueSet?
        var lastParent: String?

        func labels(_ raw: String) -> [Label] {
            let parts = raw.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            // A label without `|` is language-neutral (the JSON format writes it without a language).
            if dictionary.languages.isEmpty || parts.count == 1 {
                return raw.isEmpty ? [] : [Label(parts[0])]
            }
            return parts.enumerated().compactMap { i, text in
                guard !text.isEmpty, i < dictionary.languages.count else { return nil }
                return Label(text, language: dictionary.languages[i].name)
            }
        }

        func closeValueSet() {
            if let vs = valueSet { item?.valueSets.append(vs) }
            valueSet = nil
        }
        func closeItem() {
            closeValueSet()
            guard let it = item else { return }
            if inIds {
                level?.ids.append(it)
            } else {
                record?.items.append(it)
                if !it.isSubitem { lastParent = it.name }
            }
            item = nil
        }
        func closeRecord() {
            closeItem()
            if let r = record { level?.records.append(r) }
            record = nil
        }
        func closeLevel() {
            closeRecord()
            if let l = level { dictionary.levels.append(l) }
            level = nil
        }

        for line in lines.dropFirst() {
            if line.text.hasPrefix("[") {
                let name = line.text.lowercased()
                switch name {
                case "[languages]": section = .languages
                case "[level]":
                    closeLevel()
                    level = Level(name: "", labels: [], ids: [], records: [])
                    section = .level
                case "[iditems]":
                    guard level != nil else { throw fail(line, "[IdItems] outside a [Level]") }
                    closeItem()
                    inIds = true
                    section = .idItems
                case "[record]":
                    guard level != nil else { throw fail(line, "[Record] outside a [Level]") }
                    closeRecord()
                    inIds = false
                    lastParent = nil
                    record = Record(name: "", labels: [], typeValue: "", required: true, maxOccurrences: 1, items: [])
                    section = .record
                case "[item]":
                    guard inIds || record != nil else { throw fail(line, "[Item] outside [IdItems] or a [Record]") }
                    closeItem()
                    item = Item(
                        name: "", labels: [], contentType: .numeric, start: 0, length: 0, decimals: 0, decimalMark: false,
                        zeroFill: false, occurrences: 1, parent: nil, valueSets: [])
                    section = .item
                case "[valueset]":
                    guard item != nil else { throw fail(line, "[ValueSet] without an [Item] before it") }
                    closeValueSet()
                    valueSet = ValueSet(name: "", labels: [], values: [], link: nil)
                    section = .valueSet
                case "[relation]":
                    closeLevel()
                    section = .relation
                default:
                    throw fail(line, "unknown section \(line.text)")
                }
                continue
            }
            guard let eq = line.text.firstIndex(of: "=") else { throw fail(line, "expected key=value") }
            let key = line.text[..<eq].lowercased()
            let value = String(line.text[line.text.index(after: eq)...])
            switch section {
            case .dictionary:
                switch key {
                case "name": dictionary.name = value
                case "label": dictionaryLabel = value
                case "recordtypestart": dictionary.recordTypeStart = try number(line, value, "RecordTypeStart")
                case "recordtypelen": dictionary.recordTypeLength = try number(line, value, "RecordTypeLen")
                case "positions": dictionary.relativePositions = value.lowercased() == "relative"
                case "zerofill": dictionary.defaultZeroFill = yes(value)
                case "decimalchar": dictionary.defaultDecimalMark = yes(value)
                default: break
                }
            case .languages:
                dictionary.languages.append(.init(name: String(line.text[..<eq]), label: value))
            case .level:
                if key == "name" { level?.name = value } else if key == "label" { level?.labels = labels(value) }
            case .record:
                switch key {
                case "name": record?.name = value
                case "label": record?.labels = labels(value)
                case "recordtypevalue":
                    record?.typeValue =
                        value.count >= 2 && value.hasPrefix("'") && value.hasSuffix("'") ? String(value.dropFirst().dropLast()) : value
                case "required": record?.required = yes(value)
                case "maxrecords": record?.maxOccurrences = try number(line, value, "MaxRecords")
                default: break
                }
            case .item:
                guard var it = item else { break }
                switch key {
                case "name": it.name = value
                case "label": it.labels = labels(value)
                case "start": it.start = try number(line, value, "Start")
                case "len": it.length = try number(line, value, "Len")
                case "datatype":
                    guard let type = Item.ContentType(rawValue: value.lowercased()) else { throw fail(line, "unknown DataType=\(value)") }
                    it.contentType = type
                case "itemtype":
                    if value.lowercased() == "subitem" {
                        guard !inIds, let parent = lastParent else { throw fail(line, "a subitem must follow the item it belongs to") }
                        it.parent = parent
                    }
                case "occurrences": it.occurrences = try number(line, value, "Occurrences")
                case "decimal": it.decimals = try number(line, value, "Decimal")
                case "decimalchar": it.decimalMark = yes(value)
                case "zerofill": it.zeroFill = yes(value)
                default: break
                }
                item = it
            case .valueSet:
                guard var vs = valueSet else { break }
                switch key {
                case "name":
                    // `Name=NOTAPPL,Special` marks the value just above as a special value.
                    let parts = value.split(separator: ",")
                    if parts.count == 2, parts[1].lowercased() == "special", let special = Special(rawValue: parts[0].uppercased()),
                        !vs.values.isEmpty
                    {
                        vs.values[vs.values.count - 1].special = special
                    } else {
                        vs.name = value
                    }
                case "label": vs.labels = labels(value)
                case "link": vs.link = value
                case "value": vs.values.append(try parseValue(value, line: line, file: file, labels: labels))
                default: break
                }
                valueSet = vs
            case .idItems, .relation, .other:
                break
            }
        }
        closeLevel()
        dictionary.labels = labels(dictionaryLabel)
        for l in dictionary.levels.indices {
            for r in dictionary.levels[l].records.indices {
                for i in dictionary.levels[l].records[r].items.indices {
                    let it = dictionary.levels[l].records[r].items[i]
                    if it.length < 1 { throw DictionaryError(file: file, location: "item \(it.name)", message: "Len must be at least 1") }
                    if it.decimals == 0 { dictionary.levels[l].records[r].items[i].decimalMark = false }
                }
            }
            for i in dictionary.levels[l].ids.indices where dictionary.levels[l].ids[i].decimals == 0 {
                dictionary.levels[l].ids[i].decimalMark = false
            }
        }
        dictionary.resolveLinks()
        return dictionary
    }

    /// `from[:to] [from[:to] …][;label]`; quoted pieces (`' '`, `'01  '`) are alpha or blank values.
    static func parseValue(_ text: String, line: Line, file: String, labels: (String) -> [Label]) throws -> ValueSet.Value {
        var pieces: [ValueSet.Piece] = []
        let chars = Array(text)
        var i = 0
        var label = ""
        func token() -> String {
            if i < chars.count, chars[i] == "'" {
                var out = ""
                i += 1
                while i < chars.count, chars[i] != "'" { out.append(chars[i]); i += 1 }
                i += 1
                return out.trimmingCharacters(in: .whitespaces)
            }
            var out = ""
            while i < chars.count, chars[i] != " ", chars[i] != ":", chars[i] != ";" { out.append(chars[i]); i += 1 }
            return out
        }
        while i < chars.count {
            if chars[i] == " " { i += 1; continue }
            if chars[i] == ";" {
                label = String(chars[(i + 1)...])
                break
            }
            let from = token()
            var to: String?
            if i < chars.count, chars[i] == ":" {
                i += 1
                to = token()
            }
            pieces.append(.init(from: from, to: to))
        }
        return ValueSet.Value(labels: labels(label), pieces: pieces, special: nil)
    }
}

extension CharacterSet {
    static let whitespacesAndBOM = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\u{FEFF}"))
}
