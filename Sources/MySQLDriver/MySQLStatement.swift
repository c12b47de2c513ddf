import CMariaDB
import DatabaseDriver
import SQL

/// One server-side prepared statement, closed on deinit. Parameter and result buffers are owned
/// here and stay valid through execute and fetch, as `MYSQL_BIND` requires.
final class MySQLStatement {
    private let stmt: UnsafeMutablePointer<MYSQL_STMT>
    private unowned let connection: MySQLConnection
    private let sql: String
    private var allocations: [UnsafeMutableRawPointer] = []

    init(connection: MySQLConnection, mysql: UnsafeMutablePointer<MYSQL>, sql: String) throws {
        guard let stmt = mysql_stmt_init(mysql) else { throw connection.failure(sql: sql) }
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
        if mysql_stmt_prepare(stmt, sql, UInt(sql.utf8.count)) != 0 {
            throw connection.statementFailure(stmt, sql: sql)
        }
    }

    deinit {
        mysql_stmt_close(stmt)
        allocations.forEach { $0.deallocate() }
    }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 8)
        allocations.append(p)
        return p
    }

    private func copy(_ bytes: some Collection<UInt8>) -> (UnsafeMutableRawPointer, Int) {
        let p = allocate(bytes.count)
        var i = 0
        for b in bytes { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self); i += 1 }
        return (p, bytes.count)
    }

    func execute(_ values: [SQLValue]) throws -> (rows: [Row], changed: Int) {
        let expected = Int(mysql_stmt_param_count(stmt))
        guard values.count == expected else {
            throw DatabaseError(
                .statement, engine: .mysql, "statement has \(expected) placeholders but \(values.count) values were bound", sql: sql)
        }
        var params = [MYSQL_BIND](repeating: MYSQL_BIND(), count: values.count)
        for (i, value) in values.enumerated() {
            switch value {
            case .null:
                params[i].buffer_type = MYSQL_TYPE_NULL
            case .integer(let v):
                let p = allocate(8)
                p.storeBytes(of: v, as: Int64.self)
                params[i].buffer_type = MYSQL_TYPE_LONGLONG
                params[i].buffer = p
            case .double(let d):
                let p = allocate(8)
                p.storeBytes(of: d, as: Double.self)
                params[i].buffer_type = MYSQL_TYPE_DOUBLE
                params[i].buffer = p
            case .decimal(let d):
                let (p, n) = copy(d.description.utf8)
                params[i].buffer_type = MYSQL_TYPE_NEWDECIMAL
                params[i].buffer = p
                params[i].buffer_length = UInt(n)
            case .text(let s):
                let (p, n) = copy(s.utf8)
                params[i].buffer_type = MYSQL_TYPE_STRING
                params[i].buffer = p
                params[i].buffer_length = UInt(n)
            case .timestamp(let t):
                let (p, n) = copy(SQLTimestamp.format(t).utf8)
                params[i].buffer_type = MYSQL_TYPE_STRING
                params[i].buffer = p
                params[i].buffer_length = UInt(n)
            case .blob(let bytes):
                let (p, n) = copy(bytes)
                params[i].buffer_type = MYSQL_TYPE_BLOB
                params[i].buffer = p
                params[i].buffer_length = UInt(n)
            }
        }
        if !params.isEmpty, mysql_stmt_bind_param(stmt, &params) != 0 { throw connection.statementFailure(stmt, sql: sql) }
        var updateMax: my_bool = 1
        mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMax)
        if mysql_stmt_execute(stmt) != 0 { throw connection.statementFailure(stmt, sql: sql) }

        guard let metadata = mysql_stmt_result_metadata(stmt) else {
            let affected = mysql_stmt_affected_rows(stmt)
            return ([], affected == UInt64.max ? 0 : Int(affected))
        }
        defer { mysql_free_result(metadata) }
        if mysql_stmt_store_result(stmt) != 0 { throw connection.statementFailure(stmt, sql: sql) }
        defer { mysql_stmt_free_result(stmt) }
        let count = Int(mysql_num_fields(metadata))
        let fields = mysql_fetch_fields(metadata)!
        let columns = (0..<count).map { String(cString: fields[$0].name) }
        var results = [MYSQL_BIND](repeating: MYSQL_BIND(), count: count)
        let lengths = allocate(8 * count).bindMemory(to: UInt.self, capacity: count)
        let nulls = allocate(count).bindMemory(to: my_bool.self, capacity: count)
        for c in 0..<count {
            let field = fields[c]
            results[c].length = lengths + c
            results[c].is_null = nulls + c
            switch field.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24, MYSQL_TYPE_YEAR:
                results[c].buffer_type = MYSQL_TYPE_LONGLONG
                results[c].buffer = allocate(8)
                results[c].is_unsigned = (field.flags & UInt32(UNSIGNED_FLAG)) != 0 ? 1 : 0
            case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
                results[c].buffer_type = MYSQL_TYPE_DOUBLE
                results[c].buffer = allocate(8)
            default:
                let size = Int(field.max_length) + 1
                results[c].buffer_type = MySQLConnection.isBinary(field) ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING
                results[c].buffer = allocate(size)
                results[c].buffer_length = UInt(size)
            }
        }
        if mysql_stmt_bind_result(stmt, &results) != 0 { throw connection.statementFailure(stmt, sql: sql) }
        var rows: [Row] = []
        while true {
            let rc = mysql_stmt_fetch(stmt)
            if rc == MYSQL_NO_DATA { break }
            if rc == 1 { throw connection.statementFailure(stmt, sql: sql) }
            var values: [SQLValue] = []
            values.reserveCapacity(count)
            for c in 0..<count {
                if nulls[c] != 0 { values.append(.null); continue }
                let buffer = results[c].buffer!
                switch results[c].buffer_type {
                case MYSQL_TYPE_LONGLONG:
                    let raw = buffer.load(as: Int64.self)
                    if results[c].is_unsigned != 0, raw < 0 {
                        values.append(.decimal(SQLDecimal(String(UInt64(bitPattern: raw)))!))
                    } else {
                        values.append(.integer(raw))
                    }
                case MYSQL_TYPE_DOUBLE:
                    values.append(.double(buffer.load(as: Double.self)))
                default:
                    let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(lengths[c]))
                    values.append(MySQLConnection.value(bytes, field: fields[c]))
                }
            }
            rows.append(Row(columns: columns, values: values))
        }
        return (rows, 0)
    }
}
