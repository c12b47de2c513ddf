import CSPro
import Foundation
import SQL
import StatFiles

/// One record as a statistician's file holds it: the analyst view's rows (the case key, every
/// ancestor level's ids, the record's items; current cases only, partial saves flagged) without
/// the label columns, which become value labels. Built per chunk from the rows the breakout makes.
struct FlatRecord {
    enum Source {
        case caseColumn(Int)
        /// Level (0-based) and column index in its table.
        case level(Int, Int)
        /// Column index in the record's table; `flag` is the index of its `<item>_special` column.
        case record(Int, flag: Int?)
        case partial
        /// 1 for a case flagged deleted (only when an export keeps them).
        case deleted
    }

    struct Column {
        var name: String
        var source: Source
        var type: SQLType
        var label: String
        /// The item, for record and id columns; nil for the case's own columns.
        var item: Item?
        var specials: BreakoutSchema.SpecialMap?
        var decimals: Int
        /// The most characters a text column holds (alpha items: their length; the case key: its
        /// level-1 ids' lengths), nil where the type says it.
        var characters: Int? = nil
        /// The case key's ids are all numeric.
        var numericKey = false
    }

    let record: BreakoutSchema.RecordTable
    let table: Int
    let columns: [Column]
    /// The rows of deleted cases are kept (with a `deleted` column).
    let keepsDeleted: Bool

