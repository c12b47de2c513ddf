import SQL

/// A deliberately odd dialect (quotes «…», tiny bind limit) so that any syntax hard-coded in the
/// renderer instead of asked of the dialect shows up in a test.
struct OddDialect: SQLDialect {
    var engine: DatabaseEngine { .postgresql }
    var identifierQuotes: (open: String, close: String) { ("«", "»") }
    var maxIdentifierLength: (count: Int, inBytes: Bool)? { (10, false) }
    var bindStyle: BindStyle { .dollarNumbered }
    var namespacing: Namespacing { .prefix }
    var bulkLoadMethod: BulkLoadMethod { .preparedBatch }
    var maxBindsPerStatement: Int { 5 }
    var currentTimeQuery: String { "SELECT 0" }
    func typeName(_ type: SQLType) -> String { "T<\(type)>" }
}
