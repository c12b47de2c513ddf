import CSPro
import Diagnostics
import Foundation
import SQL

/// A case as a source hands it over: its row number, revision, flags and either the stored blob or
/// an already decoded case.
package struct SourceCase: Sendable {
    package enum Payload: Sendable {
        case blob([UInt8])
        case decoded(Case)
    }

    /// The source's stable row number (CSWeb's `id`; the position in a file). Row ids in the
    /// destination derive from it, so reloading a case gives it the same ids.
    package var number: Int64
    package var revision: Int64
    package var guid: String
    package var key: String
    package var label: String?
    package var deleted: Bool
    package var verified: Bool
    package var partialSave: Case.PartialSave?
    package var notes: [Case.Note]
    package var payload: Payload

    package init(
        number: Int64, revision: Int64, guid: String, key: String, label: String? = nil, deleted: Bool = false,
        verified: Bool = false, partialSave: Case.PartialSave? = nil, notes: [Case.Note] = [], payload: Payload
    ) {
        self.number = number
        self.revision = revision
        self.guid = guid
        self.key = key
        self.label = label
        self.deleted = deleted
        self.verified = verified
        self.partialSave = partialSave
        self.notes = notes
        self.payload = payload
    }

    /// The (revision, number) position of this case in the source's order.
    package var position: Mark { Mark(revision: revision, id: number) }
}

/// A position in a source's (revision, id) order: everything at or before it has been loaded.
package struct Mark: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var revision: Int64
    package var id: Int64

    package init(revision: Int64, id: Int64) {
        self.revision = revision
        self.id = id
    }

    package static let start = Mark(revision: 0, id: 0)
    package static func < (a: Mark, b: Mark) -> Bool { (a.revision, a.id) < (b.revision, b.id) }
    package var description: String { "revision \(revision), id \(id)" }
}

/// Rows of one chunk, per data table, in ``BreakoutSchema/dataTables`` order.
struct ChunkRows {
    var tables: [[[SQLValue]]]
    var invalidValues = 0

    init(tableCount: Int) { tables = Array(repeating: [], count: tableCount) }

    var rowCount: Int { tables.reduce(0) { $0 + $1.count } }

}

/// Turns decoded cases into destination rows. Ids are `number × 2^20 + n`, n counting the case's
/// level nodes and record occurrences from 1, so a case's rows keep their ids when it is reloaded and
/// every id is unique without asking the database for one.
struct RowBuilder {
    static let idsPerCase: Int64 = 1 << 20
    static let maxCaseNumber: Int64 = (Int64.max >> 20) - 1

    let schema: BreakoutSchema
    let layout: CaseLayout
    /// Data table index of each level's table and of each record's table (by layout record index).
    let levelTable: [Int]
    let recordTables: [[(table: Int, record: BreakoutSchema.RecordTable)]]

    init(schema: BreakoutSchema, layout: CaseLayout) {
        self.schema = schema
        self.layout = layout
        let names = schema.dataTables.map(\.name)
        levelTable = schema.levels.map { level in names.firstIndex(of: level.table.name)! }
        var byRecord = Array(repeating: [(table: Int, record: BreakoutSchema.RecordTable)](), count: layout.records.count)
        for record in schema.records {
            byRecord[record.recordIndex].append((names.firstIndex(of: record.table.name)!, record))
        }
        recordTables = byRecord
    }

    var tableCount: Int { schema.dataTables.count }

    /// Decodes a source case and appends its rows straight into `rows`; when it cannot be decoded
    /// (or built), what it had appended is taken back and the error is thrown. A deleted case whose
    /// blob is gone still gets its flagged `cases` row.
    func appendCase(_ source: SourceCase, inflater: ZlibInflater, to rows: inout ChunkRows) throws {
        let counts = rows.tables.map(\.count)
        let invalid = rows.invalidValues
        do {
            let data: Case?
            switch source.payload {
            case .decoded(let c): data = c
            case .blob(let blob):
                data =
                    source.deleted && blob.count <= 4
                    ? nil
                    : try CaseBlob.decode(blob, layout: layout, id: source.guid, key: source.key, inflater: inflater)
            }
            try append(source, data: data, to: &rows)
        } catch {
            for t in rows.tables.indices where rows.tables[t].count > counts[t] { rows.tables[t].removeSubrange(counts[t]...) }
            rows.invalidValues = invalid
            throw error
        }
    }

