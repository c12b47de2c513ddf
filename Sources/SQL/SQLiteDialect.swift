/// SQLite 3.35 and later (the embedded default).
public struct SQLiteDialect: SQLDialect {
    public init() {}
    public var engine: DatabaseEngine { .sqlite }
    public var maxIdentifierLength: (count: Int, inBytes: Bool)? { nil }
    public var bindStyle: BindStyle { .questionMark }
    public var namespacing: Namespacing { .prefix }
    public var bulkLoadMethod: BulkLoadMethod { .preparedBatch }
    /// `SQLITE_MAX_VARIABLE_NUMBER` since 3.32.
    public var maxBindsPerStatement: Int { 32_766 }

    /// SQLite stores `DECIMAL` with NUMERIC affinity: as an integer or a double, so exact to 15
    /// significant digits (CSPro numeric items have at most 15).
    public func typeName(_ type: SQLType) -> String {
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
    public func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String {
        "\(quotedName) INTEGER PRIMARY KEY AUTOINCREMENT"
    }

    public func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String {
        throw SQLError(dialect: name, "SQLite has no schemas; dictionaries are separated by a table-name prefix")
    }
}
