import DatabaseDriver
import SQL

/// Bulk path for MySQL/MariaDB: rows are encoded as tab-separated text and sent with
/// `LOAD DATA LOCAL INFILE` in batches of about 8 MiB, fed from memory. Because the server turns
/// conversion errors and duplicate keys into warnings under `LOCAL`, any warning fails the load
/// (nothing is truncated silently), and the server's row count must equal the rows sent.
///
/// When the server refuses local infile (`local_infile=0`, or option `local_infile=0` on the
/// connection), the loader switches to multi-row prepared `INSERT`s.
final class MySQLBulkLoader: BulkLoader {
    private let connection: MySQLConnection
    private let table: QualifiedName
    private let columns: [String]
    private let loadSQL: String
    private let encoder = TextRowEncoder(blobStyle: .raw)
    private var buffer: [UInt8] = []
    private var bufferedRows: [[SQLValue]] = []
    private var bufferedCount = 0
    private var useInsert: Bool
    private var confirmedLoadData = false
    private var loaded = 0
    private static let flushBytes = 8 * 1024 * 1024
    private let insertRows: Int

    var method: String { useInsert ? "multi-row INSERT" : BulkLoadMethod.loadDataLocalInfile.rawValue }

    let streamName: String

    init(connection: MySQLConnection, table: QualifiedName, columns: [String]) throws {
        guard !columns.isEmpty else { throw DatabaseError(.bulkLoad, engine: .mysql, "a bulk load into \"\(table)\" names no columns") }
        let dialect = connection.dialect
        self.connection = connection
        self.table = table
        self.columns = columns
        useInsert = !connection.localInfileAllowed
        insertRows = dialect.rowsPerInsert(columns: columns.count, cap: 1000)
        // A name no server can guess: the connection's gate serves this load's stream under it only.
        streamName = "breakout-bulk-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        loadSQL = dialect.bulkLoadStatement(
            try dialect.quote(table), columns: try columns.map { try dialect.quote($0) },
            rows: 0, stream: streamName)
    }

    func append(_ row: [SQLValue]) throws {
        guard row.count == columns.count else {
            throw DatabaseError(.bulkLoad, engine: .mysql, "row has \(row.count) values for \(columns.count) columns of \"\(table)\"")
        }
        bufferedCount += 1
        if useInsert {
            bufferedRows.append(row)
            if bufferedRows.count >= insertRows { try flush() }
            return
        }
        encoder.encode(row, into: &buffer)
        // Until LOAD DATA has worked once, keep the rows to replay them as INSERTs if it is refused.
        if !confirmedLoadData { bufferedRows.append(row) }
        if buffer.count >= Self.flushBytes { try flush() }
    }

    private func flush() throws {
        guard bufferedCount > 0 else { return }
        if !useInsert {
            do {
                let (rows, warnings) = try connection.loadData(loadSQL, name: streamName, data: buffer)
                if warnings > 0 {
                    throw DatabaseError(
                        .bulkLoad, engine: .mysql,
                        "LOAD DATA into \"\(table)\" raised \(warnings) warning(s), refusing a lossy load: \(connection.warnings())",
                        sql: loadSQL)
                }
                if rows != bufferedCount {
                    throw DatabaseError(
                        .bulkLoad, engine: .mysql, "LOAD DATA into \"\(table)\" stored \(rows) of \(bufferedCount) rows", sql: loadSQL)
                }
                confirmedLoadData = true
                loaded += rows
                buffer.removeAll(keepingCapacity: true)
                bufferedRows.removeAll()
                bufferedCount = 0
                return
            } catch let error as DatabaseError where !confirmedLoadData && Self.isLocalInfileRefusal(error) {
                useInsert = true
                buffer = []
            }
        }
        var start = 0
        while start < bufferedRows.count {
            let end = min(bufferedRows.count, start + insertRows)
            let statement = SQLStatement.insert(Insert(into: table, columns: columns, rows: Array(bufferedRows[start..<end])))
            try connection.execute(statement)
            loaded += end - start
            start = end
        }
        bufferedRows.removeAll(keepingCapacity: true)
        bufferedCount = 0
    }

    /// Errors by which a server or client says local infile is off.
    static func isLocalInfileRefusal(_ error: DatabaseError) -> Bool {
        guard let code = error.code else { return false }
        return ["1148", "2068", "3948", "4166"].contains(code)
    }

    func finish() throws -> Int {
        try flush()
        return loaded
    }
}