    /// Appends the rows of one case: its `cases` row, notes, and (unless `data` is nil, for a
    /// deleted case whose blob cannot be read) every level node and record occurrence.
    func append(_ source: SourceCase, data: Case?, to rows: inout ChunkRows) throws {
        guard source.number >= 0, source.number <= Self.maxCaseNumber else {
            throw BreakoutError("case \(source.key) has source row number \(source.number), outside the range breakout can give ids to")
        }
        let label = source.label ?? data?.label
        let ps = source.partialSave ?? data?.partialSave
        rows.tables[0].append([
            .text(source.guid), .text(source.key), label.map { .text($0) } ?? .null, .integer(source.revision),
            .integer(source.deleted ? 1 : 0), .integer(source.verified ? 1 : 0),
            ps.map { .text($0.mode) } ?? .null, ps.map { .text($0.field) } ?? .null, ps.map { .text($0.levelKey) } ?? .null,
            ps.map { .integer(Int64($0.recordOccurrence)) } ?? .null, ps.map { .integer(Int64($0.itemOccurrence)) } ?? .null,
            ps.map { .integer(Int64($0.subitemOccurrence)) } ?? .null,
        ])
        for note in source.notes + (data?.notes ?? []) {
            rows.tables[1].append([
                .text(source.guid), .text(note.field), .text(note.levelKey), .integer(Int64(note.recordOccurrence)),
                .integer(Int64(note.itemOccurrence)), .integer(Int64(note.subitemOccurrence)), .text(note.content),
                .text(note.operatorId), .text(note.modifiedTime),
            ])
        }
        guard let data else { return }
        var next = source.number * Self.idsPerCase
        let limit = next + Self.idsPerCase
        try appendNode(data.root, parent: nil, occurrence: 1, guid: source.guid, next: &next, limit: limit, key: source.key, rows: &rows)
    }

    private func appendNode(
        _ node: CaseNode, parent: Int64?, occurrence: Int, guid: String, next: inout Int64, limit: Int64,
        key: String, rows: inout ChunkRows
    ) throws {
        let l = node.level
        guard l < schema.levels.count else {
            throw BreakoutError("case \(key) has a node at level \(l + 1); the dictionary has \(schema.levels.count)")
        }
        next += 1
        guard next < limit else { throw BreakoutError("case \(key) has more than \(Self.idsPerCase - 1) nodes and records") }
        let nodeID = next
        let level = schema.levels[l]
        var row: [SQLValue] = [.integer(nodeID)]
        if let parent {
            row.append(.integer(parent))
            row.append(.integer(Int64(occurrence)))
        } else {
            row.append(.text(guid))
        }
        for column in level.ids { row.append(convert(node.ids[column.item.name] ?? .blank, column, &rows.invalidValues)) }
        rows.tables[levelTable[l]].append(row)

        for recordLayout in layout.records where recordLayout.level == l {
            let targets = recordTables[recordLayout.index]
            guard !targets.isEmpty, let occurrences = node.records[recordLayout.record.name] else { continue }
            for (o, values) in occurrences.enumerated() {
                for target in targets.indices {
                    let tableIndex = targets[target].table
                    next += 1
                    guard next < limit else { throw BreakoutError("case \(key) has more than \(Self.idsPerCase - 1) nodes and records") }
                    var r: [SQLValue] = []
                    let columns = targets[target].record.columns
                    r.reserveCapacity(columns.count + 3)
                    r.append(.integer(next))
                    r.append(.integer(nodeID))
                    if targets[target].record.hasOccurrence { r.append(.integer(Int64(o + 1))) }
                    if values.shape === recordLayout.shape {
                        for c in columns.indices { r.append(convert(values.slots[columns[c].slot], columns[c], &rows.invalidValues)) }
                    } else {
                        for c in columns.indices {
                            r.append(convert(values[columns[c].item.name, columns[c].occurrence], columns[c], &rows.invalidValues))
                        }
                    }
                    rows.tables[tableIndex].append(r)
                }
            }
        }
        var childOccurrence: [Int: Int] = [:]
        for child in node.children {
            let o = (childOccurrence[child.level] ?? 0) + 1
            childOccurrence[child.level] = o
            try appendNode(child, parent: nodeID, occurrence: o, guid: guid, next: &next, limit: limit, key: key, rows: &rows)
        }
    }

