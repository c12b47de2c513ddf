import CFreeTDS
import DatabaseDriver
import SQL

/// Bulk path for SQL Server: db-lib's bcp (`bcp_init` … `bcp_sendrow` … `bcp_done`). Every
/// column is bound as character data and converted by the server. An empty string travels as
/// NULL, which is what bcp itself does with zero-length character data.
final class SQLServerBulkLoader: BulkLoader {
    private unowned let connection: SQLServerConnection
    private let proc: OpaquePointer
    private let table: String
    private let columnCount: Int
    private var finished = false
    let method = BulkLoadMethod.bcp.rawValue

    init(connection: SQLServerConnection, proc: OpaquePointer, table: QualifiedName, columns: [String]) throws {
        guard !columns.isEmpty else { throw DatabaseError(.bulkLoad, engine: .sqlserver, "a bulk load into \"\(table)\" names no columns") }
        self.connection = connection
        self.proc = proc
        self.table = try connection.dialect.quote(table)
        columnCount = columns.count
        _ = SQLServerConnection.take(proc)
        guard bcp_init(proc, self.table, nil, nil, DB_IN) == SUCCEED else {
            throw connection.failure(sql: "bcp in \(self.table)", kind: .bulkLoad)
        }
        // Columns are bound in table order; the loader's columns must be the table's columns.
        var empty: UInt8 = 0
        for c in 1...Int32(columns.count) {
            guard bcp_bind(proc, &empty, 0, 0, nil, 0, Int32(SYBCHAR), c) == SUCCEED else {
                throw connection.failure(sql: "bcp in \(self.table)", kind: .bulkLoad)
            }
        }
    }

    deinit {
        if !finished { _ = bcp_done(proc) }
    }

    func append(_ row: [SQLValue]) throws {
        guard row.count == columnCount else {
            throw DatabaseError(.bulkLoad, engine: .sqlserver, "row has \(row.count) values for \(columnCount) columns of \(table)")
        }
        // One contiguous buffer holds every column's bytes until bcp_sendrow has copied them.
        var bytes: [UInt8] = []
        var spans: [(offset: Int, length: Int)] = []
        for value in row {
            let field: [UInt8]
            switch value {
            case .null: field = []
            case .blob(let b): field = Array(connection.dialect.literal(.blob(b)).utf8.dropFirst(2))
            default: field = Array((value.string ?? "").utf8)
            }
            spans.append((bytes.count, field.count))
            bytes += field
        }
        bytes.append(0)
        try bytes.withUnsafeMutableBufferPointer { buf in
            for (i, span) in spans.enumerated() {
                let column = Int32(i + 1)
                guard bcp_colptr(proc, buf.baseAddress! + span.offset, column) == SUCCEED,
                    bcp_collen(proc, DBINT(span.length), column) == SUCCEED
                else {
                    throw connection.failure(sql: "bcp in \(table)", kind: .bulkLoad)
                }
            }
            guard bcp_sendrow(proc) == SUCCEED else { throw connection.failure(sql: "bcp in \(table)", kind: .bulkLoad) }
        }
    }

    func finish() throws -> Int {
        finished = true
        let rows = bcp_done(proc)
        guard rows >= 0 else { throw connection.failure(sql: "bcp in \(table)", kind: .bulkLoad) }
        return Int(rows)
    }
}
