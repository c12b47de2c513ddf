import Diagnostics

/// A CSPro data dictionary, as both file formats (JSON 7.7+ and legacy text) describe it.
///
/// Item starts are absolute (1-based columns), computed for relative positions, so a record's
/// fixed-width text can be read without looking back at the file format.
public struct CSProDictionary: Sendable, Hashable, Codable {
    public var name: String
    public var labels: [Label]
    public var recordTypeStart: Int
    /// 0 when the dictionary has a single record type.
    public var recordTypeLength: Int
    public var relativePositions: Bool
    /// Dictionary-wide defaults, as written (items carry their resolved values).
    public var defaultZeroFill: Bool
    public var defaultDecimalMark: Bool
    /// Language codes, in label order (empty for a single-language dictionary).
    public var languages: [Language]
    public var levels: [Level]

    public struct Language: Sendable, Hashable, Codable {
        public var name: String
        public var label: String
        public init(name: String, label: String) { (self.name, self.label) = (name, label) }
    }

    public init(
        name: String, labels: [Label], recordTypeStart: Int, recordTypeLength: Int, relativePositions: Bool,
        defaultZeroFill: Bool, defaultDecimalMark: Bool, languages: [Language], levels: [Level]
    ) {
        (self.name, self.labels, self.recordTypeStart, self.recordTypeLength, self.relativePositions) =
            (name, labels, recordTypeStart, recordTypeLength, relativePositions)
        (self.defaultZeroFill, self.defaultDecimalMark, self.languages, self.levels) = (
            defaultZeroFill, defaultDecimalMark, languages, levels
        )
    }

    /// Gives every linked value set the values of the first set with the same link.
    mutating func resolveLinks() {
        var linked: [String: [ValueSet.Value]] = [:]
        func visit(_ item: inout Item) {
            for v in item.valueSets.indices {
                guard let link = item.valueSets[v].link else { continue }
                if let values = linked[link], item.valueSets[v].values.isEmpty {
                    item.valueSets[v].values = values
                } else if linked[link] == nil, !item.valueSets[v].values.isEmpty {
                    linked[link] = item.valueSets[v].values
                }
            }
        }
        for l in levels.indices {
            for i in levels[l].ids.indices { visit(&levels[l].ids[i]) }
            for r in levels[l].records.indices {
                for i in levels[l].records[r].items.indices { visit(&levels[l].records[r].items[i]) }
            }
        }
    }

    /// Every record of every level, in order.
    public var allRecords: [(level: Int, record: Record)] {
        levels.enumerated().flatMap { index, level in level.records.map { (index, $0) } }
    }
}

/// A label in one language (`language` nil in a single-language dictionary).
public struct Label: Sendable, Hashable, Codable {
    public var text: String
    public var language: String?

    public init(_ text: String, language: String? = nil) {
        self.text = text
        self.language = language
    }
}

public struct Level: Sendable, Hashable, Codable {
    public var name: String
    public var labels: [Label]
    public var ids: [Item]
    public var records: [Record]

    public init(name: String, labels: [Label], ids: [Item], records: [Record]) {
        (self.name, self.labels, self.ids, self.records) = (name, labels, ids, records)
    }
}

public struct Record: Sendable, Hashable, Codable {
    public var name: String
    public var labels: [Label]
    /// The record type value as written (`"1"`); empty when the dictionary has one record type.
    public var typeValue: String
    public var required: Bool
    public var maxOccurrences: Int
    public var items: [Item]

    public init(name: String, labels: [Label], typeValue: String, required: Bool, maxOccurrences: Int, items: [Item]) {
        (self.name, self.labels, self.typeValue, self.required, self.maxOccurrences, self.items) = (
            name, labels, typeValue, required, maxOccurrences, items
        )
    }
}

public struct Item: Sendable, Hashable, Codable {
    public enum ContentType: String, Sendable, Hashable, Codable, CaseIterable {
        case numeric, alpha, audio, document, geometry, image
        public var isBinary: Bool { ![.numeric, .alpha].contains(self) }
    }

    public var name: String
    public var labels: [Label]
    public var contentType: ContentType
    /// Absolute, 1-based column of the first occurrence.
    public var start: Int
    public var length: Int
    public var decimals: Int
    /// Whether the decimal point is written in the data (only meaningful when `decimals > 0`).
    public var decimalMark: Bool
    public var zeroFill: Bool
    public var occurrences: Int
    /// The name of the item this one is a subitem of; nil for ordinary items.
    public var parent: String?
    public var valueSets: [ValueSet]

    public init(
        name: String, labels: [Label], contentType: ContentType, start: Int, length: Int, decimals: Int, decimalMark: Bool,
        zeroFill: Bool, occurrences: Int, parent: String?, valueSets: [ValueSet]
    ) {
        (self.name, self.labels, self.contentType, self.start, self.length, self.decimals) = (
            name, labels, contentType, start, length, decimals
        )
        (self.decimalMark, self.zeroFill, self.occurrences, self.parent, self.valueSets) = (
            decimalMark, zeroFill, occurrences, parent, valueSets
        )
    }

    public var isSubitem: Bool { parent != nil }
}

public struct ValueSet: Sendable, Hashable, Codable {
    public var name: String
    public var labels: [Label]
    public var values: [Value]
    /// Value sets sharing a link share their values; the first one in the file carries them.
    public var link: String?

    public struct Value: Sendable, Hashable, Codable {
        public var labels: [Label]
        public var pieces: [Piece]
        public var special: Special?
    }

    /// One value, or a range `from…to` (alpha values are kept as written, blank as "").
    public struct Piece: Sendable, Hashable, Codable {
        public var from: String
        public var to: String?
    }
}

/// CSPro's special values.
public enum Special: String, Sendable, Hashable, Codable, CaseIterable {
    case missing = "MISSING"
    case refused = "REFUSED"
    case notApplicable = "NOTAPPL"
    case `default` = "DEFAULT"
}

/// A dictionary file that cannot be read: where (line for legacy text, JSON path for JSON) and why.
public struct DictionaryError: UserFacingError, Sendable, Hashable {
    public var file: String
    /// `line 12` or `levels[0].records[2].items[5].length`.
    public var position: String
    public var message: String

    public init(file: String, location: String, message: String) {
        self.file = file
        position = location
        self.message = message
    }

    public var description: String { "\(file): \(position): \(message)" }
}
