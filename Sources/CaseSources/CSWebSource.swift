import CSPro
import DatabaseDriver
import Diagnostics
import Foundation
import SQL
import Synchronization

/// A dictionary the source does not hold (not uploaded to CSWeb yet, or misspelt).
package struct UnknownDictionaryError: UserFacingError, Sendable, Hashable {
    package var name: String
    package var known: [String]

    package init(name: String, known: [String]) {
        self.name = name
        self.known = known
    }

    package var description: String { "CSWeb has no dictionary \(name); it has: \(known.isEmpty ? "none" : known.joined(separator: ", "))" }
    package var hint: String? { "upload the dictionary to CSWeb, or correct the name in the organization's \"dictionaries\"" }
}

/// CSWeb's database as a case source: `cspro_dictionaries` and one table per dictionary whose
/// `questionnaire` column holds compressed cases (MySQL in production; an SQLite file with the same
/// tables for the embedded demo and tests).
package struct CSWebSource {
    package let connection: any DatabaseConnection
    /// The ids of the revision being read, by table: a sync batch's are read once.
    let revisionIDCache = RevisionCache()

    package init(connection: any DatabaseConnection) {
        self.connection = connection
    }

    /// The dictionary names CSWeb holds.
    package func dictionaryNames() throws -> [String] {
        try connection.query("SELECT dictionary_name FROM cspro_dictionaries ORDER BY dictionary_name").compactMap { $0[0].string }
    }

    /// A dictionary as uploaded (JSON or legacy text).
    package func dictionary(named name: String) throws -> CSProDictionary {
        let rows = try connection.query(
            .select(
                Select(
                    from: QualifiedName("cspro_dictionaries"), columns: ["dictionary_full_content"],
                    where: .equals("dictionary_name", .text(name)))))
        guard let content = rows.first?[0] else {
            // Only lists the known names in the error being thrown; that error is the one to report.
            let known = (try? dictionaryNames()) ?? []
            throw UnknownDictionaryError(name: name, known: known)
        }
        let data: Data =
            switch content {
            case .blob(let bytes): Data(bytes)
            default: Data((content.string ?? "").utf8)
            }
        return try CSProDictionary.parse(data, file: "cspro_dictionaries[\(name)]")
    }

    /// One row of a dictionary table, not yet decoded.
    package struct StoredCase: Sendable {
        package var rowID: Int64
        package var guid: String
        /// The `guid` column as stored (16 bytes in CSWeb), for looking up the case's notes.
        package var guidValue: SQLValue
        package var key: String
        package var label: String?
        package var revision: Int64
        package var deleted: Bool
        package var verified: Bool
        package var partialSave: Case.PartialSave?
        package var questionnaire: [UInt8]
    }

    static let caseColumns = [
        "id", "guid", "caseids", "label", "revision", "deleted", "verified", "questionnaire", "partial_save_mode",
        "partial_save_field_name", "partial_save_level_key", "partial_save_record_occurrence",
        "partial_save_item_occurrence", "partial_save_subitem_occurrence",
    ]

    /// Stored cases of a dictionary in (revision, id) order, optionally only those with `key`.
    package func storedCases(
        dictionary name: String, key: String? = nil, afterRevision: Int64? = nil, limit: Int? = nil
    ) throws -> [StoredCase] {
        var conditions: [SQLPredicate] = []
        if let key { conditions.append(.equals("caseids", .text(key))) }
        if let afterRevision { conditions.append(.compare("revision", .greater, .integer(afterRevision))) }
        return try storedCases(name, where: conditions.isEmpty ? nil : .and(conditions), limit: limit)
    }

    /// Stored cases after the position (revision, id), in (revision, id) order, at most `limit`.
    ///
    /// CSWeb's tables (which we do not own) index `revision` alone (in InnoDB, (revision, guid)),
    /// and `id` alone, not (revision, id). The plain keyset query `WHERE revision > r OR (revision
    /// = r AND id > i) ORDER BY revision, id LIMIT n` makes MariaDB range-scan and sort every row
    /// after the mark, blobs included: the cost of a chunk grows with what is left. A chunk is
    /// read instead in bounded statements:
    ///
    /// 1. the rest of revision `r`, when the mark is inside it: the revision's ids are read once
    ///    (`SELECT id … WHERE revision = r`, kept sorted in memory: 8 bytes a case), and each chunk
    ///    reads its next `limit` cases by id (`WHERE revision = r AND id IN (…)`), so a sync batch
    ///    of 100,000 cases is neither sorted nor scanned again for each of its chunks;
    /// 2. ``revisionBound(_:after:rows:)``: the revision of the `limit`-th case after revision
    ///    `r`, read from the `revision` index alone (no row is touched);
    /// 3. the cases with `r < revision <= bound`, sorted: at most `limit` plus the bound's own
    ///    revision.
    ///
    /// The order and the cases returned are exactly those of the plain keyset query.
    package func storedCases(dictionary name: String, after revision: Int64, id: Int64, limit: Int) throws -> [StoredCase] {
        if let rest = try restOfRevisionQuery(name, revision: revision, after: id, limit: limit) {
            let found = try storedCases(rest.select)
            // Cases of revision r remain: this chunk ends inside it. (One re-synced meanwhile has
            // left r for a later revision, where it is read then.)
            if !rest.last { return found }
            if found.count == limit { return found }
            return found
                + (try storedCases(
                    chunkQuery(
                        name, where: try laterPredicate(name, after: revision, limit: limit - found.count),
                        limit: limit - found.count)))
        }
        return try storedCases(chunkQuery(name, where: try laterPredicate(name, after: revision, limit: limit), limit: limit))
    }

    /// Step 1: the next cases of revision `revision` after id `id`, by id, and whether they are
    /// its last; nil when none is left.
    package func restOfRevisionQuery(_ name: String, revision: Int64, after id: Int64, limit: Int) throws -> (select: Select, last: Bool)? {
        guard id > 0 else { return nil }
        let ids = try revisionIDs(name, revision: revision)
        var low = 0, high = ids.count
        while low < high {
            let mid = (low + high) / 2
            if ids[mid] <= id { low = mid + 1 } else { high = mid }
        }
        guard low < ids.count else { return nil }
        let next = ids[low..<min(low + limit, ids.count)]
        var select = chunkQuery(
            name, where: .and([.equals("revision", .integer(revision)), .isIn("id", next.map { .integer($0) })]), limit: next.count)
        select.orderBy = [SortKey("id")]
        return (select, low + next.count == ids.count)
    }

    /// The ids of a revision, sorted; read once per revision (a revision's rows do not change
    /// while it is read: CSWeb writes a sync's cases in one transaction, and a re-sync moves a
    /// case to a new revision).
    func revisionIDs(_ name: String, revision: Int64) throws -> [Int64] {
        if let known = revisionIDCache.ids(name, revision) { return known }
        let rows = try connection.query(
            .select(Select(from: QualifiedName(name), columns: ["id"], where: .equals("revision", .integer(revision)))))
        let ids = rows.compactMap { $0[0].int64 }.sorted()
        revisionIDCache.set(name, revision, ids)
        return ids
    }

    /// Steps 2 and 3: later revisions, up to the bound.
    package func laterPredicate(_ name: String, after revision: Int64, limit: Int) throws -> SQLPredicate {
        var range: [SQLPredicate] = [.compare("revision", .greater, .integer(revision))]
        if let bound = try revisionBound(name, after: revision, rows: limit) {
            range.append(.compare("revision", .lessOrEqual, .integer(bound)))
        }
        return .and(range)
    }

    /// The revision of the `rows`-th case whose revision is above `revision` (nil when fewer are
    /// left): `SELECT revision … WHERE revision > r ORDER BY revision LIMIT 1 OFFSET rows-1`,
    /// answered from the `revision` index without reading a row.
    package func revisionBound(_ name: String, after revision: Int64, rows: Int) throws -> Int64? {
        try connection.query(.select(revisionBoundQuery(name, after: revision, rows: rows))).first?[0].int64
    }

    package func revisionBoundQuery(_ name: String, after revision: Int64, rows: Int) -> Select {
        Select(
            from: QualifiedName(name), columns: ["revision"], where: .compare("revision", .greater, .integer(revision)),
            orderBy: [SortKey("revision")], limit: 1, offset: max(rows, 1) - 1)
    }

    /// The statement that reads cases in (revision, id) order.
    package func chunkQuery(_ name: String, where predicate: SQLPredicate?, limit: Int?) -> Select {
        Select(
            from: QualifiedName(name), columns: Self.caseColumns, where: predicate,
            orderBy: [SortKey("revision"), SortKey("id")], limit: limit)
    }

    // MARK: - A first load in the table's own order

    /// Whether ``scanCases(dictionary:through:afterGUID:limit:)`` reads this source in its physical
    /// order: CSWeb's MySQL/MariaDB tables are InnoDB, stored in the order of their primary key,
    /// `guid`. (An SQLite table is stored by rowid; its `guid` index is no faster to follow.)
    package var scansInStoredOrder: Bool { connection.engine == .mysql }

    /// The newest revision and the largest row id now in the table (from their indexes): a
    /// snapshot of what a first load reads. Revisions are never reused, so the cases with a
    /// revision up to it do not change while they are read; a case re-synced meanwhile moves to a
    /// later revision and is read after the snapshot.
    package func snapshot(dictionary name: String) throws -> (revision: Int64, id: Int64)? {
        let table = try connection.engine.dialect.quote(QualifiedName(name))
        let rows = try connection.query("SELECT MAX(revision), MAX(id) FROM \(table)")
        guard let revision = rows.first?[0].int64, let id = rows.first?[1].int64 else { return nil }
        return (revision, id)
    }

    /// Cases with a revision up to `revision`, in `guid` order after `afterGUID`, at most
    /// `limit`: `WHERE guid > g AND revision <= r ORDER BY guid LIMIT n`, a range of the primary
    /// key. InnoDB reads it page after page, each page once, where the (revision, id) order
    /// reads one random page per case (65 ms a chunk of 1,000 at 200,000 cases with Debian's
    /// 128 MiB buffer pool, docs/performance.md).
    package func scanCases(dictionary name: String, through revision: Int64, afterGUID: SQLValue?, limit: Int) throws -> [StoredCase] {
        try storedCases(scanQuery(name, through: revision, afterGUID: afterGUID, limit: limit))
    }

    package func scanQuery(_ name: String, through revision: Int64, afterGUID: SQLValue?, limit: Int) -> Select {
        var conditions: [SQLPredicate] = [.compare("revision", .lessOrEqual, .integer(revision))]
        if let afterGUID { conditions.insert(.compare("guid", .greater, afterGUID), at: 0) }
        return Select(
            from: QualifiedName(name), columns: Self.caseColumns, where: .and(conditions), orderBy: [SortKey("guid")], limit: limit)
    }

    /// How many cases lie after the position (revision, id): the cases of later revisions (counted
    /// on the `revision` index alone) plus the rest of revision `revision`.
    package func countCases(dictionary name: String, after revision: Int64, id: Int64) throws -> Int {
        let later = try connection.query(
            .select(.count(from: QualifiedName(name), where: .compare("revision", .greater, .integer(revision)))))
        let same = try connection.query(
            .select(
                .count(
                    from: QualifiedName(name),
                    where: .and([
                        .equals("revision", .integer(revision)),
                        .compare("id", .greater, .integer(id)),
                    ]))))
        return Int(later.first?[0].int64 ?? 0) + Int(same.first?[0].int64 ?? 0)
    }

    /// The plain keyset condition "after (revision, id)".
    package static func after(_ revision: Int64, _ id: Int64) -> SQLPredicate {
        .or([
            .compare("revision", .greater, .integer(revision)),
            .and([.equals("revision", .integer(revision)), .compare("id", .greater, .integer(id))]),
        ])
    }

    func storedCases(_ name: String, where predicate: SQLPredicate?, limit: Int?) throws -> [StoredCase] {
        try storedCases(chunkQuery(name, where: predicate, limit: limit))
    }

    func storedCases(_ select: Select) throws -> [StoredCase] {
        let rows = try connection.query(.select(select))
        // Columns by position (the SELECT names them in this order): this runs once per case.
        return rows.map { row in
            let v = row.values
            var partialSave: Case.PartialSave?
            if let mode = v[8].string, !mode.isEmpty {
                partialSave = Case.PartialSave(
                    mode: mode, field: v[9].string ?? "", levelKey: v[10].string ?? "",
                    recordOccurrence: Int(v[11].int64 ?? 0), itemOccurrence: Int(v[12].int64 ?? 0),
                    subitemOccurrence: Int(v[13].int64 ?? 0))
            }
            return StoredCase(
                rowID: v[0].int64 ?? 0, guid: Self.uuid(v[1]), guidValue: v[1], key: v[2].string ?? "", label: v[3].string,
                revision: v[4].int64 ?? 0, deleted: v[5].int64 == 1, verified: v[6].int64 == 1, partialSave: partialSave,
                questionnaire: Self.bytes(v[7]))
        }
    }

    /// Whether CSWeb has a notes table for the dictionary (`<DICT>_notes`). Throws when the
    /// catalog cannot be read, rather than reading a lost connection as "no notes".
    package func hasNotes(dictionary name: String) throws -> Bool {
        try connection.tableExists(QualifiedName(name + "_notes"))
    }

    /// The notes of the given cases, by case UUID text.
    package func notes(dictionary name: String, cases: [StoredCase]) throws -> [String: [Case.Note]] {
        var out: [String: [Case.Note]] = [:]
        for batch in stride(from: 0, to: cases.count, by: 500) {
            let slice = cases[batch..<min(batch + 500, cases.count)]
            let rows = try connection.query(
                .select(
                    Select(
                        from: QualifiedName(name + "_notes"),
                        columns: [
                            "case_guid", "operator_id", "field_name", "level_key", "record_occurrence", "item_occurrence",
                            "subitem_occurrence",
                            "content", "modified_time",
                        ],
                        where: .isIn("case_guid", slice.map(\.guidValue)), orderBy: [SortKey("id")])))
            for row in rows {
                let note = Case.Note(
                    content: row["content"]?.string ?? "", field: row["field_name"]?.string ?? "",
                    levelKey: row["level_key"]?.string ?? "",
                    recordOccurrence: Int(row["record_occurrence"]?.int64 ?? 0),
                    itemOccurrence: Int(row["item_occurrence"]?.int64 ?? 0),
                    subitemOccurrence: Int(row["subitem_occurrence"]?.int64 ?? 0),
                    operatorId: row["operator_id"]?.string ?? "",
                    modifiedTime: row["modified_time"]?.string ?? "")
                out[Self.uuid(row["case_guid"] ?? .null), default: []].append(note)
            }
        }
        return out
    }

    static func bytes(_ value: SQLValue) -> [UInt8] {
        switch value {
        case .blob(let b): b
        case .text(let s): Array(s.utf8)
        default: []
        }
    }

    /// `binary(16)` as the canonical lowercase UUID text.
    static func uuid(_ value: SQLValue) -> String {
        guard case .blob(let b) = value, b.count == 16 else { return value.string ?? "" }
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, byte) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a stored case; a case that cannot be decoded throws ``CaseDecodingError`` with the reason.
    package static func decode(_ stored: StoredCase, layout: CaseLayout) throws -> Case {
        var c = try CaseBlob.decode(stored.questionnaire, layout: layout, id: stored.guid, key: stored.key)
        c.label = stored.label
        c.deleted = stored.deleted
        c.verified = stored.verified
        c.partialSave = stored.partialSave
        return c
    }
}

/// The sorted ids of the revision a source is reading, per table (only the current one is kept).
final class RevisionCache: Sendable {
    private let values = Mutex<[String: (revision: Int64, ids: [Int64])]>([:])

    func ids(_ table: String, _ revision: Int64) -> [Int64]? {
        values.withLock { values in
            guard let v = values[table], v.revision == revision else { return nil }
            return v.ids
        }
    }

    func set(_ table: String, _ revision: Int64, _ ids: [Int64]) { values.withLock { $0[table] = (revision, ids) } }
}
