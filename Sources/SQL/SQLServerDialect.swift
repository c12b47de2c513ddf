/// Microsoft SQL Server 2016 and later (and Azure SQL), through FreeTDS db-lib.
///
/// db-lib sends plain SQL text, so values are rendered as `N'…'` literals (``BindStyle/inline``).
package struct SQLServerDialect: SQLDialect {
    package var currentTimeQuery: String { "SELECT CAST(DATEDIFF_BIG(millisecond, '1970-01-01', SYSUTCDATETIME()) AS float) / 1000.0" }
    package init() {}
    package var engine: DatabaseEngine { .sqlserver }
    package var identifierQuotes: (open: String, close: String) { ("[", "]") }
    package var maxIdentifierLength: (count: Int, inBytes: Bool)? { (128, false) }
    package var bindStyle: BindStyle { .inline }
    package var namespacing: Namespacing { .schema }
    package var bulkLoadMethod: BulkLoadMethod { .bcp }
    package var maxBindsPerStatement: Int { 2_100 }
    /// SQL Server's limit for a non-sparse table.
    package var maxColumnsPerTable: Int { 1_024 }
    /// A table value constructor holds at most 1,000 rows.
    package var maxRowsPerValues: Int? { 1_000 }
    package var beginTransaction: String { "BEGIN TRANSACTION" }

    /// Literals, not binds: db-lib sends plain text.
    package func tableExistsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = \(table.schema.map { literal(.text($0)) } ?? "SCHEMA_NAME()") "
                + "AND TABLE_NAME = \(literal(.text(table.name)))", [])
    }
    package func columnsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = \(table.schema.map { literal(.text($0)) } ?? "SCHEMA_NAME()") "
                + "AND TABLE_NAME = \(literal(.text(table.name)))", [])
    }
    package var commitTransaction: String { "COMMIT TRANSACTION" }

    /// The request db-lib's bcp sends before the rows (`bcp_init` … `bcp_done`): the rows follow
    /// in TDS's bulk format.
    package func bulkLoadStatement(_ quotedTable: String, columns quotedColumns: [String], rows: Int, stream: String) -> String {
        "INSERT BULK \(quotedTable) (\(quotedColumns.joined(separator: ", ")))"
    }

    package func typeName(_ type: SQLType) -> String {
        switch type {
        case .integer: "INT"
        case .bigint: "BIGINT"
        case .decimal(let p, let s): "DECIMAL(\(p),\(s))"
        case .double: "FLOAT"
        case .varchar(let n): n <= 4000 ? "NVARCHAR(\(n))" : "NVARCHAR(MAX)"
        case .text: "NVARCHAR(MAX)"
        case .timestamp: "DATETIME2(6)"
        case .blob: "VARBINARY(MAX)"
        }
    }

    package func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String {
        "\(quotedName) \(typeName(type)) IDENTITY(1,1) PRIMARY KEY"
    }

    package func literal(_ value: SQLValue) -> String {
        switch value {
        case .blob(let bytes): "0x\(hex(bytes))"
        default: standardLiteral(value, stringPrefix: "N")
        }
    }

    package func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String {
        let create = "CREATE SCHEMA \(quotedName)"
        guard ifNotExists else { return create }
        return "IF SCHEMA_ID(\(literal(.text(rawName)))) IS NULL EXEC(\(literal(.text(create))))"
    }

    package func createTable(_ quotedTable: String, rawTable: QualifiedName, body: String, ifNotExists: Bool) -> String {
        let create = "CREATE TABLE \(quotedTable) (\(body))"
        guard ifNotExists else { return create }
        return "IF OBJECT_ID(\(literal(.text(quotedTable))), N'U') IS NULL \(create)"
    }

    package func createIndex(
        _ quotedIndex: String, rawIndex: String, on quotedTable: String, rawTable: QualifiedName,
        columns: String, unique: Bool, ifNotExists: Bool
    ) -> String {
        let create = "CREATE \(unique ? "UNIQUE " : "")INDEX \(quotedIndex) ON \(quotedTable) (\(columns))"
        guard ifNotExists else { return create }
        return
            "IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = \(literal(.text(rawIndex))) AND object_id = OBJECT_ID(\(literal(.text(quotedTable))))) \(create)"
    }

    /// `OFFSET … FETCH` needs an `ORDER BY`; without one, `ORDER BY (SELECT NULL)` is added.
    package func paging(limit: Int?, offset: Int?, orderBy: String) -> String {
        guard limit != nil || (offset ?? 0) > 0 else { return "" }
        var out = orderBy.isEmpty ? " ORDER BY (SELECT NULL)" : ""
        out += " OFFSET \(offset ?? 0) ROWS"
        if let limit { out += " FETCH NEXT \(limit) ROWS ONLY" }
        return out
    }

    package func upsert(table: String, columns: [String], keyColumns: [String], values: String) -> String {
        let others = columns.filter { !keyColumns.contains($0) }
        let on = keyColumns.map { "target.\($0) = source.\($0)" }.joined(separator: " AND ")
        var sql =
            "MERGE INTO \(table) WITH (HOLDLOCK) AS target USING (VALUES \(values)) AS source (\(columns.joined(separator: ", "))) ON \(on)"
        if !others.isEmpty {
            sql += " WHEN MATCHED THEN UPDATE SET " + others.map { "\($0) = source.\($0)" }.joined(separator: ", ")
        }
        sql +=
            " WHEN NOT MATCHED THEN INSERT (\(columns.joined(separator: ", "))) VALUES (\(columns.map { "source.\($0)" }.joined(separator: ", ")));"
        return sql
    }

    package func alterColumnType(_ quotedTable: String, column: String, type: String, nullable: Bool) -> String? {
        "ALTER TABLE \(quotedTable) ALTER COLUMN \(column) \(type)\(nullable ? " NULL" : " NOT NULL")"
    }

    /// Transactional DDL, but schemas cannot be renamed: drop the live tables (children first), move
    /// each shadow table into the live schema, drop the empty shadow schema.
    package func swapTables(_ swap: TableSwap, renderer: SQLRenderer) throws -> [String] {
        var out = try swap.live.reversed().map { "DROP TABLE \(try quote($0))" }
        out += try swap.shadow.map { "ALTER SCHEMA \(try quote(swap.liveNamespace)) TRANSFER \(try quote($0.name))" }
        out.append("DROP SCHEMA \(try quote(swap.shadowNamespace))")
        return out
    }
}
