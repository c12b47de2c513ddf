/// Where every item of a record sits on its text line, precomputed once per dictionary.
package struct RecordLayout: Sendable {
    package struct Field: Sendable {
        package var item: Item
        /// 0-based column of occurrence 0.
        package var offset: Int
        package var occurrences: Int
        /// Columns between occurrences (the parent's length for a subitem of a repeating parent).
        package var stride: Int
    }

    package var level: Int
    /// Position among the dictionary's records.
    package var index: Int
    package var record: Record
    /// Every item, parents before their subitems.
    package var fields: [Field]
    /// The line length when every item is written.
    package var length: Int
    /// Value slots of this record's non-binary items, in field order.
    package let shape: RecordShape

    init(level: Int, index: Int, record: Record, dictionary: CSProDictionary) {
        self.level = level
        self.index = index
        self.record = record
        var fields: [Field] = []
        var parents: [String: Item] = [:]
        var end = dictionary.recordTypeStart + dictionary.recordTypeLength - 1
        for l in 0...level { for id in dictionary.levels[l].ids { end = max(end, id.start + id.length - 1) } }
        for item in record.items {
            var occurrences = item.occurrences
            var stride = item.length
            if let parentName = item.parent, let parent = parents[parentName], parent.occurrences > 1 {
                occurrences = parent.occurrences
                stride = parent.length
            }
            if !item.isSubitem { parents[item.name] = item }
            fields.append(Field(item: item, offset: item.start - 1, occurrences: occurrences, stride: stride))
            end = max(end, item.start - 1 + stride * (occurrences - 1) + item.length)
        }
        self.fields = fields
        self.length = end
        let kept = fields.filter { !$0.item.contentType.isBinary }
        shape = RecordShape(names: kept.map(\.item.name), counts: kept.map(\.occurrences))
    }
}

/// Lookup tables for reading and writing a dictionary's text lines.
package struct CaseLayout: Sendable {
    package let dictionary: CSProDictionary
    package let records: [RecordLayout]
    let byType: [String: Int]
    /// The byte-level parser for this dictionary's case JSON, built once.
    let fastParser: FastCaseJSONParser

    package init(_ dictionary: CSProDictionary) {
        self.dictionary = dictionary
        var records: [RecordLayout] = []
        var byType: [String: Int] = [:]
        for (l, level) in dictionary.levels.enumerated() {
            for record in level.records {
                if byType[record.typeValue] == nil { byType[record.typeValue] = records.count }
                records.append(RecordLayout(level: l, index: records.count, record: record, dictionary: dictionary))
            }
        }
        self.records = records
        self.byType = byType
        fastParser = FastCaseJSONParser(dictionary: dictionary, records: records)
    }

    /// The record a line belongs to, by its record type (the single record when the type length is 0).
    func record(forType type: String) -> RecordLayout? {
        if dictionary.recordTypeLength == 0 { return records.first }
        return byType[type].map { records[$0] }
    }
}
