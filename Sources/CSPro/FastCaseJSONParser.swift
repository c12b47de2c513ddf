import Foundation

/// A byte-level parser for the `level-1` JSON CSWeb stores, specialised for the case format: it
/// walks the bytes once and builds the case tree directly, without a generic JSON tree. This is the
/// breakout's hot path (`JSONCaseDecoder` is the reference it is tested against).
struct FastCaseJSONParser {
    let dictionary: CSProDictionary
    let recordLayouts: [RecordLayout]
    /// Per record layout: for each value slot group (shape order), what parsing needs, without the
    /// reference-counted Item (copying it per value costs more than parsing the value).
    let fields: [[SlotInfo]]
    struct SlotInfo {
        var numeric: Bool
        var occurrences: Int
    }
    /// UTF-8 names for matching keys without making strings: per record (shape order), per level (ids).
    let fieldNames: [[[UInt8]]]
    let idNames: [[[UInt8]]]
    /// Per level, the keys a node object may have: "id", its records (layout indices in
    /// `nodeRecords`), then the child level's "level-N".
    let nodeKeys: [[[UInt8]]]
    let nodeRecords: [[Int]]
    /// Per level: id item names and whether each is numeric (no Item copies on the hot path).
    let idNameStrings: [[String]]
    let idNumeric: [[Bool]]
    /// Per record layout: what the parser needs of it, so the layout struct is never copied per record.
    let recordNames: [String]
    let recordMaximum: [Int]
    let recordShapes: [RecordShape]

    init(dictionary: CSProDictionary, records recordLayouts: [RecordLayout]) {
        self.dictionary = dictionary
        self.recordLayouts = recordLayouts
        fields = recordLayouts.map { r in
            r.fields.filter { !$0.item.contentType.isBinary }.map { SlotInfo(numeric: $0.item.contentType == .numeric, occurrences: $0.occurrences) }
        }
        fieldNames = recordLayouts.map { r in r.shape.names.map { Array($0.utf8) } }
        idNames = dictionary.levels.map { level in level.ids.map { Array($0.name.utf8) } }
        recordNames = recordLayouts.map(\.record.name)
        recordMaximum = recordLayouts.map(\.record.maxOccurrences)
        recordShapes = recordLayouts.map(\.shape)
        idNameStrings = dictionary.levels.map { $0.ids.map(\.name) }
        idNumeric = dictionary.levels.map { $0.ids.map { $0.contentType == .numeric } }
        nodeRecords = dictionary.levels.indices.map { l in recordLayouts.filter { $0.level == l }.map(\.index) }
        nodeKeys = dictionary.levels.indices.map { l in
            [Array("id".utf8)] + recordLayouts.filter { $0.level == l }.map { Array($0.record.name.utf8) }
                + (l + 1 < dictionary.levels.count ? [Array("level-\(l + 2)".utf8)] : [])
        }
    }

    func parseLevel(_ bytes: UnsafeBufferPointer<UInt8>) throws -> CaseNode {
        var cursor = Cursor(bytes: bytes)
        cursor.skipSpace()
        let node = try parseNode(&cursor, level: 0)
        cursor.skipSpace()
        guard cursor.atEnd else { throw cursor.error("unexpected text after the case object") }
        return node
    }

