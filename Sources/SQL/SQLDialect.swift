/// How bound values reach the server.
package enum BindStyle: Sendable, Hashable {
    /// `$1`, `$2`, … (PostgreSQL).
    case dollarNumbered
    /// `?` (MySQL, SQLite).
    case questionMark
    /// No server-side binds: values are rendered as escaped literals (SQL Server through db-lib).
    case inline
}

/// How several dictionaries share one destination database without name collisions.
package enum Namespacing: Sendable, Hashable {
    /// One schema per dictionary (`"rgph"."cases"`).
    case schema
    /// A table-name prefix per dictionary (`rgph_cases`).
    case prefix
}

/// The fastest way each engine takes many rows.
package enum BulkLoadMethod: String, Sendable, Hashable {
    case copyFromStdin = "COPY FROM STDIN"
    case loadDataLocalInfile = "LOAD DATA LOCAL INFILE"
    case bcp = "bcp"
    case preparedBatch = "prepared INSERT batch"
}

/// Everything that differs between engines, in one place. One conforming type per engine, one file
/// each; the renderer and the breakout engine ask the dialect and never test which engine it is.
///
/// Defaults (in the extension below) follow standard SQL and PostgreSQL; an engine overrides what
/// it does differently.
package protocol SQLDialect: Sendable {
    var engine: DatabaseEngine { get }
    /// Characters that open and close a quoted identifier; the closing one is doubled inside.
    var identifierQuotes: (open: String, close: String) { get }
    /// Longest identifier the engine keeps intact, and in which unit; `nil` for no limit.
    var maxIdentifierLength: (count: Int, inBytes: Bool)? { get }
    var bindStyle: BindStyle { get }
    var namespacing: Namespacing { get }
    var bulkLoadMethod: BulkLoadMethod { get }
    /// Most bound values one statement may carry.
    var maxBindsPerStatement: Int { get }
    /// Most columns one table may have.
    var maxColumnsPerTable: Int { get }

    /// The engine's name for a column type.
    func typeName(_ type: SQLType) -> String
    /// A column clause for a generated key column.
    func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String
    /// Extra engine-specific problems with an identifier (beyond empty, NUL and length).
    func identifierProblem(_ name: String) -> String?
    /// A value as a literal in this engine's syntax.
    func literal(_ value: SQLValue) -> String
    /// `CREATE SCHEMA` for this engine.
    func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String
    /// Wraps a `CREATE TABLE` body so that it does nothing when the table exists.
    func createTable(_ quotedTable: String, rawTable: QualifiedName, body: String, ifNotExists: Bool) -> String
    /// Whether indexes are declared inside `CREATE TABLE` (true) or as separate statements.
    var indexesInline: Bool { get }
    func createIndex(
        _ quotedIndex: String, rawIndex: String, on quotedTable: String, rawTable: QualifiedName,
        columns: String, unique: Bool, ifNotExists: Bool
    ) -> String
    /// `LIMIT`/`OFFSET` or its equivalent, appended after `ORDER BY` (`orderBy` is empty when none).
    func paging(limit: Int?, offset: Int?, orderBy: String) -> String
    /// An upsert of rows rendered as `VALUES` tuples.
    func upsert(table: String, columns: [String], keyColumns: [String], values: String) -> String
    /// Table options after the closing parenthesis of `CREATE TABLE`.
    var tableOptions: String { get }
    /// `ALTER TABLE … ALTER COLUMN … TYPE …`, or nil when the engine needs nothing (SQLite ignores lengths).
    func alterColumnType(_ quotedTable: String, column: String, type: String, nullable: Bool) -> String?
    /// Statements, run in one transaction (one statement where DDL is not transactional), that drop
    /// the live tables and give the shadow tables their names.
    func swapTables(_ swap: TableSwap, renderer: SQLRenderer) throws -> [String]
    /// The statements that set the comments of a table or view and of its columns (``TableComments``).
    func commentStatements(_ comments: TableComments, renderer: SQLRenderer) throws -> [String]
    /// A one-row, one-column query giving the server's current time as seconds since 1970 (UTC),
    /// the one clock the runners share (docs/runner.md, "One clock").
    var currentTimeQuery: String { get }

    /// The statement that opens a transaction. Drivers send it; dry runs print it.
    var beginTransaction: String { get }
    /// The statement that commits one.
    var commitTransaction: String { get }
    /// Whether several connections may write the destination at once. SQLite has one writer,
    /// so a breakout into it runs one worker.
    var concurrentWriters: Bool { get }
    /// Most rows one `VALUES` list may hold, whatever the binds; nil when only the bind limit counts.
    var maxRowsPerValues: Int? { get }
    /// The statement that starts a bulk load of `rows` rows by ``bulkLoadMethod``: the one the
    /// driver sends, the rows following it on the engine's bulk path. `stream` names the data a
    /// `LOAD DATA LOCAL INFILE` reads (the driver's own name for it; dry runs print a placeholder).
    func bulkLoadStatement(_ quotedTable: String, columns quotedColumns: [String], rows: Int, stream: String) -> String
    /// A one-row, one-column query counting the tables named `table` (in its schema, or the
    /// session's current one): the catalog's answer, so a missing table and a failed query are
    /// never confused.
    func tableExistsQuery(_ table: QualifiedName) -> SQLStatement
    /// A query listing the names of `table`'s columns, one row each (none when the table is
    /// missing): drift detection compares them with the columns breakout created.
    func columnsQuery(_ table: QualifiedName) -> SQLStatement
    /// A query listing the unique keys, foreign keys and secondary indexes `table` has now, one row
    /// each: its kind (``TableKeyKind``'s raw value) and its name. Nil where a first load never
    /// adds keys after its rows (``SQLStatement/addKeys(_:)``).
    func keysQuery(_ table: QualifiedName) -> SQLStatement?
    /// The statements around ``SQLStatement/addKeys(_:)`` when the engine checks foreign keys by
    /// copying the table (InnoDB): checks off for the session, then on again; the rows are then
    /// validated by ``SQLStatement/countOrphans(_:_:)``. Nil where adding a key validates it in place.
    var foreignKeyChecks: (off: String, on: String)? { get }
    /// Whether a first load that adds its keys after its rows leaves the primary keys of the tables
    /// it only appends to out as well (InnoDB, whose tables are stored in primary-key order).
    var defersPrimaryKeys: Bool { get }
}

