import CSQLite3
import DatabaseDriver
import SQL

#if canImport(Glibc)
import Glibc
#endif

/// A connection to an SQLite database file, through the sqlite3 C library
/// (<https://www.sqlite.org/c3ref/intro.html>).
///
/// Opens with foreign keys on, a 10 s busy timeout and, for files, WAL journaling so readers do
/// not block the writer.
package final class SQLiteConnection: DatabaseConnection {
    package let engine = DatabaseEngine.sqlite
    package let dialect: any SQLDialect = SQLiteDialect()
    private var db: OpaquePointer?
    private var cache: [String: SQLiteStatement] = [:]
    private let path: String
    /// Open lock files (`lockSession`), closed with the connection.
    private var lockFiles: [Int32] = []

    /// Opens (creating if needed) the database file at `path`.
    ///
    /// - Throws: ``DatabaseError`` (`.connection`) when the file cannot be opened.
    package init(path: String, readOnly: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        // A new database file is created 0600 (its journal and WAL files take its mode): it holds
        // microdata or the control tables' secrets.
        if !readOnly, path != ":memory:", !path.isEmpty, !path.hasPrefix("file:") {
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { _ = Glibc.close(fd) }
        }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw DatabaseError(.connection, engine: .sqlite, code: String(rc), "cannot open \"\(path)\": \(message)")
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 10_000)
        try execute("PRAGMA foreign_keys = ON")
        if !readOnly && path != ":memory:" && !path.isEmpty {
            // Switching a new file to WAL takes an exclusive lock for which SQLite does not call
            // the busy handler: when another process opens the same new file at that moment, the
            // pragma fails with SQLITE_BUSY. Retry for as long as the busy timeout (bounded).
            for attempt in 0... {
                do {
                    _ = try query("PRAGMA journal_mode = WAL")
                    break
                } catch let error as DatabaseError where Int(error.code ?? "").map({ $0 & 0xff == SQLITE_BUSY }) == true && attempt < 200 {
                    usleep(50_000)
                }
            }
            try execute("PRAGMA synchronous = NORMAL")
        }
    }

    /// Opens the database named by a connection config (`database` is the file path).
    package convenience init(_ config: ConnectionConfig) throws {
        guard !config.database.isEmpty else {
            throw DatabaseError(.configuration, engine: .sqlite, "an SQLite connection needs a database file path")
        }
        try self.init(path: config.database, readOnly: config.options["mode"] == "ro")
    }

    deinit { close() }

    /// An exclusive `flock` on a file next to the database (`<file>.<name>.lock`).
    package func lockSession(_ name: String, timeout: Double) throws -> Bool {
        guard path != ":memory:", !path.isEmpty else { return true }
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        let fd = open(path + "." + safe + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DatabaseError(.connection, engine: .sqlite, "cannot open the lock file next to \"\(path)\"") }
        if try polling(timeout: timeout, { flock(fd, LOCK_EX | LOCK_NB) == 0 }) {
            lockFiles.append(fd)
            return true
        }
        _ = Glibc.close(fd)
        return false
    }

    package func close() {
        for fd in lockFiles { _ = Glibc.close(fd) }
        lockFiles = []
        cache.removeAll()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    package func serverVersion() throws -> String { "SQLite " + String(cString: sqlite3_libversion()) }

    func handle() throws -> OpaquePointer {
        guard let db else { throw DatabaseError(.connection, engine: .sqlite, "the connection is closed") }
        return db
    }

    func failure(_ rc: Int32, sql: String?) -> DatabaseError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        let kind: DatabaseError.Kind = (rc & 0xFF) == SQLITE_CANTOPEN || (rc & 0xFF) == SQLITE_NOTADB ? .connection : .statement
        return DatabaseError(kind, engine: .sqlite, code: String(rc), message, sql: sql)
    }

    /// A prepared statement, from the cache when it was prepared before.
    func prepared(_ sql: String) throws -> SQLiteStatement {
        if let statement = cache[sql] {
            statement.reset()
            return statement
        }
        let statement = try SQLiteStatement(connection: self, db: try handle(), sql: sql)
        if cache.count > 64 { cache.removeAll() }
        cache[sql] = statement
        return statement
    }

    @discardableResult
    package func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        let db = try handle()
        if binds.isEmpty {
            // Possibly several statements: let SQLite walk them.
            var error: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(db, sql, nil, nil, &error)
            if rc != SQLITE_OK {
                let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
                sqlite3_free(error)
                throw DatabaseError(.statement, engine: .sqlite, code: String(rc), message, sql: sql)
            }
            return Int(sqlite3_changes(db))
        }
        let statement = try prepared(sql)
        try statement.bind(binds)
        while try statement.step() {}
        return Int(sqlite3_changes(db))
    }

    package func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] {
        let statement = try prepared(sql)
        try statement.bind(binds)
        let columns = statement.columnNames
        var rows: [Row] = []
        while try statement.step() {
            rows.append(Row(columns: columns, values: statement.currentValues()))
        }
        statement.reset()
        return rows
    }

    package func beginTransaction() throws { try execute(dialect.beginTransaction) }
    package func commit() throws { try execute(dialect.commitTransaction) }
    package func rollback() throws { try execute("ROLLBACK") }

    var inTransaction: Bool { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }

    package func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        try SQLiteBulkLoader(connection: self, table: table, columns: columns)
    }
}
