/// One questionnaire: its key, flags and the tree of level nodes holding record values.
package struct Case: Sendable, Hashable {
    /// The case UUID (`cases.id` in CSWeb and .csdb); nil when read from text without one.
    package var id: String?
    /// The level-1 id text (`caseids`).
    package var key: String
    package var label: String?
    package var deleted: Bool
    package var verified: Bool
    package var notes: [Note]
    package var partialSave: PartialSave?
    package var root: CaseNode

    package init(
        id: String? = nil, key: String, label: String? = nil, deleted: Bool = false, verified: Bool = false,
        notes: [Note] = [], partialSave: PartialSave? = nil, root: CaseNode
    ) {
        self.id = id
        self.key = key
        self.label = label
        self.deleted = deleted
        self.verified = verified
        self.notes = notes
        self.partialSave = partialSave
        self.root = root
    }

    package struct Note: Sendable, Hashable {
        package var content: String
        package var field: String
        package var levelKey: String
        package var recordOccurrence: Int
        package var itemOccurrence: Int
        package var subitemOccurrence: Int
        package var operatorId: String
        package var modifiedTime: String

        package init(
            content: String, field: String, levelKey: String, recordOccurrence: Int, itemOccurrence: Int,
            subitemOccurrence: Int, operatorId: String, modifiedTime: String
        ) {
            self.content = content
            self.field = field
            self.levelKey = levelKey
            self.recordOccurrence = recordOccurrence
            self.itemOccurrence = itemOccurrence
            self.subitemOccurrence = subitemOccurrence
            self.operatorId = operatorId
            self.modifiedTime = modifiedTime
        }
    }

    package struct PartialSave: Sendable, Hashable {
        package var mode: String
        package var field: String
        package var levelKey: String
        package var recordOccurrence: Int
        package var itemOccurrence: Int
        package var subitemOccurrence: Int

        package init(mode: String, field: String, levelKey: String, recordOccurrence: Int, itemOccurrence: Int, subitemOccurrence: Int) {
            self.mode = mode
            self.field = field
            self.levelKey = levelKey
            self.recordOccurrence = recordOccurrence
            self.itemOccurrence = itemOccurrence
            self.subitemOccurrence = subitemOccurrence
        }
    }
}

/// A node of the case tree: the id values of its level, its records and its child nodes.
package struct CaseNode: Sendable, Hashable {
    /// 0 for level 1.
    package var level: Int
    package var ids: [String: CaseValue]
    /// The id field texts, when read from text (see ``RecordValues/written``).
    package var writtenIds: [String: String] = [:]
    /// Record name → occurrences, in the order read.
    package var records: [String: [RecordValues]]
    package var children: [CaseNode]

    package init(level: Int, ids: [String: CaseValue] = [:], records: [String: [RecordValues]] = [:], children: [CaseNode] = []) {
        self.level = level
        self.ids = ids
        self.records = records
        self.children = children
    }
}

