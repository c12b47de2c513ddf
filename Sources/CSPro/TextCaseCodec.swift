import Foundation

/// Cases as fixed-width text lines (`.dat` files, CSPro 7.4 `data` arrays, `.csdb` questionnaires),
/// read and written as CSPro's `TextToCaseConverter` does: one line per record occurrence, the ids of
/// its level and the levels above on every line, a new case when the level-1 ids change, a new
/// child node when that level's ids change, `~` lines skipped as deleted records.
package enum TextCaseCodec {
    package struct Warning: Sendable, Hashable, CustomStringConvertible {
        package var line: Int
        package var message: String
        package var description: String { "line \(line): \(message)" }
    }

    /// Splits file bytes into lines: UTF-8 with a BOM (or valid UTF-8) else Windows-1252/Latin-1;
    /// `\n`, `\r\n` or `\r` endings.
    package static func lines(of data: Data) -> [String] {
        var bytes = data[...]
        var text: String
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            bytes = bytes.dropFirst(3)
            text = String(decoding: bytes, as: UTF8.self)
        } else if let utf8 = String(data: Data(bytes), encoding: .utf8) {
            text = utf8
        } else {
            text = String(bytes.map { Character(Unicode.Scalar($0)) })
        }
        if text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        if text.isEmpty { return [] }
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).map(String.init)
    }

    /// Reads every case of a sequence of lines.
    package static func decode(_ lines: [String], layout: CaseLayout) -> (cases: [Case], warnings: [Warning]) {
        var cases: [Case] = []
        var warnings: [Warning] = []
        let dictionary = layout.dictionary
        var currentKey: String?
        var root = CaseNode(level: 0)
        // The id text of the open node at each level.
        var openIds: [String] = []
        func finish() {
            if let key = currentKey { cases.append(Case(key: key, root: root)) }
        }
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("~") || line.isEmpty { continue }
            let scalars = Array(line.unicodeScalars)
            let type = field(scalars, dictionary.recordTypeStart - 1, dictionary.recordTypeLength)
            guard let record = layout.record(forType: type) else {
                warnings.append(Warning(line: index + 1, message: "unknown record type \"\(type)\"; line skipped"))
                continue
            }
            let levelKeys = (0...record.level).map { l in dictionary.levels[l].ids.map { field(scalars, $0.start - 1, $0.length) }.joined()
            }
            if levelKeys[0] != currentKey {
                finish()
                currentKey = levelKeys[0]
                root = makeNode(0, scalars, dictionary.levels[0].ids)
                openIds = [levelKeys[0]]
            }
            // Walk (or open) the node of each level down to the record's.
            var path: [Int] = []
            var node = root
            for l in 1..<max(1, record.level + 1) where record.level >= 1 {
                if openIds.count > l, openIds[l] == levelKeys[l], let last = node.children.indices.last {
                    path.append(last)
                    node = node.children[last]
                } else {
                    openIds = Array(openIds.prefix(l)) + [levelKeys[l]]
                    let child = makeNode(l, scalars, dictionary.levels[l].ids)
                    update(&root, path) { $0.children.append(child) }
                    path.append(node.children.count)
                    node = child
                }
            }
            if openIds.count > record.level + 1 { openIds = Array(openIds.prefix(record.level + 1)) }
            let values = recordValues(scalars, record)
            var dropped = false
            update(&root, path) { n in
                let existing = n.records[record.record.name]?.count ?? 0
                if existing >= record.record.maxOccurrences { dropped = true; return }
                n.records[record.record.name, default: []].append(values)
            }
            if dropped {
                warnings.append(
                    Warning(
                        line: index + 1,
                        message: "record \(record.record.name) has more than \(record.record.maxOccurrences) occurrences; line dropped"))
            }
        }
        finish()
        return (cases, warnings)
    }

    static func update(_ node: inout CaseNode, _ path: ArraySlice<Int>, _ body: (inout CaseNode) -> Void) {
        guard let first = path.first else { return body(&node) }
        update(&node.children[first], path.dropFirst(), body)
    }

    static func update(_ node: inout CaseNode, _ path: [Int], _ body: (inout CaseNode) -> Void) {
        update(&node, path[...], body)
    }

    /// Columns `[offset, offset+length)` of a line, blank-padded when the line is short.
    static func field(_ scalars: [Unicode.Scalar], _ offset: Int, _ length: Int) -> String {
        guard length > 0 else { return "" }
        var out = String.UnicodeScalarView()
        for i in offset..<offset + length { out.append(i < scalars.count ? scalars[i] : " ") }
        return String(out)
    }

    static func makeNode(_ level: Int, _ scalars: [Unicode.Scalar], _ ids: [Item]) -> CaseNode {
        var node = CaseNode(level: level)
        for id in ids {
            let text = field(scalars, id.start - 1, id.length)
            node.ids[id.name] = value(text, id)
            node.writtenIds[id.name] = text
        }
        return node
    }

    static func recordValues(_ scalars: [Unicode.Scalar], _ record: RecordLayout) -> RecordValues {
        // Values go straight into the layout's slots (no per-record shape or dictionary of values);
        // the field texts are kept so that an unchanged value is written back as it was read.
        let shape = record.shape
        var values = RecordValues(shape: shape)
        var written: [String: [String]] = [:]
        written.reserveCapacity(record.fields.count)
        for f in record.fields {
            let slot = shape.index[f.item.name].map { shape.offsets[$0] }
            var texts: [String] = []
            texts.reserveCapacity(f.occurrences)
            for k in 0..<f.occurrences {
                let text = field(scalars, f.offset + k * f.stride, f.item.length)
                if let slot { values.slots[slot + k] = value(text, f.item) }
                texts.append(text)
            }
            written[f.item.name] = texts
        }
        values.written = written
        return values
    }

    /// A field's value: numbers per `NumberConverter` (leading blanks skipped, all blank = NOTAPPL,
    /// optional sign, `.` or `,` as decimal mark, implied decimals without a mark, anything else
    /// DEFAULT); alpha verbatim, right-trimmed, all blank = blank.
    package static func value(_ text: String, _ item: Item) -> CaseValue {
        if item.contentType != .numeric { return CaseValue(alpha: text) }
        if let fast = fastNumber(text, decimals: item.decimals) { return fast }
        var s = Substring(text)
        while s.first == " " { s = s.dropFirst() }
        if s.isEmpty { return .blank }
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        var digits = ""
        var fraction: String?
        for ch in s {
            if ch.isASCII, ch.isNumber {
                if fraction != nil { fraction!.append(ch) } else { digits.append(ch) }
            } else if (ch == "." || ch == ","), fraction == nil {
                fraction = ""
            } else {
                return .invalid(text)
            }
        }
        if digits.isEmpty && (fraction ?? "").isEmpty { return .invalid(text) }
        var v: Double
        if let fraction {
            v = Double((digits.isEmpty ? "0" : digits) + "." + (fraction.isEmpty ? "0" : fraction)) ?? 0
        } else {
            v = Double(digits) ?? 0
            if item.decimals > 0 { v /= pow(10, Double(item.decimals)) }
        }
        return .number(negative ? -v : v)
    }

    /// The common case of ``value(_:_:)`` for numbers without building strings: blanks, a sign,
    /// up to 15 digits and one decimal mark. Returns nil for anything else (the general path
    /// decides). Up to 15 digits, digits / 10^k is exact in both operands and so correctly
    /// rounded, the same Double as parsing the text.
    static func fastNumber(_ text: String, decimals: Int) -> CaseValue? {
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var inFraction = false
        var negative = false
        var started = false
        for b in text.utf8 {
            switch b {
            case 0x20 where !started: continue
            case 0x2D where !started, 0x2B where !started:
                negative = b == 0x2D
                started = true
            case 0x30...0x39:
                started = true
                mantissa = mantissa &* 10 &+ UInt64(b - 0x30)
                digits += 1
                if inFraction { fractionDigits += 1 }
            case 0x2E where !inFraction, 0x2C where !inFraction:
                started = true
                inFraction = true
            default:
                return nil
            }
        }
        if !started { return .blank }
        guard digits > 0, digits <= 15 else { return nil }
        let scale = inFraction ? fractionDigits : decimals
        guard scale < powersOfTen.count else { return nil }
        let v = Double(mantissa) / powersOfTen[scale]
        return .number(negative ? -v : v)
    }

    // MARK: Writing

    /// The lines of one case: each node's records in dictionary order, one line per occurrence,
    /// then its children; lines right-trimmed as CSPro writes them.
    package static func encode(_ c: Case, layout: CaseLayout) -> [String] {
        var out: [String] = []
        encode(c.root, ancestors: [], layout: layout, into: &out)
        return out
    }

    static func encode(_ node: CaseNode, ancestors: [CaseNode], layout: CaseLayout, into out: inout [String]) {
        let dictionary = layout.dictionary
        let chain = ancestors + [node]
        for record in layout.records where record.level == node.level {
            for occurrence in node.records[record.record.name] ?? [] {
                var line = [Unicode.Scalar](repeating: " ", count: record.length)
                put(&line, dictionary.recordTypeStart - 1, dictionary.recordTypeLength, record.record.typeValue)
                for (l, n) in chain.enumerated() {
                    for id in dictionary.levels[l].ids {
                        put(&line, id.start - 1, id.length, text(n.ids[id.name] ?? .blank, id, written: n.writtenIds[id.name]))
                    }
                }
                for f in record.fields {
                    let values = occurrence.values[f.item.name] ?? []
                    let written = occurrence.written[f.item.name] ?? []
                    for k in 0..<min(values.count, f.occurrences) {
                        put(
                            &line, f.offset + k * f.stride, f.item.length,
                            text(values[k], f.item, written: k < written.count ? written[k] : nil))
                    }
                }
                while line.last == " " { line.removeLast() }
                var view = String.UnicodeScalarView()
                view.append(contentsOf: line)
                out.append(String(view))
            }
        }
        for child in node.children { encode(child, ancestors: chain, layout: layout, into: &out) }
    }

    static func put(_ line: inout [Unicode.Scalar], _ offset: Int, _ length: Int, _ text: String) {
        guard length > 0 else { return }
        var i = offset
        for scalar in text.unicodeScalars.prefix(length) {
            if i < line.count { line[i] = scalar }
            i += 1
        }
    }

    /// The text a value was read from when it still reads as that value, else its canonical text.
    static func text(_ value: CaseValue, _ item: Item, written: String?) -> String {
        if let written, written.unicodeScalars.count == item.length, TextCaseCodec.value(written, item) == value { return written }
        return text(value, item)
    }

    /// A value as its field text (exactly `item.length` characters).
    package static func text(_ value: CaseValue, _ item: Item) -> String {
        let n = item.length
        func pad(_ s: String, zero: Bool) -> String {
            if s.count > n { return String(repeating: "*", count: n) }
            if zero, s.hasPrefix("-") { return "-" + String(repeating: "0", count: n - s.count) + s.dropFirst() }
            return String(repeating: zero ? "0" : " ", count: n - s.count) + s
        }
        switch value {
        case .blank: return String(repeating: " ", count: n)
        case .invalid(let raw): return raw.count == n ? raw : pad(raw, zero: false)
        case .text(let s):
            if item.contentType == .numeric { return pad(s, zero: item.zeroFill) }
            let scalars = s.unicodeScalars
            return scalars.count >= n
                ? String(String.UnicodeScalarView(scalars.prefix(n))) : s + String(repeating: " ", count: n - scalars.count)
        case .special(let special):
            if let code = code(for: special, item) { return text(.number(code), item) }
            return special == .notApplicable ? String(repeating: " ", count: n) : String(repeating: "*", count: n)
        case .number(let v):
            let s: String
            if item.decimals == 0 {
                s = String(Int64(v.rounded()))
            } else if item.decimalMark {
                s = String(format: "%.\(item.decimals)f", v)
            } else {
                s = String(Int64((v * pow(10, Double(item.decimals))).rounded()))
            }
            return pad(s, zero: item.zeroFill)
        }
    }

    /// The code an item's first value set maps to a special value, if any.
    static func code(for special: Special, _ item: Item) -> Double? {
        guard let set = item.valueSets.first else { return nil }
        for value in set.values where value.special == special {
            if let piece = value.pieces.first, let code = Double(piece.from) { return code }
        }
        return nil
    }
}
