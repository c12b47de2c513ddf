import Diagnostics

/// A CSPro data dictionary, as both file formats (JSON 7.7+ and legacy text) describe it.
///
/// Item starts are absolute (1-based columns), computed for relative positions, so a record's
/// fixed-width text can be read without looking back at the file format.
package struct CSProDictionary: Sendable, Hashable, Codable {
    package var name: String
    package var labels: [Label]
    package var recordTypeStart: Int
    /// 0 when the dictionary has a single record type.
    package var recordTypeLength: Int
    package var relativePositions: Bool
    /// Dictionary-wide defaults, as written (items carry their resolved values).
    package var defaultZeroFill: Bool
    package var defaultDecimalMark: Bool
    /// Language codes, in label order (empty for a single-language dictionary).
    package var languages: [Language]
    package var levels: [Level]

    package struct Language: Sendable, Hashable, Codable {
        package var name: String
        package var label: String
        package init(name: String, label: String) { (self.name, self.label) = (name, label) }
    }

    package init(
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

    /// The languages labels are written in: the declared ones, else those the labels name, in the
    /// order they first appear (a JSON dictionary may label in `EN` and `FR` without a
    /// `languages` list). Empty for a single-language dictionary.
    package var labelLanguages: [String] {
        if !languages.isEmpty { return languages.map(\.name) }
        var seen: [String] = []
        func note(_ labels: [Label]) {
            for label in labels { if let l = label.language, !seen.contains(l) { seen.append(l) } }
        }
        note(labels)
        for level in levels {
            note(level.labels)
            for item in level.ids { note(item.labels) }
            for record in level.records {
                note(record.labels)
                for item in record.items {
                    note(item.labels)
                    for set in item.valueSets { for value in set.values { note(value.labels) } }
                }
            }
        }
        return seen
    }

    /// `wanted` as ``labelLanguages`` spells it (compared without case); nil when it is not one.
    package func labelLanguage(named wanted: String) -> String? {
        labelLanguages.first { $0.caseInsensitiveCompare(wanted) == .orderedSame }
    }

    /// Every record of every level, in order.
    package var allRecords: [(level: Int, record: Record)] {
        levels.enumerated().flatMap { index, level in level.records.map { (index, $0) } }
    }
}

/// A label in one language (`language` nil in a single-language dictionary).
package struct Label: Sendable, Hashable, Codable {
    package var text: String
    package var language: String?

    package init(_ text: String, language: String? = nil) {
        self.text = text
        self.language = language
    }
}

package struct Level: Sendable, Hashable, Codable {
    package var name: String
    package var labels: [Label]
    package var ids: [Item]
    package var records: [Record]

    package init(name: String, labels: [Label], ids: [Item], records: [Record]) {
        (self.name, self.labels, self.ids, self.records) = (name, labels, ids, records)
    }
}

package struct Record: Sendable, Hashable, Codable {
    package var name: String
    package var labels: [Label]
    /// The record type value as written (`"1"`); empty when the dictionary has one record type.
    package var typeValue: String
    package var required: Bool
    package var maxOccurrences: Int
    package var items: [Item]

    package init(name: String, labels: [Label], typeValue: String, required: Bool, maxOccurrences: Int, items: [Item]) {
        (self.name, self.labels, self.typeValue, self.required, self.maxOccurrences, self.items) = (
            name, labels, typeValue, required, maxOccurrences, items
        )
    }
}

package struct Item: Sendable, Hashable, Codable {
    package enum ContentType: String, Sendable, Hashable, Codable, CaseIterable {
        case numeric, alpha, audio, document, geometry, image
        package var isBinary: Bool { ![.numeric, .alpha].contains(self) }
    }

    package var name: String
    package var labels: [Label]
    package var contentType: ContentType
    /// Absolute, 1-based column of the first occurrence.
    package var start: Int
    package var length: Int
    package var decimals: Int
    /// Whether the decimal point is written in the data (only meaningful when `decimals > 0`).
    package var decimalMark: Bool
    package var zeroFill: Bool
    package var occurrences: Int
    /// The name of the item this one is a subitem of; nil for ordinary items.
    package var parent: String?
    package var valueSets: [ValueSet]

    package init(
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

    package var isSubitem: Bool { parent != nil }
}

package struct ValueSet: Sendable, Hashable, Codable {
    package var name: String
    package var labels: [Label]
    package var values: [Value]
    /// Value sets sharing a link share their values; the first one in the file carries them.
    package var link: String?

    package init(name: String, labels: [Label], values: [Value], link: String?) {
        self.name = name
        self.labels = labels
        self.values = values
        self.link = link
    }

    package struct Value: Sendable, Hashable, Codable {
        package var labels: [Label]
        package var pieces: [Piece]
        package var special: Special?

        package init(labels: [Label], pieces: [Piece], special: Special?) {
            self.labels = labels
            self.pieces = pieces
            self.special = special
        }
    }

    /// One value, or a range `from…to` (alpha values are kept as written, blank as "").
    package struct Piece: Sendable, Hashable, Codable {
        package var from: String
        package var to: String?

        package init(from: String, to: String?) {
            self.from = from
            self.to = to
        }
    }
}

/// CSPro's special values.
package enum Special: String, Sendable, Hashable, Codable, CaseIterable {
    case missing = "MISSING"
    case refused = "REFUSED"
    case notApplicable = "NOTAPPL"
    case `default` = "DEFAULT"
}

/// A dictionary file that cannot be read: where (line for legacy text, JSON path for JSON) and why.
package struct DictionaryError: UserFacingError, Sendable, Hashable {
    package var file: String
    /// `line 12` or `levels[0].records[2].items[5].length`.
    package var position: String
    package var message: String

    package init(file: String, location: String, message: String) {
        self.file = file
        position = location
        self.message = message
    }

    package var description: String { "\(file): \(position): \(message)" }
}
