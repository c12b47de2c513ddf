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
    /// Names for matching keys without making strings: per record (shape order), per level (ids).
    let fieldNames: [KeyNames]
    let idNames: [KeyNames]
    /// Per level, the keys a node object may have: "id", its records (layout indices in
    /// `nodeRecords`), then the child level's "level-N".
    let nodeKeys: [KeyNames]
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
            r.fields.filter { !$0.item.contentType.isBinary }.map {
                SlotInfo(numeric: $0.item.contentType == .numeric, occurrences: $0.occurrences)
            }
        }
        fieldNames = recordLayouts.map { KeyNames($0.shape.names) }
        idNames = dictionary.levels.map { KeyNames($0.ids.map(\.name)) }
        recordNames = recordLayouts.map(\.record.name)
        recordMaximum = recordLayouts.map(\.record.maxOccurrences)
        recordShapes = recordLayouts.map(\.shape)
        idNameStrings = dictionary.levels.map { $0.ids.map(\.name) }
        idNumeric = dictionary.levels.map { $0.ids.map { $0.contentType == .numeric } }
        nodeRecords = dictionary.levels.indices.map { l in recordLayouts.filter { $0.level == l }.map(\.index) }
        nodeKeys = dictionary.levels.indices.map { l in
            KeyNames(
                ["id"] + recordLayouts.filter { $0.level == l }.map(\.record.name)
                    + (l + 1 < dictionary.levels.count ? ["level-\(l + 2)"] : []))
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
        var idValues: [CaseValue] = []
        idValues.reserveCapacity(idNames.count)
        for _ in idNames { idValues.append(.blank) }
        try c.expect(UInt8(ascii: "{"))
        if c.consume(UInt8(ascii: "}")) {
            node.ids = Dictionary(uniqueKeysWithValues: zip(idNames, idValues))
            return node
        }
        let keys = nodeKeys[level]
        let recordIndices = nodeRecords[level]
        node.records.reserveCapacity(recordIndices.count)
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
                        occurrences.reserveCapacity(min(recordMaximum[index], 16))
                        repeat { occurrences.append(try parseRecord(&c, index)) } while c.consume(UInt8(ascii: ","))
                        try c.expect(UInt8(ascii: "]"))
                    }
                } else {
                    occurrences.append(try parseRecord(&c, index))
                }
                guard occurrences.count <= recordMaximum[index] else {
                    throw CaseDecodingError(
                        "record \(recordNames[index]) has \(occurrences.count) occurrences; the dictionary allows \(recordMaximum[index])")
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

    /// One record occurrence. CSPro writes items in dictionary order, so slots are appended in
    /// order (blanks for items absent from the JSON); a key out of order overwrites its slot.
    func parseRecord(_ c: inout Cursor, _ index: Int) throws -> RecordValues {
        let shape = recordShapes[index]
        let shapeFields = fields[index]
        var slots: [CaseValue] = []
        slots.reserveCapacity(shape.total)
        try c.expect(UInt8(ascii: "{"))
        let names = fieldNames[index]
        let offsets = shape.offsets
        var next = 0
        if !c.consume(UInt8(ascii: "}")) {
            repeat {
                guard let slotIndex = try c.matchKey(names, from: &next) else { try c.skipValue(); continue }
                let field = shapeFields[slotIndex]
                let base = offsets[slotIndex]
                while slots.count < base { slots.append(.blank) }
                if slots.count > base {
                    // Out of order or repeated: the last value given wins, as in the reference decoder.
                    while slots.count < base + field.occurrences { slots.append(.blank) }
                    for k in base..<base + field.occurrences { slots[k] = .blank }
                    try parseItem(&c, field, into: &slots, at: base, record: index, slot: slotIndex, append: false)
                } else {
                    try parseItem(&c, field, into: &slots, at: base, record: index, slot: slotIndex, append: true)
                    while slots.count < base + field.occurrences { slots.append(.blank) }
                }
            } while c.consume(UInt8(ascii: ","))
            try c.expect(UInt8(ascii: "}"))
        }
        while slots.count < shape.total { slots.append(.blank) }
        return RecordValues(shape: shape, slots: slots)
    }

    /// One item's value or array of occurrence values, appended to `slots` or written from `base`.
    @inline(__always)
    func parseItem(
        _ c: inout Cursor, _ field: SlotInfo, into slots: inout [CaseValue], at base: Int, record index: Int, slot: Int, append: Bool
    ) throws {
        c.skipSpace()
        guard c.peek == UInt8(ascii: "[") else {
            let v = try value(&c, numeric: field.numeric)
            if append { slots.append(v) } else { slots[base] = v }
            return
        }
        c.advance()
        if c.consume(UInt8(ascii: "]")) { return }
        var k = 0
        repeat {
            guard k < field.occurrences else {
                throw CaseDecodingError(
                    "\(recordNames[index]).\(recordShapes[index].names[slot]) has more than \(field.occurrences) occurrences, the dictionary's maximum"
                )
            }
            let v = try value(&c, numeric: field.numeric)
            if append { slots.append(v) } else { slots[base + k] = v }
            k += 1
        } while c.consume(UInt8(ascii: ","))
        try c.expect(UInt8(ascii: "]"))
    }

    /// One scalar value, interpreted for `item` exactly as ``JSONCaseDecoder`` does.
    func value(_ c: inout Cursor, numeric: Bool) throws -> CaseValue {
        c.skipSpace()
        switch c.peek {
        case UInt8(ascii: "\""):
            // Alpha text without escapes: straight from the bytes, making the string once.
            if !numeric, let raw = c.plainString() { return CaseValue.alpha(raw) }
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
    var peek: UInt8 {
        @inline(__always) get { i < bytes.count ? bytes[i] : 0 }
    }
    @inline(__always) mutating func advance() { i += 1 }

    func error(_ message: String) -> CaseDecodingError { CaseDecodingError("invalid JSON at byte \(i): \(message)") }

    /// CSPro writes compact JSON: one comparison when the next byte is not a space (most calls).
    @inline(__always) mutating func skipSpace() {
        guard i < bytes.count, bytes[i] <= 0x20 else { return }
        skipSpaces()
    }

    @inline(never) mutating func skipSpaces() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    @inline(__always) mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        if peek == byte { i += 1; return true }
        return false
    }

    @inline(__always) mutating func expect(_ byte: UInt8) throws {
        if !consume(byte) { throw expected(byte) }
    }

    @inline(never) func expected(_ byte: UInt8) -> CaseDecodingError { error("expected '\(Character(Unicode.Scalar(byte)))'") }

    mutating func literal(_ word: String) throws {
        for b in word.utf8 {
            guard peek == b else { throw error("expected \(word)") }
            i += 1
        }
    }

    /// Reads an object key and its colon, and finds it among `names` without making a string.
    /// CSPro writes keys in dictionary order, so the expected one (`next`) is compared in place
    /// first; otherwise the names after it, then those before it. Returns nil for a key that is not there.
    mutating func matchKey(_ names: KeyNames, from next: inout Int) throws -> Int? {
        skipSpace()
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        let start = i + 1
        if next < names.count {
            // The expected name with its closing quote and colon, `NAME":`, compared in place:
            // one comparison settles the name, the end of the key and the colon of compact JSON.
            let n = names.length(next)
            if start + n + 2 <= bytes.count, names.isKeyAndColon(next, bytes.baseAddress! + start) {
                i = start + n + 2
                next += 1
                return next - 1
            }
            if start + n < bytes.count, bytes[start + n] == UInt8(ascii: "\""),
                names.equals(next, bytes.baseAddress! + start, length: n, raw: true)
            {
                i = start + n + 1
                try expect(UInt8(ascii: ":"))
                next += 1
                return next - 1
            }
        }
        let found: Int?
        if let raw = plainString() {
            found = names.find(raw, from: next, raw: true)
            try expect(UInt8(ascii: ":"))
        } else {
            // Escaped key (rare): compare the decoded text.
            found = Array(try key().utf8).withUnsafeBufferPointer { names.find($0, from: next, raw: false) }
        }
        if let found { next = found + 1 }
        return found
    }

    /// The raw bytes of a string without escapes, moving past it; nil (not moving) when it has one.
    mutating func plainString() -> UnsafeBufferPointer<UInt8>? {
        var j = i + 1
        while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
            if bytes[j] == UInt8(ascii: "\\") { return nil }
            j += 1
        }
        guard j < bytes.count else { return nil }
        defer { i = j + 1 }
        return UnsafeBufferPointer(rebasing: bytes[(i + 1)..<j])
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
                guard j + 4 < raw.count,
                    let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[(j + 1)...(j + 4)]), as: UTF8.self), radix: 16)
                else {
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

    /// A JSON number as a Double. Up to 15 significant digits without an exponent are computed as
    /// digits / 10^k, which is exact in both operands and so correctly rounded, like `strtod`.
    mutating func number() throws -> Double {
        // Works on locals: the cursor is inout, so its fields would otherwise be reloaded per byte.
        let start = i
        let n = bytes.count
        guard i < n, let p = bytes.baseAddress else { throw error("expected a value") }
        var j = i
        var negative = false
        if p[j] == UInt8(ascii: "-") { negative = true; j += 1 }
        var mantissa: UInt64 = 0
        let integerStart = j
        while j < n {
            let d = p[j] &- 48
            if d > 9 { break }
            mantissa = mantissa &* 10 &+ UInt64(d)
            j += 1
        }
        var digits = j - integerStart
        guard digits > 0 else { i = j; throw error("expected a value") }
        var fraction = 0
        if j < n, p[j] == UInt8(ascii: ".") {
            j += 1
            let fractionStart = j
            while j < n {
                let d = p[j] &- 48
                if d > 9 { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                j += 1
            }
            fraction = j - fractionStart
            digits += fraction
        }
        var simple = digits <= 15
        if j < n, p[j] | 0x20 == UInt8(ascii: "e") {
            simple = false
            j += 1
            while j < n, (p[j] >= 48 && p[j] <= 57) || p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-") { j += 1 }
        }
        i = j
        // Most CSPro values are integers: exact as they are, no division and no table.
        if simple && fraction == 0 {
            let value = Double(mantissa)
            return negative ? -value : value
        }
        if simple && fraction < powersOfTen.count {
            let value = Double(mantissa) / powersOfTen[fraction]
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

/// 10⁰…10²² (every power of ten a Double holds exactly), as literals so that no lazy
/// initialisation runs on the hot path.
let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// A list of names stored once as UTF-8 in one buffer, for matching JSON keys in place. Each
/// name is stored followed by `":`, so that a key of compact JSON is compared with its end and
/// its colon at once.
/// Immutable after init, hence `@unchecked`: the buffer is written in init and only read after.
final class KeyNames: @unchecked Sendable {
    let count: Int
    private let storage: UnsafeMutablePointer<UInt8>
    /// Per name: its start in `storage`, its length, and whether it has no `"` or `\\` (only
    /// such names can be compared with a key's raw bytes). One array: one bounds check a lookup.
    private let entries: [Entry]
    private struct Entry {
        var start: Int
        var length: Int
        var plain: Bool
    }

    init(_ names: [String]) {
        count = names.count
        let utf8 = names.map { Array($0.utf8) }
        let total = utf8.reduce(0) { $0 + $1.count + 2 }
        storage = .allocate(capacity: max(total, 1))
        var entries: [Entry] = []
        var position = 0
        for name in utf8 {
            entries.append(Entry(start: position, length: name.count, plain: !name.contains(0x22) && !name.contains(0x5C)))
            (storage + position).initialize(from: name + [UInt8(ascii: "\""), UInt8(ascii: ":")], count: name.count + 2)
            position += name.count + 2
        }
        self.entries = entries
    }

    deinit { storage.deallocate() }

    @inline(__always) func length(_ k: Int) -> Int { entries[k].length }

    /// Whether the `length(k) + 2` bytes at `key` are name `k`, its closing quote and a colon.
    @inline(__always) func isKeyAndColon(_ k: Int, _ key: UnsafePointer<UInt8>) -> Bool {
        let e = entries[k]
        return e.plain && Self.same(key, UnsafePointer(storage + e.start), e.length + 2)
    }

    /// Byte equality, eight bytes at a time: names are short, and a call to `memcmp` costs more
    /// than comparing them.
    @inline(__always) static func same(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var j = 0
        while j + 8 <= count {
            let x = UnsafeRawPointer(a + j).loadUnaligned(as: UInt64.self)
            let y = UnsafeRawPointer(b + j).loadUnaligned(as: UInt64.self)
            if x != y { return false }
            j += 8
        }
        while j < count {
            if a[j] != b[j] { return false }
            j += 1
        }
        return true
    }

    /// Whether name `k` is the `length` bytes at `key`. `raw`: the bytes are a key as written in
    /// the JSON, which only a name without `"` or `\\` can equal.
    func equals(_ k: Int, _ key: UnsafePointer<UInt8>, length: Int, raw: Bool) -> Bool {
        let e = entries[k]
        return (!raw || e.plain) && e.length == length && Self.same(key, UnsafePointer(storage + e.start), length)
    }

    /// The name equal to `key`, searched from `next` on, then from the start.
    func find(_ key: UnsafeBufferPointer<UInt8>, from next: Int, raw: Bool) -> Int? {
        let base = key.baseAddress ?? UnsafePointer(storage)
        for step in 0..<count where equals((next + step) % count, base, length: key.count, raw: raw) {
            return (next + step) % count
        }
        return nil
    }
}