    /// A case value as a column value: blanks and special values are NULL, numbers typed.
    @inline(__always)
    func convert(_ value: CaseValue, _ column: BreakoutSchema.Column, _ invalid: inout Int) -> SQLValue {
        if let map = column.specials { return convert(value, column, map, &invalid) }
        return convert(value, type: column.type, &invalid)
    }

    /// A case value as a value of a column of `type`, special values as NULL.
    @inline(__always)
    func convert(_ value: CaseValue, type: SQLType, _ invalid: inout Int) -> SQLValue {
        switch value {
        case .blank, .special: return .null
        case .invalid:
            invalid += 1
            return .null
        case .text(let s):
            if case .varchar = type { return .text(s) }
            invalid += 1
            return .null
        case .number(let d):
            switch type {
            case .integer, .bigint:
                if d == d.rounded(), abs(d) < 9.2e18 { return .integer(Int64(d)) }
                invalid += 1
                return .null
            case .decimal(_, let scale):
                let units = (d * Self.powers[min(scale, 18)]).rounded()
                if abs(units) < 9e18 { return .decimal(SQLDecimal(units: Int64(units), scale: scale)) }
                return SQLDecimal(Self.fixed(d, scale: scale)).map { .decimal($0) } ?? .null
            case .varchar:
                return .text(SQLDecimal.format(d))
            default:
                return .double(d)
            }
        }
    }

    /// `specials: codes` and `columns` (docs/breakout.md, "Special values"). A text in a numeric
    /// item is what CSPro reads as DEFAULT; it is counted as an invalid value once, in the value's
    /// own column.
    func convert(
        _ value: CaseValue, _ column: BreakoutSchema.Column, _ map: BreakoutSchema.SpecialMap, _ invalid: inout Int
    )
        -> SQLValue
    {
        if column.holdsSpecial {
            switch value {
            case .blank: return .text(Special.notApplicable.rawValue)
            case .special(let s): return .text(s.rawValue)
            case .invalid: return .text(Special.default.rawValue)
            case .number(let d): return map.special[d].map { .text($0.rawValue) } ?? .null
            case .text: return .null
            }
        }
        switch (map.mode, value) {
        case (.codes, .special(let s)): return s == .notApplicable ? .null : map.code[s] ?? .null
        case (.codes, .invalid):
            if let code = map.code[.default] { return code }
            invalid += 1
            return .null
        case (.columns, .number(let d)) where map.special[d] != nil: return .null
        case (.columns, .invalid):
            invalid += 1
            return .null
        default: return convert(value, type: column.type, &invalid)
        }
    }

    static let powers: [Double] = (0...18).map { pow(10, Double($0)) }

    /// `d` with exactly `scale` digits after the point.
    static func fixed(_ d: Double, scale: Int) -> String {
        String(format: "%.\(scale)f", d)
    }
}

/// A breakout failure that stops the run (not a single case's decoding problem).
package struct BreakoutError: UserFacingError, Sendable {
    package var message: String
    package var hint: String?
    package init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    package var description: String { message }
}

/// Another run holds the destination's session lock (the same dictionary into the same
/// connection) and did not release it within the wait: this run did not start.
package struct DestinationBusy: UserFacingError, Sendable {
    package var dictionary: String
    /// Engine and namespace, e.g. `postgresql rgph`.
    package var destination: String
    package var waited: Double

    package init(dictionary: String, destination: String, waited: Double) {
        self.dictionary = dictionary
        self.destination = destination
        self.waited = waited
    }

    package var description: String {
        "destination busy: another run is writing \(dictionary) into \(destination) and did not finish within \(Int(waited)) s; this run did not start"
    }

    package var hint: String? {
        "two jobs (or two runners) write the same tables: give them different dictionaries or connections, or schedules that do not overlap"
    }
}