    func parseNode(_ c: inout Cursor, level: Int) throws -> CaseNode {
        var node = CaseNode(level: level)
        let idNames = idNameStrings[level]
        let idIsNumeric = idNumeric[level]
        var idValues = [CaseValue](repeating: .blank, count: idNames.count)
        try c.expect(UInt8(ascii: "{"))
        if c.consume(UInt8(ascii: "}")) {
            node.ids = Dictionary(uniqueKeysWithValues: zip(idNames, idValues))
            return node
        }
        let keys = nodeKeys[level]
        let recordIndices = nodeRecords[level]
        var next = 0
        repeat {
            let k = try c.matchKey(keys, from: &next)
            if k == 0 {
                try c.expect(UInt8(ascii: "{"))
                if !c.consume(UInt8(ascii: "}")) {
                    var next = 0
                    repeat {
                        if let i = try c.matchKey(self.idNames[level], from: &next) {
                            idValues[i] = try value(&c, numeric: idIsNumeric[i])
                        } else {
                            try c.skipValue()
                        }
                    } while c.consume(UInt8(ascii: ","))
                    try c.expect(UInt8(ascii: "}"))
                }
            } else if let k, k <= recordIndices.count {
                let index = recordIndices[k - 1]
                var occurrences: [RecordValues] = []
                c.skipSpace()
                if c.peek == UInt8(ascii: "[") {
                    c.advance()
                    if !c.consume(UInt8(ascii: "]")) {
                        repeat { occurrences.append(try parseRecord(&c, index)) } while c.consume(UInt8(ascii: ","))
                        try c.expect(UInt8(ascii: "]"))
                    }
                } else {
                    occurrences.append(try parseRecord(&c, index))
                }
                guard occurrences.count <= recordMaximum[index] else {
                    throw CaseDecodingError("record \(recordNames[index]) has \(occurrences.count) occurrences; the dictionary allows \(recordMaximum[index])")
                }
                node.records[recordNames[index]] = occurrences
            } else if k != nil {
                try c.expect(UInt8(ascii: "["))
                if !c.consume(UInt8(ascii: "]")) {
                    repeat { node.children.append(try parseNode(&c, level: level + 1)) } while c.consume(UInt8(ascii: ","))
                    try c.expect(UInt8(ascii: "]"))
                }
            } else {
                try c.skipValue()
            }
        } while c.consume(UInt8(ascii: ","))
        try c.expect(UInt8(ascii: "}"))
        node.ids = Dictionary(uniqueKeysWithValues: zip(idNames, idValues))
        return node
    }

    func parseRecord(_ c: inout Cursor, _ index: Int) throws -> RecordValues {
        let shape = recordShapes[index]
        let shapeFields = fields[index]
        var values = RecordValues(shape: shape)
        try c.expect(UInt8(ascii: "{"))
        let names = fieldNames[index]
        let offsets = shape.offsets
        var next = 0
        if !c.consume(UInt8(ascii: "}")) {
            repeat {
                guard let slotIndex = try c.matchKey(names, from: &next) else { try c.skipValue(); continue }
                let field = shapeFields[slotIndex]
                let base = offsets[slotIndex]
                c.skipSpace()
                if c.peek == UInt8(ascii: "[") {
                    c.advance()
                    var k = 0
                    if !c.consume(UInt8(ascii: "]")) {
                        repeat {
                            guard k < field.occurrences else {
                                throw CaseDecodingError("\(recordNames[index]).\(shape.names[slotIndex]) has more than \(field.occurrences) occurrences, the dictionary's maximum")
                            }
                            values.slots[base + k] = try value(&c, numeric: field.numeric)
                            k += 1
                        } while c.consume(UInt8(ascii: ","))
                        try c.expect(UInt8(ascii: "]"))
                    }
                } else {
                    values.slots[base] = try value(&c, numeric: field.numeric)
                }
            } while c.consume(UInt8(ascii: ","))
            try c.expect(UInt8(ascii: "}"))
        }
        return values
    }

    /// One scalar value, interpreted for `item` exactly as ``JSONCaseDecoder`` does.
    func value(_ c: inout Cursor, numeric: Bool) throws -> CaseValue {
        c.skipSpace()
        switch c.peek {
        case UInt8(ascii: "\""):
            return CaseValue(jsonString: try c.string(), numeric: numeric)
        case UInt8(ascii: "n"):
            try c.literal("null")
            return .blank
        default:
            let start = c.i
            let number = try c.number()
            return numeric ? .number(number) : .text(c.text(from: start))
        }
    }
}