/// A key or index as the catalog lists it (``SQLDialect/keysQuery(_:)``).
package enum TableKeyKind: String, Sendable {
    case primary, unique, foreign, index
}

extension SQLDialect {
    /// PostgreSQL's limit; engines with another one override it.
    package var maxColumnsPerTable: Int { 1_600 }

    package var name: String { engine.rawValue }
    package var beginTransaction: String { "BEGIN" }
    package var commitTransaction: String { "COMMIT" }
    package var concurrentWriters: Bool { true }
    package var maxRowsPerValues: Int? { nil }

    /// PostgreSQL's `COPY … FROM STDIN`; the rows follow in COPY's text format.
    package func bulkLoadStatement(_ quotedTable: String, columns quotedColumns: [String], rows: Int, stream: String) -> String {
        "COPY \(quotedTable) (\(quotedColumns.joined(separator: ", "))) FROM STDIN"
    }

    package func tableExistsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2",
            [table.schema.map(SQLValue.text) ?? .null, .text(table.name)])
    }

    package func columnsQuery(_ table: QualifiedName) -> SQLStatement {
        .raw(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2",
            [table.schema.map(SQLValue.text) ?? .null, .text(table.name)])
    }

    /// How many rows one multi-row `INSERT` of `columns` columns carries: the bind limit, the
    /// `VALUES` limit and `cap`, whichever is smallest (at least one).
    package func rowsPerInsert(columns: Int, cap: Int = .max) -> Int {
        max(1, min(cap, maxRowsPerValues ?? .max, maxBindsPerStatement / max(1, columns)))
    }
    package var identifierQuotes: (open: String, close: String) { ("\"", "\"") }
    package var indexesInline: Bool { false }
    package func keysQuery(_ table: QualifiedName) -> SQLStatement? { nil }
    package var foreignKeyChecks: (off: String, on: String)? { nil }
    package var defersPrimaryKeys: Bool { false }
    package var tableOptions: String { "" }
    package func identifierProblem(_ name: String) -> String? { nil }

    /// Quotes one identifier so that any name survives: the closing quote character is doubled.
    ///
    /// - Throws: ``SQLError`` for an empty name, a NUL character, a name longer than the engine
    ///   keeps (PostgreSQL would silently truncate it) or one the engine refuses.
    package func quote(_ identifier: String) throws -> String {
        if identifier.isEmpty { throw SQLError(dialect: name, "an identifier cannot be empty") }
        if identifier.utf8.contains(0) {
            throw SQLError(dialect: name, "identifier \"\(identifier.debugDescription.dropFirst().dropLast())\" contains a NUL character")
        }
        if let (limit, inBytes) = maxIdentifierLength {
            let size = inBytes ? identifier.utf8.count : identifier.count
            if size > limit {
                throw SQLError(
                    dialect: name,
                    "identifier \"\(identifier)\" is \(size) \(inBytes ? "bytes" : "characters") long; \(name) keeps at most \(limit)")
            }
        }
        if let problem = identifierProblem(identifier) {
            throw SQLError(dialect: name, "identifier \"\(identifier)\" \(problem)")
        }
        let (open, close) = identifierQuotes
        return open + identifier.replacingOccurrences(of: close, with: close + close) + close
    }

    /// Quotes a possibly schema-qualified table name.
    package func quote(_ name: QualifiedName) throws -> String {
        if let schema = name.schema { return try quote(schema) + "." + quote(name.name) }
        return try quote(name.name)
    }

    /// The table `table` of the namespace `namespace` (a dictionary), as this engine separates them.
    package func namespaced(_ table: String, in namespace: String) -> QualifiedName {
        switch namespacing {
        case .schema: QualifiedName(table, schema: namespace)
        case .prefix: QualifiedName("\(namespace)_\(table)")
        }
    }

    package func autoIncrementColumn(_ quotedName: String, _ type: SQLType) -> String {
        "\(quotedName) \(typeName(type)) GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    }

    package func alterColumnType(_ quotedTable: String, column: String, type: String, nullable: Bool) -> String? {
        "ALTER TABLE \(quotedTable) ALTER COLUMN \(column) TYPE \(type)"
    }

    /// PostgreSQL: transactional DDL, one schema per dictionary: drop the live schema, rename the shadow one.
    package func swapTables(_ swap: TableSwap, renderer: SQLRenderer) throws -> [String] {
        [
            "DROP SCHEMA IF EXISTS \(try quote(swap.liveNamespace)) CASCADE",
            "ALTER SCHEMA \(try quote(swap.shadowNamespace)) RENAME TO \(try quote(swap.liveNamespace))",
        ]
    }

    package func createSchema(_ quotedName: String, rawName: String, ifNotExists: Bool) throws -> String {
        "CREATE SCHEMA \(ifNotExists ? "IF NOT EXISTS " : "")\(quotedName)"
    }

    package func createTable(_ quotedTable: String, rawTable: QualifiedName, body: String, ifNotExists: Bool) -> String {
        "CREATE TABLE \(ifNotExists ? "IF NOT EXISTS " : "")\(quotedTable) (\(body))\(tableOptions)"
    }

    package func createIndex(
        _ quotedIndex: String, rawIndex: String, on quotedTable: String, rawTable: QualifiedName,
        columns: String, unique: Bool, ifNotExists: Bool
    ) -> String {
        "CREATE \(unique ? "UNIQUE " : "")INDEX \(ifNotExists ? "IF NOT EXISTS " : "")\(quotedIndex) ON \(quotedTable) (\(columns))"
    }

    package func paging(limit: Int?, offset: Int?, orderBy: String) -> String {
        var out = ""
        if let limit { out += " LIMIT \(limit)" }
        if let offset, offset > 0 { out += limit == nil ? " LIMIT -1 OFFSET \(offset)" : " OFFSET \(offset)" }
        return out
    }

    package func upsert(table: String, columns: [String], keyColumns: [String], values: String) -> String {
        let others = columns.filter { !keyColumns.contains($0) }
        let action =
            others.isEmpty
            ? "DO NOTHING"
            : "DO UPDATE SET " + others.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        return
            "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(values) ON CONFLICT (\(keyColumns.joined(separator: ", "))) \(action)"
    }

    /// Standard SQL literal: `'…'` with doubled quotes, `X'…'` bytes.
    package func literal(_ value: SQLValue) -> String {
        standardLiteral(value, stringPrefix: "")
    }

    func standardLiteral(_ value: SQLValue, stringPrefix: String, escapeBackslash: Bool = false) -> String {
        switch value {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .decimal(let d): return d.description
        case .double(let d):
            if d.isNaN || d.isInfinite { return "NULL" }
            return "\(d)"
        case .text(let s): return stringPrefix + quoteString(s, escapeBackslash: escapeBackslash)
        case .timestamp(let t): return "'" + SQLTimestamp.format(t) + "'"
        case .blob(let bytes): return "X'" + hex(bytes) + "'"
        }
    }

    func quoteString(_ s: String, escapeBackslash: Bool) -> String {
        var out = "'"
        out.reserveCapacity(s.utf8.count + 2)
        for ch in s.unicodeScalars {
            switch ch {
            case "'": out += "''"
            case "\\" where escapeBackslash: out += "\\\\"
            case "\0" where escapeBackslash: out += "\\0"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "'"
    }

    func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