    /// The flat shape of every record of `schema`, in the order of its views; with `deleted`, the
    /// rows of deleted cases too, and a `deleted` column after `partial_save`.
    static func all(_ schema: BreakoutSchema, deleted: Bool = false) -> [FlatRecord] {
        let names = schema.dataTables.map(\.name)
        func label(_ labels: [Label]) -> String { BreakoutSchema.text(labels, in: schema.language) }
        return zip(schema.records, schema.views).map { record, view in
            var columns: [Column] = []
            let recordColumns = Dictionary(record.table.columns.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            let itemColumns = Dictionary(record.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for column in view.columns {
                switch column.value {
                case .label: continue
                case .isSet:
                    columns.append(Column(name: column.name, source: .partial, type: .integer, label: "partial save", decimals: 0))
                    if deleted {
                        columns.append(Column(name: "deleted", source: .deleted, type: .integer, label: "case deleted", decimals: 0))
                    }
                case .column(let ref):
                    if ref.alias == "c" {
                        let index = schema.cases.columns.firstIndex { $0.name == ref.column }!
                        let text = ref.column == "id" ? "case UUID" : "case key"
                        // A case UUID has 36 characters; a key, its level-1 ids as CSPro writes them.
                        let keyLength = schema.dictionary.levels.first?.ids.reduce(0) { $0 + $1.length } ?? 191
                        columns.append(
                            Column(
                                name: column.name, source: .caseColumn(index), type: schema.cases.columns[index].type, label: text,
                                decimals: 0, characters: ref.column == "id" ? 36 : min(keyLength, 191),
                                numericKey: schema.dictionary.levels.first?.ids.allSatisfy { $0.contentType == .numeric } ?? false))
                    } else if ref.alias == "r" {
                        let index = recordColumns[ref.column]!
                        let source = itemColumns[ref.column]
                        var flag: Int?
                        if let source, source.specials?.mode == .columns, !source.holdsSpecial {
                            flag = record.columns.first {
                                $0.holdsSpecial && $0.item.name == source.item.name && $0.occurrence == source.occurrence
                            }
                            .flatMap { recordColumns[$0.name] }
                        }
                        let occurrences = record.columns.filter { $0.item.name == source?.item.name && !$0.holdsSpecial }.count
                        var text = source.map { label($0.item.labels) } ?? ref.column
                        if let source, occurrences > 1 { text += " (\(source.occurrence + 1))" }
                        if source?.holdsSpecial == true { text += ": special value" }
                        columns.append(
                            Column(
                                name: column.name, source: .record(index, flag: flag), type: record.table.columns[index].type,
                                label: source == nil ? (ref.column == "occ" ? "occurrence" : "record id") : text,
                                item: source?.holdsSpecial == true ? nil : source?.item, specials: source?.specials,
                                decimals: source?.item.decimals ?? 0))
                    } else {
                        let l = Int(ref.alias.dropFirst())! - 1
                        let level = schema.levels[l]
                        let index = level.table.columns.firstIndex { $0.name == ref.column }!
                        let id = level.ids.first { $0.name == ref.column }
                        columns.append(
                            Column(
                                name: column.name, source: .level(l, index), type: level.table.columns[index].type,
                                label: id.map { label($0.item.labels) } ?? "level \(l + 1) id", item: id?.item, decimals: 0))
                    }
                }
            }
            return FlatRecord(record: record, table: names.firstIndex(of: record.table.name)!, columns: columns, keepsDeleted: deleted)
        }
    }

    /// The flat rows of this record in one chunk's rows: one per occurrence of a current case.
    /// Each flat row with the record row it comes from.
    func rows(_ chunk: ChunkRows, _ schema: BreakoutSchema, index: ChunkIndex) -> [(flat: [SQLValue], record: [SQLValue])] {
        var out: [(flat: [SQLValue], record: [SQLValue])] = []
        out.reserveCapacity(chunk.tables[table].count)
        for row in chunk.tables[table] {
            // Up the chain: the record's node, each ancestor, the case.
            var levels: [[SQLValue]] = Array(repeating: [], count: record.level + 1)
            var parent = row[1]
            for l in stride(from: record.level, through: 0, by: -1) {
                guard let id = parent.int64, let node = index.levels[l][id] else { break }
                levels[l] = chunk.tables[index.levelTables[l]][node]
                parent = levels[l][1]
            }
            guard let guid = parent.string, let c = index.cases[guid] else { continue }
            let caseRow = chunk.tables[0][c]
            if caseRow[4].int64 == 1, !keepsDeleted { continue }
            out.append(
                (
                    columns.map { column in
                        switch column.source {
                        case .caseColumn(let i): return caseRow[i]
                        case .partial: return .integer(caseRow[6].isNull ? 0 : 1)
                        case .deleted: return caseRow[4]
                        case .level(let l, let i): return levels[l].isEmpty ? .null : levels[l][i]
                        case .record(let i, _): return row[i]
                        }
                    }, row
                ))
        }
        return out
    }
}

extension ChunkRows {
    /// Leaves out the rows of the cases flagged deleted, in every table: each row whose case, or
    /// parent node, is left out (the tables are in parents-first order).
    mutating func removeDeletedCases(_ schema: BreakoutSchema) {
        let gone = Set(tables[0].filter { $0[4].int64 == 1 }.compactMap { $0[0].string })
        guard !gone.isEmpty else { return }
        tables[0].removeAll { $0[0].string.map(gone.contains) ?? false }
        tables[1].removeAll { $0[0].string.map(gone.contains) ?? false }
        var nodes = Set<Int64>()
        for t in tables.indices.dropFirst(2) {
            let first = t == 2  // level 1: its second column is the case's UUID
            tables[t].removeAll { row in
                let drop = first ? (row[1].string.map(gone.contains) ?? false) : (row[1].int64.map(nodes.contains) ?? false)
                if drop, let id = row[0].int64 { nodes.insert(id) }
                return drop
            }
        }
    }
}

/// Where each case and level node of a chunk is, by id.
struct ChunkIndex {
    var cases: [String: Int] = [:]
    var levels: [[Int64: Int]]
    var levelTables: [Int]

    init(_ chunk: ChunkRows, _ schema: BreakoutSchema) {
        let names = schema.dataTables.map(\.name)
        levelTables = schema.levels.map { level in names.firstIndex(of: level.table.name)! }
        levels = Array(repeating: [:], count: schema.levels.count)
        for (i, row) in chunk.tables[0].enumerated() { if let guid = row[0].string { cases[guid] = i } }
        for (l, t) in levelTables.enumerated() {
            for (i, row) in chunk.tables[t].enumerated() { if let id = row[0].int64 { levels[l][id] = i } }
        }
    }
}

/// A Stata file per record (docs/runner.md, "Export jobs").
struct StataExport: RecordFile {
    let flat: FlatRecord
    let writer: StataWriter
    /// Per output column: how its cells are written.
    let kinds: [Kind]

    enum Kind {
        case number
        /// A number kept as text (more digits than a double holds exactly).
        case digits
        case text
        /// A numeric item whose special values become `.a` (MISSING), `.b` (REFUSED), `.c` (DEFAULT).
        case special(BreakoutSchema.SpecialMap, flag: Int?)
    }

    static let extended: [Special: Int] = [.missing: 1, .refused: 2, .default: 3]

    init(_ flat: FlatRecord, schema: BreakoutSchema, url: URL, date: Date) throws {
        self.flat = flat
        var taken = Set<String>()
        var labelNames = Set<String>()
        var variables: [StataVariable] = []
        var sets: [StataValueLabels] = []
        var setNames: [String: String] = [:]
        var kinds: [Kind] = []
        for column in flat.columns {
            let (storage, decimals, plainKind) = Self.storage(column)
            var kind = plainKind
            if let map = column.specials, map.mode != .null, case .number = kind, case .record(_, let flag) = column.source {
                kind = .special(map, flag: flag)
            }
            // Value labels for whole-number items with a value set (Stata labels whole numbers only).
            var labelSet: String?
            if let item = column.item, item.contentType == .numeric, item.decimals == 0, !item.valueSets.isEmpty, storage.isNumeric {
                if let known = setNames[item.name] {
                    labelSet = known
                } else {
                    let labels = Self.valueLabels(item, schema: schema, specials: column.specials?.mode ?? .null)
                    if !labels.isEmpty {
                        let set = StataWriter.variableName(item.name.lowercased(), taken: &labelNames)
                        sets.append(StataValueLabels(name: set, labels: labels))
                        setNames[item.name] = set
                        labelSet = set
                    }
                }
            }
            variables.append(
                StataVariable(
                    name: StataWriter.variableName(column.name, taken: &taken), storage: storage, label: column.label,
                    valueLabels: labelSet, decimals: decimals))
            kinds.append(kind)
        }
        self.kinds = kinds
        let recordLabels = schema.labels(of: flat.record)
        writer = try StataWriter(
            url: url, label: BreakoutSchema.text(recordLabels, in: schema.language), variables: variables, valueLabels: sets, date: date)
    }

    /// How a column is stored: whole numbers in the smallest type their item's digits fit, more
    /// than 15 digits (beyond a double's exact range) as text; decimals as doubles up to 15 digits;
    /// alpha as `str#` wide enough for its characters in UTF-8, `strL` beyond 2,045 bytes.
    static func storage(_ column: FlatRecord.Column) -> (StataVariable.Storage, Int?, Kind) {
        switch column.type {
        case .integer, .bigint:
            // Ids breakout computes (level and record ids) are below 2^53: doubles hold them exactly.
            guard let item = column.item else { return (column.type == .integer ? .long : .double, nil, .number) }
            switch item.length {
            case ...2: return (.byte, nil, .number)
            case ...4: return (.int, nil, .number)
            case ...9: return (.long, nil, .number)
            case ...15: return (.double, nil, .number)
            default: return (.str(item.length + 1), nil, .digits)
            }
        case .decimal(let p, let s):
            return p <= 15 ? (.double, s, .number) : (.str(p + 2), nil, .digits)
        case .varchar(let n):
            // A case UUID and a numeric key are ASCII; other text may take 4 bytes a character in UTF-8.
            if let chars = column.characters {
                return (.str(max(1, chars * (column.name == "case_id" || Self.numericKey(column) ? 1 : 4))), nil, .text)
            }
            let chars = column.item?.length ?? n
            return (chars * 4 <= 2045 ? .str(max(1, chars * 4)) : .strL, nil, .text)
        default:
            return (.strL, nil, .text)
        }
    }

    /// Whether the case key is made of numeric ids only (ASCII digits, signs and blanks).
    static func numericKey(_ column: FlatRecord.Column) -> Bool { column.name == "case_key" && column.item == nil && column.numericKey }

    /// The item's first value set as Stata labels: whole values in range (ranges of up to 1,000
    /// values spelled out), and with `specials: codes|columns` its special values as `.a` `.b` `.c`.
    static func valueLabels(_ item: Item, schema: BreakoutSchema, specials: SpecialValues) -> [(value: StataNumber, label: String)] {
        var out: [(value: StataNumber, label: String)] = []
        var seen = Set<StataNumber>()
        for (v, text, special) in schema.labelledValues(item) {
            if specials != .null, let s = special {
                if let k = extended[s], seen.insert(.extendedMissing(k)).inserted { out.append((.extendedMissing(k), text)) }
                continue
            }
            guard v == v.rounded(), v >= Double(Int32.min) + 1, v <= 2_147_483_620 else { continue }
            if seen.insert(.value(Int32(v))).inserted { out.append((.value(Int32(v)), text)) }
        }
        if specials != .null {
            for (s, k) in extended.sorted(by: { $0.value < $1.value }) where seen.insert(.extendedMissing(k)).inserted {
                out.append((.extendedMissing(k), s.rawValue))
            }
        }
        return out
    }

    var url: URL { writer.url }
    func finish() throws { try writer.finish() }
    func abandon() { writer.abandon() }

    /// Appends one flat row.
    func append(_ row: [SQLValue], recordRow: [SQLValue]) throws {
        var cells: [StataCell] = []
        cells.reserveCapacity(row.count)
        for (value, kind) in zip(row, kinds) {
            switch kind {
            case .text: cells.append(value.string.map { .text($0) } ?? .missing)
            case .digits: cells.append(value.isNull ? .missing : .text(normalizedNumber(value)))
            case .number: cells.append(Self.number(value))
            case .special(let map, let flag):
                if map.mode == .columns {
                    // The value is NULL for every special value; its `<item>_special` cell says which.
                    if value.isNull, let flag, let name = recordRow[flag].string, let s = Special(rawValue: name), let k = Self.extended[s]
                    {
                        cells.append(.extendedMissing(k))
                    } else {
                        cells.append(Self.number(value))
                    }
                } else if let d = value.number, let s = map.special[d], let k = Self.extended[s] {
                    cells.append(.extendedMissing(k))
                } else {
                    cells.append(Self.number(value))
                }
            }
        }
        try writer.append(cells)
    }

    func normalizedNumber(_ v: SQLValue) -> String { v.string ?? "" }

    static func number(_ v: SQLValue) -> StataCell {
        switch v {
        case .integer(let i): .integer(i)
        case .double(let d): .number(d)
        case .decimal(let d): Double(d.description).map { .number($0) } ?? .missing
        default: .missing
        }
    }
}

extension StataVariable.Storage {
    var isNumeric: Bool {
        switch self {
        case .byte, .int, .long, .double: true
        case .str, .strL: false
        }
    }
}