/// A position in a byte buffer with the JSON primitives the case parser needs.
struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8 { i < bytes.count ? bytes[i] : 0 }
    mutating func advance() { i += 1 }

    func error(_ message: String) -> CaseDecodingError { CaseDecodingError("invalid JSON at byte \(i): \(message)") }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        if peek == byte { i += 1; return true }
        return false
    }

    mutating func expect(_ byte: UInt8) throws {
        guard consume(byte) else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
    }

    mutating func literal(_ word: String) throws {
        for b in word.utf8 {
            guard peek == b else { throw error("expected \(word)") }
            i += 1
        }
    }

    /// Reads an object key and its colon, and finds it among `names` without making a string:
    /// CSPro writes keys in dictionary order, so the expected one (`next`) is tried first.
    /// Returns nil for a key that is not there.
    mutating func matchKey(_ names: [[UInt8]], from next: inout Int) throws -> Int? {
        skipSpace()
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        let start = i + 1
        var j = start
        while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
            if bytes[j] == UInt8(ascii: "\\") {
                // Escaped key: rare; compare as a decoded string.
                let key = try self.key()
                let utf8 = Array(key.utf8)
                if let found = names.firstIndex(of: utf8) { next = found + 1; return found }
                return nil
            }
            j += 1
        }
        guard j < bytes.count else { throw error("unterminated string") }
        let key = UnsafeBufferPointer(rebasing: bytes[start..<j])
        i = j + 1
        try expect(UInt8(ascii: ":"))
        func same(_ name: [UInt8]) -> Bool {
            name.count == key.count && name.withUnsafeBufferPointer { memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }
        }
        if next < names.count, same(names[next]) { next += 1; return next - 1 }
        for (index, name) in names.enumerated() where same(name) { next = index + 1; return index }
        return nil
    }

    /// An object key followed by its colon.
    mutating func key() throws -> String {
        skipSpace()
        let k = try string()
        try expect(UInt8(ascii: ":"))
        return k
    }

    mutating func string() throws -> String {
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        i += 1
        let start = i
        var escaped = false
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") { escaped = true; i += 1 }
            i += 1
        }
        guard i < bytes.count else { throw error("unterminated string") }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<i])
        i += 1
        if !escaped { return String(decoding: raw, as: UTF8.self) }
        return try unescape(raw)
    }

    func unescape(_ raw: UnsafeBufferPointer<UInt8>) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var j = 0
        var pendingHigh: UInt32?
        func append(_ scalar: UInt32) {
            if let s = Unicode.Scalar(scalar) { out.append(contentsOf: Array(String(Character(s)).utf8)) }
        }
        while j < raw.count {
            let b = raw[j]
            guard b == UInt8(ascii: "\\") else { out.append(b); j += 1; continue }
            j += 1
            guard j < raw.count else { throw error("bad escape") }
            switch raw[j] {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard j + 4 < raw.count, let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[(j + 1)...(j + 4)]), as: UTF8.self), radix: 16) else {
                    throw error("bad \\u escape")
                }
                j += 4
                if (0xD800...0xDBFF).contains(code) { pendingHigh = code; j += 1; continue }
                if let high = pendingHigh, (0xDC00...0xDFFF).contains(code) {
                    append(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))
                } else {
                    append(code)
                }
                pendingHigh = nil
            default: out.append(raw[j])
            }
            j += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes from `start` to the cursor, as text.
    func text(from start: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
    }

    static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// A JSON number as a Double. Up to 15 significant digits without an exponent are computed as
    /// digits / 10^k, which is exact in both operands and so correctly rounded, like `strtod`.
    mutating func number() throws -> Double {
        let start = i
        var negative = false
        if peek == UInt8(ascii: "-") { negative = true; i += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
            mantissa = mantissa &* 10 &+ UInt64(bytes[i] - 48)
            i += 1
            digits += 1
        }
        guard digits > 0 else { throw error("expected a value") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                mantissa = mantissa &* 10 &+ UInt64(bytes[i] - 48)
                i += 1
                digits += 1
                fraction += 1
            }
        }
        var simple = digits <= 15
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            simple = false
            i += 1
            while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        }
        if simple {
            let value = Double(mantissa) / Cursor.powersOfTen[fraction]
            return negative ? -value : value
        }
        guard let d = Double(text(from: start)) else { throw error("bad number") }
        return d
    }

    /// Skips any JSON value (nested at most 256 deep: garbage must not exhaust the stack).
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < 256 else { throw error("values nested more than 256 deep") }
        skipSpace()
        switch peek {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close: UInt8 = peek == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            if consume(close) { return }
            repeat {
                if close == UInt8(ascii: "}") { _ = try key() }
                try skipValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            try expect(close)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }
}