/// One occurrence of a record: item name → values, one per item occurrence.
///
/// Values live in one flat array in field order (occurrences consecutive), addressed through a
/// shared ``RecordShape``: the decoders on the breakout's hot path fill slots without building a
/// dictionary per record. `values` gives (and takes) the same content keyed by item name.
package struct RecordValues: Sendable, Hashable {
    package private(set) var shape: RecordShape
    package var slots: [CaseValue]
    /// The field texts the values were read from (text sources only), so that writing an unchanged
    /// value gives back the same text even where the data disagree with the dictionary's zero fill.
    package var written: [String: [String]]

    package init(values: [String: [CaseValue]] = [:], written: [String: [String]] = [:]) {
        let names = values.keys.sorted()
        shape = RecordShape(names: names, counts: names.map { values[$0]!.count })
        slots = names.flatMap { values[$0]! }
        self.written = written
    }

    /// Blank values in the layout of `shape`.
    package init(shape: RecordShape) {
        self.shape = shape
        // Appending into reserved capacity rather than `Array(repeating:count:)`, whose storage is
        // allocated through the runtime's generic metadata lookup on every call.
        slots = []
        slots.reserveCapacity(shape.total)
        for _ in 0..<shape.total { slots.append(.blank) }
        written = [:]
    }

    /// Values already laid out for `shape` (`slots.count == shape.total`).
    init(shape: RecordShape, slots: [CaseValue]) {
        self.shape = shape
        self.slots = slots
        written = [:]
    }

    /// Item name → its values, one per occurrence.
    package var values: [String: [CaseValue]] {
        get {
            var out = [String: [CaseValue]](minimumCapacity: shape.names.count)
            for (i, name) in shape.names.enumerated() { out[name] = Array(slots[shape.offsets[i]..<shape.offsets[i] + shape.counts[i]]) }
            return out
        }
        set {
            self = RecordValues(values: newValue, written: written)
        }
    }

    package subscript(item: String, occurrence: Int = 0) -> CaseValue {
        guard let i = shape.index[item], occurrence < shape.counts[i] else { return .blank }
        return slots[shape.offsets[i] + occurrence]
    }

    package static func == (a: RecordValues, b: RecordValues) -> Bool {
        a.shape === b.shape ? a.slots == b.slots : a.values == b.values
    }

    package func hash(into hasher: inout Hasher) {
        for name in shape.names.sorted() { hasher.combine(name); hasher.combine(values[name]) }
    }
}

/// The slot layout of a record's values: item names in order, where each starts and how many occurrences.
package final class RecordShape: Sendable {
    package let names: [String]
    package let counts: [Int]
    package let offsets: [Int]
    package let index: [String: Int]
    package let total: Int

    package init(names: [String], counts: [Int]) {
        self.names = names
        self.counts = counts
        var offsets: [Int] = []
        var total = 0
        for c in counts { offsets.append(total); total += c }
        self.offsets = offsets
        self.total = total
        index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

/// An item value as CSPro distinguishes them.
package enum CaseValue: Sendable, Hashable {
    /// Blank: CSPro's NOTAPPL.
    case blank
    case number(Double)
    /// Alpha text, right-trimmed (as CSPro's JSON writes it); an all-blank alpha value is `.blank`.
    case text(String)
    /// MISSING, REFUSED, NOTAPPL or DEFAULT named as such (JSON strings).
    case special(Special)
    /// Text in a numeric field that is not a number (CSPro reads it as DEFAULT); the raw field is kept.
    case invalid(String)

    package var isBlank: Bool { self == .blank }

    /// Alpha text, right-trimmed; all blank is blank (CSPro's alpha fields are space-padded).
    package init(alpha text: String) {
        var text = text
        self = text.withUTF8 { CaseValue.alpha($0) }
    }

    /// Alpha text from its UTF-8 bytes, right-trimmed; all blank is blank. Spaces are trimmed as
    /// bytes: a space is one UTF-8 byte and never part of a multi-byte character, and comparing
    /// bytes avoids grapheme breaking on the hot path.
    static func alpha(_ bytes: UnsafeBufferPointer<UInt8>) -> CaseValue {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x20 { end -= 1 }
        return end == 0 ? .blank : .text(String(decoding: UnsafeBufferPointer(rebasing: bytes[..<end]), as: UTF8.self))
    }

    /// A JSON string value as CSPro's sync JSON means it: alpha text right-trimmed (all blank is
    /// blank); for a numeric item `""` is blank, a special value's name is that special value, a
    /// number in quotes is the number, anything else is DEFAULT with its text kept.
    package init(jsonString s: String, numeric: Bool) {
        if !numeric {
            self = CaseValue(alpha: s)
        } else if s.isEmpty {
            self = .blank
        } else if let special = Special(rawValue: s) {
            self = special == .notApplicable ? .blank : .special(special)
        } else if let d = Double(s) {
            self = .number(d)
        } else {
            self = .invalid(s)
        }
    }
}
