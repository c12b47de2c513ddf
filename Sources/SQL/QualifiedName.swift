/// A table name, optionally inside a schema (PostgreSQL, SQL Server) or database (MySQL).
///
/// Names are kept exactly as written; quoting happens only when SQL is rendered, in
/// ``SQLDialect/quote(_:)``.
package struct QualifiedName: Sendable, Hashable, CustomStringConvertible {
    package var schema: String?
    package var name: String

    package init(_ name: String, schema: String? = nil) {
        self.name = name
        self.schema = schema
    }

    package var description: String { schema.map { "\($0).\(name)" } ?? name }
}
