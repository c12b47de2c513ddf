/// A table name, optionally inside a schema (PostgreSQL, SQL Server) or database (MySQL).
///
/// Names are kept exactly as written; quoting happens only when SQL is rendered, in
/// ``SQLDialect/quote(_:)``.
public struct QualifiedName: Sendable, Hashable, CustomStringConvertible {
    public var schema: String?
    public var name: String

    public init(_ name: String, schema: String? = nil) {
        self.name = name
        self.schema = schema
    }

    public var description: String { schema.map { "\($0).\(name)" } ?? name }
}
