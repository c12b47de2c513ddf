import CSPro
import DatabaseDriver
import Foundation
import SQL

/// Writes a CSWeb-shaped database (MySQL/MariaDB as CSWeb does, or SQLite with the same tables):
/// `cspro_dictionaries`, one table per dictionary with compressed `questionnaire` blobs, and its
/// `_notes` table. Used to build the demo source and the end-to-end tests' sources.
package final class CSWebDatabaseWriter {
    package let connection: any DatabaseConnection

    package init(connection: any DatabaseConnection) {
        self.connection = connection
    }

    /// Creates the tables for `dictionary` (dropping earlier ones of the same name) and registers it.
    package func createTables(for dictionary: CSProDictionary) throws {
        let name = dictionary.name
        let d = connection.dialect
        let table = try d.quote(name), notes = try d.quote(name + "_notes")
        let mysql = connection.engine == .mysql
        try connection.execute("DROP TABLE IF EXISTS \(notes)")
        try connection.execute("DROP TABLE IF EXISTS \(table)")
        if mysql {
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS cspro_dictionaries (id smallint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
                dictionary_name varchar(191) NOT NULL UNIQUE, dictionary_label varchar(255) NOT NULL, dictionary_full_content longtext NOT NULL,
                modified_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, created_time timestamp NULL DEFAULT NULL)
                ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """)
            try connection.execute(
                """
                CREATE TABLE \(table) (id int unsigned NOT NULL AUTO_INCREMENT UNIQUE, guid binary(16) NOT NULL PRIMARY KEY,
                caseids varchar(191) NOT NULL, label varchar(255) DEFAULT NULL, questionnaire longblob NOT NULL, revision int unsigned NOT NULL,
                deleted tinyint(1) NOT NULL DEFAULT 0, verified tinyint(1) NOT NULL DEFAULT 0, clock text,
                modified_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, created_time timestamp NULL DEFAULT NULL,
                partial_save_mode varchar(6) DEFAULT NULL, partial_save_field_name varchar(191) DEFAULT NULL,
                partial_save_level_key varchar(80) DEFAULT NULL, partial_save_record_occurrence smallint unsigned DEFAULT NULL,
                partial_save_item_occurrence smallint unsigned DEFAULT NULL, partial_save_subitem_occurrence smallint unsigned DEFAULT NULL,
                KEY revision (revision)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """)
            try connection.execute(
                """
                CREATE TABLE \(notes) (id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, case_guid binary(16) NOT NULL, operator_id text,
                field_name text, level_key varchar(80), record_occurrence smallint unsigned, item_occurrence smallint unsigned,
                subitem_occurrence smallint unsigned, content text, modified_time datetime, created_time timestamp NULL DEFAULT NULL,
                KEY case_guid (case_guid)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """)
        } else {
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS cspro_dictionaries (id INTEGER PRIMARY KEY AUTOINCREMENT, dictionary_name TEXT NOT NULL UNIQUE,
                dictionary_label TEXT NOT NULL, dictionary_full_content TEXT NOT NULL, modified_time TEXT, created_time TEXT)
                """)
            try connection.execute(
                """
                CREATE TABLE \(table) (id INTEGER PRIMARY KEY AUTOINCREMENT, guid BLOB NOT NULL UNIQUE, caseids TEXT NOT NULL, label TEXT,
                questionnaire BLOB NOT NULL, revision INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, verified INTEGER NOT NULL DEFAULT 0,
                clock TEXT, modified_time TEXT, created_time TEXT, partial_save_mode TEXT, partial_save_field_name TEXT,
                partial_save_level_key TEXT, partial_save_record_occurrence INTEGER, partial_save_item_occurrence INTEGER,
                partial_save_subitem_occurrence INTEGER)
                """)
            try connection.execute("CREATE INDEX \(try d.quote(name + "_revision")) ON \(table) (revision)")
            try connection.execute(
                """
                CREATE TABLE \(notes) (id INTEGER PRIMARY KEY AUTOINCREMENT, case_guid BLOB NOT NULL, operator_id TEXT, field_name TEXT,
                level_key TEXT, record_occurrence INTEGER, item_occurrence INTEGER, subitem_occurrence INTEGER, content TEXT,
                modified_time TEXT, created_time TEXT)
                """)
        }
        try connection.execute(.delete(Delete(from: QualifiedName("cspro_dictionaries"), where: .equals("dictionary_name", .text(name)))))
        try connection.execute(
            .insert(
                Insert(
                    into: QualifiedName("cspro_dictionaries"),
                    columns: ["dictionary_name", "dictionary_label", "dictionary_full_content"],
                    rows: [[.text(name), .text(dictionary.labels.first?.text ?? name), .text(JSONDictionaryWriter.text(dictionary))]])))
    }

    /// The blob CSWeb stores for a case: its sync JSON (`level-1` form), or the text lines of a CSPro 7.4 client.
    package static func blob(_ c: Case, layout: CaseLayout, textForm: Bool = false) throws -> [UInt8] {
        let content =
            textForm ? TextCaseCodec.encode(c, layout: layout).joined(separator: "\n") : JSONCaseEncoder.encode(c.root, layout: layout)
        return try CaseBlob.encode(Array(content.utf8))
    }

    /// A case that is not in the table yet, for ``insertNew(dictionary:_:)``.
    package struct NewCase {
        package var guid: String
        package var key: String
        package var label: String?
        package var blob: [UInt8]
        package var revision: Int64
        package var partialSave: Case.PartialSave?
    }

    /// Stores cases that are not in the table yet, many rows to a statement (a generated source's
    /// first sync: 2,000,000 cases in minutes, not in millions of round trips).
    package func insertNew(dictionary: String, _ cases: [NewCase]) throws {
        for start in stride(from: 0, to: cases.count, by: 200) {
            let rows: [[SQLValue]] = cases[start..<min(start + 200, cases.count)].map { c in
                let values = Self.values(key: c.key, label: c.label, blob: c.blob, revision: c.revision, deleted: false, c.partialSave)
                return [.blob(Self.guidBytes(c.guid))] + values.map(\.1)
            }
            let columns = ["guid"] + Self.values(key: "", label: nil, blob: [], revision: 0, deleted: false, nil).map(\.0)
            try connection.execute(.insert(Insert(into: QualifiedName(dictionary), columns: columns, rows: rows)))
        }
    }

    static func values(
        key: String, label: String?, blob: [UInt8], revision: Int64, deleted: Bool, _ partialSave: Case.PartialSave?
    ) -> [(String, SQLValue)] {
        [
            ("caseids", .text(key)), ("label", label.map { .text($0) } ?? .null), ("questionnaire", .blob(blob)),
            ("revision", .integer(revision)), ("deleted", .integer(deleted ? 1 : 0)),
            ("partial_save_mode", partialSave.map { .text($0.mode) } ?? .null),
            ("partial_save_field_name", partialSave.map { .text($0.field) } ?? .null),
            ("partial_save_level_key", partialSave.map { .text($0.levelKey) } ?? .null),
            ("partial_save_record_occurrence", partialSave.map { .integer(Int64($0.recordOccurrence)) } ?? .null),
            ("partial_save_item_occurrence", partialSave.map { .integer(Int64($0.itemOccurrence)) } ?? .null),
            ("partial_save_subitem_occurrence", partialSave.map { .integer(Int64($0.subitemOccurrence)) } ?? .null),
        ]
    }

    /// Stores a case as a sync does: a new row, or the existing row (same guid) with a new revision.
    package func put(
        dictionary: String, guid: String, key: String, label: String? = nil, blob: [UInt8], revision: Int64,
        deleted: Bool = false, partialSave: Case.PartialSave? = nil
    ) throws {
        let guidValue = SQLValue.blob(Self.guidBytes(guid))
        let table = QualifiedName(dictionary)
        let values = Self.values(key: key, label: label, blob: blob, revision: revision, deleted: deleted, partialSave)
        let changed = try connection.execute(
            .update(Update(table, set: values.map { Assignment($0.0, $0.1) }, where: .equals("guid", guidValue))))
        if changed == 0 {
            try connection.execute(.insert(Insert(into: table, columns: ["guid"] + values.map(\.0), rows: [[guidValue] + values.map(\.1)])))
        }
    }

    /// Adds a note to a case.
    package func addNote(dictionary: String, guid: String, _ note: Case.Note) throws {
        try connection.execute(
            .insert(
                Insert(
                    into: QualifiedName(dictionary + "_notes"),
                    columns: [
                        "case_guid", "operator_id", "field_name", "level_key", "record_occurrence", "item_occurrence", "subitem_occurrence",
                        "content", "modified_time",
                    ],
                    rows: [
                        [
                            .blob(Self.guidBytes(guid)), .text(note.operatorId), .text(note.field), .text(note.levelKey),
                            .integer(Int64(note.recordOccurrence)),
                            .integer(Int64(note.itemOccurrence)), .integer(Int64(note.subitemOccurrence)), .text(note.content),
                            .text(note.modifiedTime),
                        ]
                    ])))
    }

    /// A UUID's 16 bytes (CSWeb's `binary(16)` guid).
    package static func guidBytes(_ uuid: String) -> [UInt8] {
        let hex = Array(uuid.utf8.filter { $0 != UInt8(ascii: "-") })
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: 0
            }
        }
        return stride(from: 0, to: min(hex.count, 32) - 1, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
    }
}
