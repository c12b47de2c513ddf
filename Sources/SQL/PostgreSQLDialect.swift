/// PostgreSQL 12 and later.
public struct PostgreSQLDialect: SQLDialect {
    public var currentTimeQuery: String { "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8" }
    public init() {}
    public var engine: DatabaseEngine { .postgresql }
    /// `NAMEDATALEN - 1`: longer names are silently truncated by the server, so they are refused here.
    public var maxIdentifierLength: (count: Int, inBytes: Bool)? { (63, true) }
    public var bindStyle: BindStyle { .dollarNumbered }
    public var namespacing: Namespacing { .schema }
    public var bulkLoadMethod: BulkLoadMethod { .copyFromStdin }
    public var maxBindsPerStatement: Int { 65_535 }

    public func typeName(_ type: SQLType) -> String {
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

    public func literal(_ value: SQLValue) -> String {
        switch value {
        case .blob(let bytes): "'\\x\(hex(bytes))'::bytea"
        case .timestamp(let t): "TIMESTAMP '\(SQLTimestamp.format(t))'"
        default: standardLiteral(value, stringPrefix: "")
        }
    }
}
