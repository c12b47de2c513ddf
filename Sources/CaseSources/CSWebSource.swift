import CSPro
import DatabaseDriver
import Foundation
import SQL

/// CSWeb's database as a case source: `cspro_dictionaries` and one table per dictionary whose
/// `questionnaire` column holds compressed cases (MySQL in production; an SQLite file with the same
/// tables for the embedded demo and tests).
public struct CSWebSource {
    public let connection: any DatabaseConnection

    public init(connection: any DatabaseConnection) {
        self.connection = connection
    }

    /// The dictionary names CSWeb holds.
    public func dictionaryNames() throws -> [String] {
        try connection.query("SELECT dictionary_name FROM cspro_dictionaries ORDER BY dictionary_name").compactMap { $0[0].string }
    }

    /// A dictionary as uploaded (JSON or legacy text).
    public func dictionary(named name: String) throws -> CSProDictionary {
        let rows = try connection.query(.select(Select(from: QualifiedName("cspro_dictionaries"), columns: ["dictionary_full_content"],
                                                       where: .equals("dictionary_name", .text(name)))))
        guard let content = rows.first?[0] else {
            let known = (try? dictionaryNames()) ?? []
            throw CaseDecodingError("CSWeb has no dictionary \(name); it has: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        let data: Data = switch content {
        case .blob(let bytes): Data(bytes)
        default: Data((content.string ?? "").utf8)
        }
        return try CSProDictionary.parse(data, file: "cspro_dictionaries[\(name)]")
    }

    /// One row of a dictionary table, not yet decoded.
    public struct StoredCase: Sendable {
        public var rowID: Int64
        public var guid: String
        public var key: String
        public var label: String?
        public var revision: Int64
        public var deleted: Bool
        public var verified: Bool
        public var questionnaire: [UInt8]
    }

    /// Stored cases of a dictionary in (revision, id) order, optionally only those with `key`.
    public func storedCases(dictionary name: String, key: String? = nil, afterRevision: Int64? = nil, limit: Int? = nil) throws -> [StoredCase] {
        var conditions: [SQLPredicate] = []
        if let key { conditions.append(.equals("caseids", .text(key))) }
        if let afterRevision { conditions.append(.compare("revision", .greater, .integer(afterRevision))) }
        let rows = try connection.query(.select(Select(
            from: QualifiedName(name), columns: ["id", "guid", "caseids", "label", "revision", "deleted", "verified", "questionnaire"],
            where: conditions.isEmpty ? nil : .and(conditions), orderBy: [SortKey("revision"), SortKey("id")], limit: limit)))
        return rows.map { row in
            StoredCase(rowID: row["id"]?.int64 ?? 0, guid: Self.uuid(row["guid"] ?? .null), key: row["caseids"]?.string ?? "",
                       label: row["label"]?.string, revision: row["revision"]?.int64 ?? 0, deleted: row["deleted"]?.int64 == 1,
                       verified: row["verified"]?.int64 == 1, questionnaire: Self.bytes(row["questionnaire"] ?? .null))
        }
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
        let b = bytes(value)
        guard b.count == 16 else { return value.string ?? "" }
        let hex = b.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.map(String.init).joined(separator: "-")
    }

    /// Decodes a stored case; a case that cannot be decoded throws ``CaseDecodingError`` with the reason.
    public static func decode(_ stored: StoredCase, layout: CaseLayout) throws -> Case {
        var c = try CaseBlob.decode(stored.questionnaire, layout: layout, id: stored.guid, key: stored.key)
        c.label = stored.label
        c.deleted = stored.deleted
        c.verified = stored.verified
        return c
    }
}
