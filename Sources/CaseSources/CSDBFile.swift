import CSPro
import DatabaseDriver
import Foundation
import SQL
import SQLiteDriver

/// A CSPro data file (`.csdb`, SQLite): the dictionary from `meta`, cases from
/// `cases.questionnaire` text or, when that is empty (CSPro 7.4+ files keep the data broken out),
/// read back from the `level-N` and record tables.
package final class CSDBFile {
    let connection: SQLiteConnection
    package let path: String
    package let dictionary: CSProDictionary
    package let layout: CaseLayout

    /// Opens a `.csdb` read-only and parses its embedded dictionary.
    ///
    /// - Throws: ``DatabaseError`` when the file is not SQLite, ``DictionaryError`` for a bad dictionary.
    package init(path: String) throws {
        self.path = path
        connection = try SQLiteConnection(path: path, readOnly: true)
        let meta = try connection.query("SELECT dictionary FROM meta LIMIT 1")
        guard let text = meta.first?[0].string else {
            throw DictionaryError(
                file: (path as NSString).lastPathComponent, location: "meta", message: "the file has no embedded dictionary")
        }
        dictionary = try CSProDictionary.parse(Data(text.utf8), file: (path as NSString).lastPathComponent + " (meta.dictionary)")
        layout = CaseLayout(dictionary)
    }

    deinit { connection.close() }

    /// Every case (or the one with `key`), in file order, deleted ones included (flagged).
    package func cases(key: String? = nil) throws -> [Case] {
        var sql =
            "SELECT id, \"key\", label, questionnaire, deleted, verified, partial_save_mode, partial_save_field_name, partial_save_level_key, "
            + "partial_save_record_occurrence, partial_save_item_occurrence, partial_save_subitem_occurrence FROM cases"
        var binds: [SQLValue] = []
        if let key { sql += " WHERE \"key\" = ?"; binds.append(.text(key)) }
        sql += " ORDER BY file_order"
        let rows = try connection.query(sql, binds)
        let tree = try rows.contains { !($0["questionnaire"]?.string ?? "").isEmpty } ? nil : BrokenOutTables(connection, layout)
        return try rows.map { row in
            let id = row["id"]?.string ?? ""
            var c: Case
            let questionnaire = row["questionnaire"]?.string ?? ""
            if !questionnaire.isEmpty {
                let (cases, warnings) = TextCaseCodec.decode(TextCaseCodec.lines(of: Data(questionnaire.utf8)), layout: layout)
                if let warning = warnings.first { throw CaseDecodingError("case \(row["key"]?.string ?? id): \(warning)") }
                guard let first = cases.first else {
                    throw CaseDecodingError("case \(row["key"]?.string ?? id) has an empty questionnaire")
                }
                c = first
            } else {
                c = Case(key: "", root: try tree?.root(caseID: id) ?? CaseNode(level: 0))
            }
            c.id = id
            c.key = row["key"]?.string ?? c.key
            c.label = (row["label"]?.string).flatMap { $0.isEmpty ? nil : $0 }
            c.deleted = row["deleted"]?.int64 == 1
            c.verified = row["verified"]?.int64 == 1
            if let mode = row["partial_save_mode"]?.string {
                c.partialSave = Case.PartialSave(
                    mode: mode, field: row["partial_save_field_name"]?.string ?? "",
                    levelKey: row["partial_save_level_key"]?.string ?? "",
                    recordOccurrence: Int(row["partial_save_record_occurrence"]?.int64 ?? 0),
                    itemOccurrence: Int(row["partial_save_item_occurrence"]?.int64 ?? 0),
                    subitemOccurrence: Int(row["partial_save_subitem_occurrence"]?.int64 ?? 0))
            }
            return c
        }
    }
}

/// CSPro's broken-out tables (`.csdb` schema 3, `SQLiteDictionarySchemaGenerator`), read back into
/// case trees. Values: NULL is blank; 1e50, 1e51, 1e52, 1e55 are MISSING, NOTAPPL, DEFAULT,
/// REFUSED; alpha values lose their padding.
struct BrokenOutTables {
    /// Per level: rows by their own id, with the parent id and occurrence.
    var levelRows: [[(id: Int64, parent: SQLValue, row: Row)]] = []
    /// Per record: rows grouped by parent level id.
    var recordRows: [String: [Int64: [Row]]] = [:]
    let layout: CaseLayout

    init(_ connection: SQLiteConnection, _ layout: CaseLayout) throws {
        self.layout = layout
        let d = connection.dialect
        for l in layout.dictionary.levels.indices {
            let table = "level-\(l + 1)"
            let parent = l == 0 ? "case-id" : "level-\(l)-id"
            let rows = try connection.query("SELECT * FROM \(try d.quote(table)) ORDER BY \(try d.quote("\(table)-id"))")
            levelRows.append(rows.map { ($0["\(table)-id"]?.int64 ?? 0, $0[parent] ?? .null, $0) })
        }
        for record in layout.records {
            let table = record.record.name.lowercased()
            let hasOcc = record.record.maxOccurrences > 1
            let rows = try connection.query(
                "SELECT * FROM \(try d.quote(table)) ORDER BY \(try d.quote("level-\(record.level + 1)-id"))"
                    + (hasOcc ? ", occ" : ""))
            var grouped: [Int64: [Row]] = [:]
            for row in rows { grouped[row["level-\(record.level + 1)-id"]?.int64 ?? 0, default: []].append(row) }
            recordRows[record.record.name] = grouped
        }
    }

    func root(caseID: String) throws -> CaseNode {
        guard let top = levelRows.first?.first(where: { $0.parent == .text(caseID) }) else {
            throw CaseDecodingError("case \(caseID) has no row in table level-1")
        }
        return node(level: 0, id: top.id, row: top.row)
    }

    func node(level: Int, id: Int64, row: Row) -> CaseNode {
        var node = CaseNode(level: level)
        for item in layout.dictionary.levels[level].ids { node.ids[item.name] = Self.value(row[item.name.lowercased()] ?? .null, item) }
        for record in layout.records where record.level == level {
            guard let rows = recordRows[record.record.name]?[id] else { continue }
            node.records[record.record.name] = rows.map { r in
                var values = RecordValues()
                for f in record.fields where !f.item.contentType.isBinary {
                    values.values[f.item.name] = (0..<f.occurrences).map { k in
                        let column = f.occurrences == 1 ? f.item.name.lowercased() : "\(f.item.name.lowercased())(\(k + 1))"
                        return Self.value(r[column] ?? .null, f.item)
                    }
                }
                return values
            }
        }
        if level + 1 < levelRows.count {
            node.children = levelRows[level + 1].filter { $0.parent.int64 == id }.map {
                self.node(level: level + 1, id: $0.id, row: $0.row)
            }
        }
        return node
    }

    static func value(_ cell: SQLValue, _ item: Item) -> CaseValue {
        if item.contentType != .numeric {
            return cell.string.map { CaseValue(alpha: $0) } ?? .blank
        }
        switch cell {
        case .null: return .blank
        case .integer(let i): return .number(Double(i))
        case .double(let d):
            switch d {
            case 1e50: return .special(.missing)
            case 1e51: return .blank
            case 1e52, 9.999999999999999e51: return .special(.default)
            case 1e55: return .special(.refused)
            default: return .number(d)
            }
        case .text(let s): return TextCaseCodec.value(s, item)
        default: return .blank
        }
    }
}
