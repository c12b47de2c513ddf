/// MySQL 8 and MariaDB 10.5 and later.
package struct MySQLDialect: SQLDialect {
    package var currentTimeQuery: String { "SELECT UNIX_TIMESTAMP(NOW(6))" }
    package init() {}
    package var engine: DatabaseEngine { .mysql }
    package var identifierQuotes: (open: String, close: String) { ("`", "`") }
    package var maxIdentifierLength: (count: Int, inBytes: Bool)? { (64, false) }
    package var bindStyle: BindStyle { .questionMark }
    package var namespacing: Namespacing { .prefix }
    package var bulkLoadMethod: BulkLoadMethod { .loadDataLocalInfile }
    package var maxBindsPerStatement: Int { 65_535 }
    /// InnoDB's limit (MySQL itself allows 4,096).
    package var maxColumnsPerTable: Int { 1_017 }
    package var indexesInline: Bool { true }
    package var beginTransaction: String { "START TRANSACTION" }

    package func tableExistsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
            [table.schema.map(SQLValue.text) ?? .null, .text(table.name)])
    }

    package func columnsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
            [table.schema.map(SQLValue.text) ?? .null, .text(table.name)])
    }

    /// InnoDB stores a table in its primary key's order: rows appended out of that order land at
    /// random places of a table larger than the buffer pool; added afterwards, the key is built by
    /// sorting.
    package var defersPrimaryKeys: Bool { true }

    /// The primary key, unique and foreign keys from `table_constraints`, indexes from `statistics` (a foreign key's
    /// own index carries the key's name and is listed as an index too).
    package func keysQuery(_ table: QualifiedName) -> SQLStatement? {
        let schema = table.schema.map(SQLValue.text) ?? .null
        return .raw(
            "SELECT CASE constraint_type WHEN 'UNIQUE' THEN 'unique' WHEN 'PRIMARY KEY' THEN 'primary' ELSE 'foreign' END, "
                + "constraint_name FROM information_schema.table_constraints WHERE table_schema = COALESCE(?, DATABASE()) "
                + "AND table_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY') "
                + "UNION ALL SELECT DISTINCT 'index', index_name FROM information_schema.statistics "
                + "WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? AND index_name <> 'PRIMARY'",
            [schema, .text(table.name), schema, .text(table.name)])
    }

    /// InnoDB adds a checked foreign key by copying the whole table; unchecked, in place.
    package var foreignKeyChecks: (off: String, on: String)? {
        ("SET SESSION foreign_key_checks = 0", "SET SESSION foreign_key_checks = 1")
    }

    /// `LOAD DATA LOCAL INFILE` of tab-separated text (the driver's `TextRowEncoder`), which the
    /// client feeds from memory under the name `stream`.
    package func bulkLoadStatement(_ quotedTable: String, columns quotedColumns: [String], rows: Int, stream: String) -> String {
        "LOAD DATA LOCAL INFILE '\(stream)' INTO TABLE \(quotedTable) CHARACTER SET utf8mb4 "
            + "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            + "(\(quotedColumns.joined(separator: ", ")))"
    }
    /// utf8mb4 keeps 4-byte UTF-8 text; the binary collation keeps every distinction CSPro makes.
    package var tableOptions: String { " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" }

    /// Longest `VARCHAR` that fits MySQL's 65,535-byte row limit in utf8mb4; longer text is `LONGTEXT`.
    package static let maxVarcharLength = 16_383

    package func identifierProblem(_ name: String) -> String? {
        if name.last == " " { return "ends with a space, which MySQL does not allow" }
        if name.unicodeScalars.contains(where: { $0.value > 0xFFFF }) {
            return "contains a character outside the Basic Multilingual Plane, which MySQL does not allow in names"
        }
        return nil
    }

    package func typeName(_ type: SQLType) -> String {
        switch type {
        case .integer: "INT"
        case .bigint: "BIGINT"
        case .decimal(let p, let s): "DECIMAL(\(p),\(s))"
        case .double: "DOUBLE"
        case .varchar(let n): n <= Self.maxVarcharLength ? "VARCHAR(\(n))" : "LONGTEXT"
        case .text: "LONGTEXT"
        case .timestamp: "DATETIME(6)"
        case .blob: "LONGBLOB"
        }
    }

    package func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String {
        "\(quotedName) \(typeName(type)) NOT NULL AUTO_INCREMENT PRIMARY KEY"
    }

    /// MySQL strings treat `\` as an escape character unless `NO_BACKSLASH_ESCAPES` is set.
    package func literal(_ value: SQLValue) -> String {
        standardLiteral(value, stringPrefix: "", escapeBackslash: true)
    }

    package func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String {
        "CREATE DATABASE \(ifNotExists ? "IF NOT EXISTS " : "")\(quotedName) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    }

    /// Plain `CREATE INDEX`: MySQL 8 has no `IF NOT EXISTS` here (indexes normally come inline with the table).
    package func createIndex(
        _ quotedIndex: String, rawIndex: String, on quotedTable: String, rawTable: QualifiedName,
        columns: String, unique: Bool, ifNotExists: Bool
    ) -> String {
        "CREATE \(unique ? "UNIQUE " : "")INDEX \(quotedIndex) ON \(quotedTable) (\(columns))"
    }

    package func alterColumnType(_ quotedTable: String, column: String, type: String, nullable: Bool) -> String? {
        "ALTER TABLE \(quotedTable) MODIFY \(column) \(type)\(nullable ? "" : " NOT NULL")"
    }

    /// DDL commits implicitly in MySQL, so the swap is one `RENAME TABLE` (atomic: readers see the
    /// old tables or the new ones, never neither), then the retired tables are dropped.
    package func swapTables(_ swap: TableSwap, renderer: SQLRenderer) throws -> [String] {
        let retired = swap.live.map { QualifiedName("\(swap.liveNamespace)__old_" + $0.name.dropFirst(swap.liveNamespace.count + 1)) }
        var pairs = try zip(swap.live, retired).map { "\(try quote($0)) TO \(try quote($1))" }
        pairs += try zip(swap.shadow, swap.target).map { "\(try quote($0.name)) TO \(try quote($1.name))" }
        // Retired tables are dropped with foreign-key checks off for the session: a table renamed
        // by hand (drift a rebuild repairs) still references them, and keeps its rows.
        let drops =
            try ["SET foreign_key_checks = 0"] + retired.reversed().map { "DROP TABLE IF EXISTS \(try quote($0))" } + [
                "SET foreign_key_checks = 1"
            ]
        // The first drops: left over by a swap interrupted between its rename and its drops.
        return drops + ["RENAME TABLE " + pairs.joined(separator: ", ")] + drops
    }

    package func paging(limit: Int?, offset: Int?, orderBy: String) -> String {
        var out = ""
        if let limit { out += " LIMIT \(limit)" } else if let offset, offset > 0 { out += " LIMIT 18446744073709551615" }
        if let offset, offset > 0 { out += " OFFSET \(offset)" }
        return out
    }

    package func upsert(table: String, columns: [String], keyColumns: [String], values: String) -> String {
        let others = columns.filter { !keyColumns.contains($0) }
        let updates = others.isEmpty ? ["\(keyColumns[0]) = \(keyColumns[0])"] : others.map { "\($0) = VALUES(\($0))" }
        return
            "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(values) ON DUPLICATE KEY UPDATE \(updates.joined(separator: ", "))"
    }
}
