/// PostgreSQL 12 and later.
package struct PostgreSQLDialect: SQLDialect {
    package var currentTimeQuery: String { "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8" }
    package init() {}
    package var engine: DatabaseEngine { .postgresql }
    /// `NAMEDATALEN - 1`: longer names are silently truncated by the server, so they are refused here.
    package var maxIdentifierLength: (count: Int, inBytes: Bool)? { (63, true) }
    package var bindStyle: BindStyle { .dollarNumbered }
    package var namespacing: Namespacing { .schema }
    package var bulkLoadMethod: BulkLoadMethod { .copyFromStdin }
    package var maxBindsPerStatement: Int { 65_535 }

    /// Unique and foreign keys from `pg_constraint`, indexes from `pg_indexes` (the primary and
    /// unique keys' own indexes are listed as indexes too).
    package func keysQuery(_ table: QualifiedName) -> SQLStatement? {
        .raw(
            "SELECT CASE c.contype WHEN 'u' THEN 'unique' ELSE 'foreign' END, c.conname FROM pg_constraint c "
                + "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
                + "WHERE n.nspname = COALESCE($1, current_schema()) AND t.relname = $2 AND c.contype IN ('u', 'f') "
                + "UNION ALL SELECT 'index', indexname FROM pg_indexes WHERE schemaname = COALESCE($1, current_schema()) AND tablename = $2",
            [table.schema.map(SQLValue.text) ?? .null, .text(table.name)])
    }

    package func typeName(_ type: SQLType) -> String {
        switch type {
        case .integer: "INTEGER"
        case .bigint: "BIGINT"
        case .decimal(let p, let s): "NUMERIC(\(p),\(s))"
        case .double: "DOUBLE PRECISION"
        case .varchar(let n): "VARCHAR(\(n))"
        case .text: "TEXT"
        case .timestamp: "TIMESTAMP(6)"
        case .blob: "BYTEA"
        }
    }

    package func literal(_ value: SQLValue) -> String {
        switch value {
        case .blob(let bytes): "'\\x\(hex(bytes))'::bytea"
        case .timestamp(let t): "TIMESTAMP '\(SQLTimestamp.format(t))'"
        default: standardLiteral(value, stringPrefix: "")
        }
    }
}
