import DatabaseDriver
import SQL

/// Bulk path for SQLite: one prepared multi-row `INSERT` reused for every batch, inside the
/// caller's transaction or one of its own.
final class SQLiteBulkLoader: BulkLoader {
    private let connection: SQLiteConnection
    private let table: QualifiedName
    private let columns: [String]
    private let rowsPerStatement: Int
    private var pending: [SQLValue] = []
    private var pendingRows = 0
    private var loaded = 0
    private let ownsTransaction: Bool
    private var finished = false
    let method = BulkLoadMethod.preparedBatch.rawValue

    init(connection: SQLiteConnection, table: QualifiedName, columns: [String]) throws {
        guard !columns.isEmpty else { throw DatabaseError(.bulkLoad, engine: .sqlite, "a bulk load into \"\(table)\" names no columns") }
        self.connection = connection
        self.table = table
        self.columns = columns
        rowsPerStatement = connection.dialect.rowsPerInsert(columns: columns.count, cap: 500)
        ownsTransaction = !connection.inTransaction
        pending.reserveCapacity(rowsPerStatement * columns.count)
        if ownsTransaction { try connection.beginTransaction() }
    }

    deinit {
        // Abandoned mid-way: the error that abandoned it is the one reported.
        if ownsTransaction && !finished { try? connection.rollback() }
    }

    func append(_ row: [SQLValue]) throws {
        guard row.count == columns.count else {
            throw DatabaseError(.bulkLoad, engine: .sqlite, "row has \(row.count) values for \(columns.count) columns of \"\(table)\"")
        }
        pending.append(contentsOf: row)
        pendingRows += 1
        if pendingRows == rowsPerStatement { try flush() }
    }

    private func flush() throws {
        guard pendingRows > 0 else { return }
        let sql = try insertSQL(rows: pendingRows)
        try connection.execute(sql, pending)
        loaded += pendingRows
        pending.removeAll(keepingCapacity: true)
        pendingRows = 0
    }

    private var cachedSQL: (rows: Int, sql: String)?

    private func insertSQL(rows: Int) throws -> String {
        if let cachedSQL, cachedSQL.rows == rows { return cachedSQL.sql }
        let dialect = connection.dialect
        let sql = dialect.bulkLoadStatement(
            try dialect.quote(table), columns: try columns.map { try dialect.quote($0) }, rows: rows, stream: "")
        if rows == rowsPerStatement { cachedSQL = (rows, sql) }
        return sql
    }

    func finish() throws -> Int {
        try flush()
        if ownsTransaction { try connection.commit() }
        finished = true
        return loaded
    }
}
