import Foundation
import SQL

/// An open connection to one database. Implemented once per engine; the only types that touch
/// the C client libraries.
///
/// Connections are not `Sendable`: use one from one thread at a time, and lend it to work for the
/// duration of that work.
package protocol DatabaseConnection: AnyObject {
    var engine: DatabaseEngine { get }
    var dialect: any SQLDialect { get }

    /// The server's own version string (for SQLite, the library's).
    func serverVersion() throws -> String

    /// Runs a statement (or, without binds, several separated by `;`) and returns the number of
    /// rows it changed.
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int

    /// Runs a query and returns every row, typed (integers, exact decimals, doubles, text, bytes,
    /// timestamps, NULL).
    func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row]

    func beginTransaction() throws
    func commit() throws
    func rollback() throws

    /// Starts a bulk load of rows into `table`'s `columns` by the engine's fastest path. Rows are
    /// streamed; memory stays bounded whatever their number. Runs inside the current transaction
    /// when there is one.
    func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader

    /// Takes the lock `name` for this session, waiting at most `timeout` seconds. True when taken:
    /// it is held until the connection closes, and released by the server (or the kernel, for
    /// SQLite's lock file) when the process dies. False when another session holds it.
    func lockSession(_ name: String, timeout: Double) throws -> Bool

    /// Closes the connection; later calls fail. Also done on deinit.
    func close()
}

extension DatabaseConnection {
    /// Asks `attempt` every 0.2 s until it is true or `timeout` seconds have passed.
    package func polling(timeout: Double, _ attempt: () throws -> Bool) throws -> Bool {
        var waited = 0.0
        while true {
            if try attempt() { return true }
            if waited >= timeout { return false }
            usleep(200_000)
            waited += 0.2
        }
    }
}

/// Receives rows for one table and loads them by the engine's bulk path.
package protocol BulkLoader: AnyObject {
    /// Adds one row (values in the loader's column order).
    func append(_ row: [SQLValue]) throws
    /// Sends what is buffered, ends the load and returns the number of rows loaded.
    func finish() throws -> Int
    /// How the rows travel (shown in plans and benchmarks).
    var method: String { get }
}

extension DatabaseConnection {
    @discardableResult
    package func execute(_ sql: String) throws -> Int { try execute(sql, []) }

    package func query(_ sql: String) throws -> [Row] { try query(sql, []) }

    @discardableResult
    package func execute(_ rendered: RenderedSQL) throws -> Int { try execute(rendered.sql, rendered.binds) }

    package func query(_ rendered: RenderedSQL) throws -> [Row] { try query(rendered.sql, rendered.binds) }

    /// Renders a statement in this connection's dialect and runs every resulting statement.
    /// Transaction statements go through ``beginTransaction()`` and ``commit()`` (which send the
    /// dialect's text), and a bulk load through the connection's bulk loader; the count returned
    /// is then the rows loaded.
    @discardableResult
    package func execute(_ statement: SQLStatement) throws -> Int {
        switch statement {
        case .begin: try beginTransaction(); return 0
        case .commit: try commit(); return 0
        case .bulkLoad(let load): return try bulkLoad(into: load.table, columns: load.columns, rows: load.rows)
        default: break
        }
        var changed = 0
        for rendered in try SQLRenderer(dialect).render(statement) { changed += try execute(rendered) }
        return changed
    }

    /// Renders a query in this connection's dialect and returns its rows.
    package func query(_ statement: SQLStatement) throws -> [Row] {
        var rows: [Row] = []
        for rendered in try SQLRenderer(dialect).render(statement) { rows += try query(rendered) }
        return rows
    }

    /// Whether the table exists, from the engine's catalog. Throws when the catalog cannot be read
    /// (a lost connection is not "no table").
    package func tableExists(_ table: QualifiedName) throws -> Bool {
        (try query(dialect.tableExistsQuery(table)).first?[0].int64 ?? 0) > 0
    }

    /// The names of the table's columns, from the engine's catalog (empty when it is missing).
    package func columnNames(_ table: QualifiedName) throws -> [String] {
        try query(dialect.columnsQuery(table)).compactMap { $0[0].string }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try beginTransaction()
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            // The body's error is the one to report; a failed rollback leaves a connection the next statement reports
            // as broken.
            try? rollback()
            throw error
        }
    }

    /// Loads `rows` into `table` by the bulk path and returns how many were loaded.
    @discardableResult
    package func bulkLoad<S: Sequence>(into table: QualifiedName, columns: [String], rows: S) throws -> Int where S.Element == [SQLValue] {
        let loader = try makeBulkLoader(into: table, columns: columns)
        for row in rows { try loader.append(row) }
        return try loader.finish()
    }
}
