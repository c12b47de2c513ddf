import CSQLite3
import DatabaseDriver
import SQL

/// One prepared `sqlite3_stmt`, finalized on deinit. Lives only inside this module.
final class SQLiteStatement {
    private let stmt: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String
    let columnNames: [String]

    init(connection: SQLiteConnection, db: OpaquePointer, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw connection.failure(rc, sql: sql)
        }
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
        columnNames = (0..<sqlite3_column_count(stmt)).map { String(cString: sqlite3_column_name(stmt, $0)) }
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func bind(_ values: [SQLValue]) throws {
        let expected = Int(sqlite3_bind_parameter_count(stmt))
        guard values.count == expected else {
            throw DatabaseError(
                .statement, engine: .sqlite, "statement has \(expected) placeholders but \(values.count) values were bound", sql: sql)
        }
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .double(let d): rc = sqlite3_bind_double(stmt, index, d)
            case .decimal(let d):
                if let v = Int64(d.description) { rc = sqlite3_bind_int64(stmt, index, v) } else { rc = bindText(d.description, index) }
            case .text(let s): rc = bindText(s, index)
            case .timestamp(let t): rc = bindText(SQLTimestamp.format(t), index)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(
                        stmt, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), breakout_sqlite_transient())
                }
            }
            if rc != SQLITE_OK { throw connection.failure(rc, sql: sql) }
        }
    }

    private func bindText(_ s: String, _ index: Int32) -> Int32 {
        var s = s
        return s.withUTF8 { buf in
            UnsafeRawPointer(buf.baseAddress ?? UnsafePointer(bitPattern: 1)!).withMemoryRebound(
                to: CChar.self, capacity: max(buf.count, 1)
            ) {
                sqlite3_bind_text(stmt, index, $0, Int32(buf.count), breakout_sqlite_transient())
            }
        }
    }

    /// Advances; true while a row is available, false when done.
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(stmt)
            throw connection.failure(rc, sql: sql)
        }
    }

    func currentValues() -> [SQLValue] {
        (0..<Int32(columnNames.count)).map { i in
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(stmt, i))
            case SQLITE_FLOAT: return .double(sqlite3_column_double(stmt, i))
            case SQLITE_TEXT:
                let count = Int(sqlite3_column_bytes(stmt, i))
                guard let p = sqlite3_column_text(stmt, i) else { return .text("") }
                return .text(String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(stmt, i))
                guard let p = sqlite3_column_blob(stmt, i) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: p, count: count)))
            default: return .null
            }
        }
    }
}
