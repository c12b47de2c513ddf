import DatabaseDriver
import SQL

/// Streams rows into PostgreSQL with `COPY table (columns) FROM STDIN` in text format, sending
/// 256 KiB at a time.
final class PostgresCopyLoader: BulkLoader {
    private let connection: PostgresConnection
    private let sql: String
    private let columnCount: Int
    private let encoder = TextRowEncoder(blobStyle: .postgresHex)
    private var buffer: [UInt8] = []
    private var active = true
    private static let flushSize = 256 * 1024
    let method = BulkLoadMethod.copyFromStdin.rawValue

    init(connection: PostgresConnection, table: QualifiedName, columns: [String]) throws {
        guard !columns.isEmpty else {
            throw DatabaseError(.bulkLoad, engine: .postgresql, "a bulk load into \"\(table)\" names no columns")
        }
        let dialect = connection.dialect
        sql = dialect.bulkLoadStatement(try dialect.quote(table), columns: try columns.map { try dialect.quote($0) }, rows: 0, stream: "")
        self.connection = connection
        columnCount = columns.count
        buffer.reserveCapacity(Self.flushSize + 4096)
        try connection.startCopy(sql)
    }

    deinit {
        // Abandoned mid-way (an error above us): abort the COPY so the connection stays usable.
        if active { _ = try? connection.endCopy(sql: sql, errorMessage: "bulk load abandoned") }
    }

    func append(_ row: [SQLValue]) throws {
        guard row.count == columnCount else {
            throw DatabaseError(.bulkLoad, engine: .postgresql, "row has \(row.count) values for \(columnCount) columns", sql: sql)
        }
        encoder.encode(row, into: &buffer)
        if buffer.count >= Self.flushSize {
            try connection.putCopyData(buffer, sql: sql)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    func finish() throws -> Int {
        if !buffer.isEmpty { try connection.putCopyData(buffer, sql: sql) }
        buffer = []
        active = false
        return try connection.endCopy(sql: sql)
    }
}
