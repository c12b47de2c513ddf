/// SQLite 3.35 and later (the embedded default).
package struct SQLiteDialect: SQLDialect {
    package var currentTimeQuery: String { "SELECT (julianday('now') - 2440587.5) * 86400.0" }
    package init() {}
    package var engine: DatabaseEngine { .sqlite }
    package var maxIdentifierLength: (count: Int, inBytes: Bool)? { nil }
    package var bindStyle: BindStyle { .questionMark }
    package var namespacing: Namespacing { .prefix }
    package var bulkLoadMethod: BulkLoadMethod { .preparedBatch }
    /// `SQLITE_MAX_VARIABLE_NUMBER` since 3.32.
    package var maxBindsPerStatement: Int { 32_766 }
    /// SQLITE_MAX_COLUMN's default.
    package var maxColumnsPerTable: Int { 2_000 }
    /// Takes the write lock at once, so a transaction never fails half-way on a busy database.
    package var beginTransaction: String { "BEGIN IMMEDIATE" }
    package var concurrentWriters: Bool { false }

    /// Tables of the main database (breakout's SQLite tables are prefixed, never in an attached schema).
    package func tableExistsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table.name)])
    }

    package func columnsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw("SELECT name FROM pragma_table_info(?)", [.text(table.name)])
    }

    /// One prepared multi-row `INSERT` with `rows` tuples of placeholders, reused batch after batch.
    package func bulkLoadStatement(_ quotedTable: String, columns quotedColumns: [String], rows: Int, stream: String) -> String {
        let tuple = "(" + Array(repeating: "?", count: quotedColumns.count).joined(separator: ", ") + ")"
        return "INSERT INTO \(quotedTable) (\(quotedColumns.joined(separator: ", "))) VALUES "
            + Array(repeating: tuple, count: max(1, rows)).joined(separator: ", ")
    }

    /// SQLite stores `DECIMAL` with NUMERIC affinity: as an integer or a double, so exact to 15
    /// significant digits (CSPro numeric items have at most 15).
    package func typeName(_ type: SQLType) -> String {
        switch type {
        case .integer: "INTEGER"
        case .bigint: "BIGINT"
        case .decimal(let p, let s): "DECIMAL(\(p),\(s))"
        case .double: "REAL"
        case .varchar(let n): "VARCHAR(\(n))"
        case .text: "TEXT"
        case .timestamp: "DATETIME"
        case .blob: "BLOB"
        }
    }

    /// Only `INTEGER PRIMARY KEY` aliases the rowid.
    package func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String {
        "\(quotedName) INTEGER PRIMARY KEY AUTOINCREMENT"
    }

    package func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String {
        throw SQLError(dialect: name, "SQLite has no schemas; dictionaries are separated by a table-name prefix")
    }

    /// SQLite does not enforce `VARCHAR` lengths or decimal precision: widening needs no statement.
    package func alterColumnType(_ quotedTable: String, column: String, type: String, nullable: Bool) -> String? { nil }

    /// Transactional DDL: drop the live tables (children first), rename the shadow ones (SQLite
    /// rewrites foreign keys that point at them), and give their indexes the final names (index
    /// names are global in an SQLite database).
    package func swapTables(_ swap: TableSwap, renderer: SQLRenderer) throws -> [String] {
        var out = try swap.live.reversed().map { "DROP TABLE IF EXISTS \(try quote($0))" }
        for (shadow, target) in zip(swap.shadow, swap.target) {
            out.append("ALTER TABLE \(try quote(shadow.name)) RENAME TO \(try quote(target.name))")
            for index in shadow.indexes { out.append("DROP INDEX IF EXISTS \(try quote(index.name))") }
            for index in target.indexes { out += try renderer.render(.createIndex(index, ifNotExists: true)).map(\.sql) }
        }
        return out
    }
}
