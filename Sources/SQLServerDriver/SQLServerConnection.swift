import CFreeTDS
import DatabaseDriver
import Foundation
import SQL
import Synchronization

/// A connection to Microsoft SQL Server through FreeTDS db-lib
/// (<https://www.freetds.org/reference/a00284.html>).
///
/// db-lib sends SQL text without parameters, so the dialect renders values as `N'…'` literals;
/// `execute(_:_:)` refuses non-empty binds. Bulk loads go through db-lib's bcp API. No SQL Server
/// runs on the machines this was built on: the driver compiles and links, its SQL is covered by
/// golden tests, and it has not been run against a server (see docs/databases.md).
package final class SQLServerConnection: DatabaseConnection {
    package let engine = DatabaseEngine.sqlserver
    package let dialect: any SQLDialect = SQLServerDialect()
    private var proc: OpaquePointer?
    private let password: String?

    /// db-lib's handlers are process-wide; messages are filed here under the DBPROCESS address
    /// (0 while logging in) and picked up by the connection that caused them.
    static let messages = Mutex<[Int: String]>([:])

    private static let initialized: Bool = {
        guard dbinit() == SUCCEED else { return false }
        // Without an error handler db-lib ends the process on a connection failure.
        dberrhandle { proc, severity, dberr, _, dberrstr, _ in
            let text = dberrstr.map { String(cString: $0) } ?? "db-lib error \(dberr)"
            SQLServerConnection.file(proc, "\(dberr): \(text)", replace: false)
            return INT_CANCEL
        }
        dbmsghandle { proc, msgno, _, severity, msgtext, _, _, _ in
            if severity > 10 {
                let text = msgtext.map { String(cString: $0) } ?? ""
                SQLServerConnection.file(proc, "\(msgno): \(text)", replace: true)
            }
            return 0
        }
        return true
    }()

    static func file(_ proc: OpaquePointer?, _ message: String, replace: Bool) {
        let key = proc.map { Int(bitPattern: UnsafeRawPointer($0)) } ?? 0
        messages.withLock { all in
            if replace || all[key] == nil { all[key] = message }
            // While logging in, db-lib may report through a DBPROCESS that dbopen never returns.
            if key != 0, replace || all[0] == nil { all[0] = message }
        }
    }

    static func take(_ proc: OpaquePointer?) -> String? {
        let key = proc.map { Int(bitPattern: UnsafeRawPointer($0)) } ?? 0
        return messages.withLock { $0.removeValue(forKey: key) }
    }

    /// Connects to `host:port` and uses `database`. TDS 7.4, UTF-8 client character set, bcp enabled.
    ///
    /// - Throws: ``DatabaseError`` `.authentication` (server error 18456) or `.connection`.
    package init(_ config: ConnectionConfig) throws {
        guard Self.initialized else { throw DatabaseError(.connection, engine: .sqlserver, "dbinit failed") }
        password = config.password
        guard let login = dblogin() else { throw DatabaseError(.connection, engine: .sqlserver, "dblogin failed: out of memory") }
        defer { dbloginfree(login) }
        _ = breakout_dbsetluser(login, config.user ?? "")
        _ = breakout_dbsetlpwd(login, config.password ?? "")
        _ = breakout_dbsetlapp(login, "breakout")
        _ = breakout_dbsetlcharset(login, "UTF-8")
        _ = breakout_dbsetldbname(login, config.database)
        _ = breakout_dbsetlversion74(login)
        _ = breakout_dbsetlbcp(login)
        dbsetlogintime(Int32(config.options["connect_timeout"] ?? "10") ?? 10)
        let server = "\(config.host ?? "127.0.0.1"):\(config.port ?? 1433)"
        _ = Self.take(nil)
        guard let proc = breakout_dbopen(login, server) else {
            let message = DatabaseError.scrub(Self.take(nil) ?? "cannot connect to \(server)", secrets: [config.password])
            let kind: DatabaseError.Kind = message.hasPrefix("18456") || message.contains("Login failed") ? .authentication : .connection
            throw DatabaseError(kind, engine: .sqlserver, message)
        }
        self.proc = proc
    }

    deinit { close() }

    /// `sp_getapplock` owned by the session (verified by golden text only: no SQL Server here).
    package func lockSession(_ name: String, timeout: Double) throws -> Bool {
        let resource = name.replacingOccurrences(of: "'", with: "''")
        let sql =
            "DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'\(resource)', @LockMode = 'Exclusive', @LockOwner = 'Session', "
            + "@LockTimeout = \(Int(timeout * 1000)); SELECT @r AS r"
        return (try query(sql, []).last?[0].int64 ?? -1) >= 0
    }

    package func close() {
        if let proc {
            dbclose(proc)
            _ = Self.take(proc)
        }
        proc = nil
    }

    func handle() throws -> OpaquePointer {
        guard let proc else { throw DatabaseError(.connection, engine: .sqlserver, "the connection is closed") }
        return proc
    }

    func failure(sql: String?, kind: DatabaseError.Kind = .statement) -> DatabaseError {
        let raw = Self.take(proc) ?? "unknown error"
        var code: String?
        var message = raw
        if let colon = raw.firstIndex(of: ":"), Int(raw[..<colon]) != nil {
            code = String(raw[..<colon])
            message = String(raw[(raw.index(colon, offsetBy: 2, limitedBy: raw.endIndex) ?? raw.endIndex)...])
        }
        let dead = proc.map { dbdead($0) != 0 } ?? true
        return DatabaseError(
            dead ? .connection : kind, engine: .sqlserver, code: code,
            DatabaseError.scrub(message, secrets: [password]), sql: sql)
    }

    package func serverVersion() throws -> String {
        let rows = try query("SELECT CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(128))")
        return "SQL Server " + (rows.first?[0].string ?? "?")
    }

    /// Sends `sql` and walks every result; returns the last result set's rows and the changed-row total.
    func run(_ sql: String, _ binds: [SQLValue]) throws -> (rows: [Row], changed: Int) {
        guard binds.isEmpty else {
            throw DatabaseError(
                .unsupported, engine: .sqlserver,
                "db-lib takes no bound parameters; render the statement with SQLRenderer, which inlines values as literals", sql: sql)
        }
        let proc = try handle()
        _ = Self.take(proc)
        guard dbcmd(proc, sql) == SUCCEED, dbsqlexec(proc) == SUCCEED else { throw failure(sql: sql) }
        var rows: [Row] = []
        var changed = 0
        while true {
            let rc = dbresults(proc)
            if rc == NO_MORE_RESULTS { break }
            guard rc == SUCCEED else { throw failure(sql: sql) }
            let columnCount = dbnumcols(proc)
            if columnCount > 0 {
                let columns = (1...columnCount).map { String(cString: dbcolname(proc, $0)) }
                rows = []
                while true {
                    let status = dbnextrow(proc)
                    if status == NO_MORE_ROWS { break }
                    if status == FAIL { throw failure(sql: sql) }
                    rows.append(Row(columns: columns, values: (1...columnCount).map { value(proc, column: $0) }))
                }
            }
            let count = dbcount(proc)
            if count > 0 { changed += Int(count) }
        }
        return (rows, changed)
    }

    private func value(_ proc: OpaquePointer, column: Int32) -> SQLValue {
        let length = Int(dbdatlen(proc, column))
        guard let data = dbdata(proc, column) else { return .null }
        let type = dbcoltype(proc, column)
        let raw = UnsafeRawPointer(data)
        switch type {
        case Int32(SYBINT1): return .integer(Int64(raw.load(as: UInt8.self)))
        case Int32(SYBINT2): return .integer(Int64(raw.loadUnaligned(as: Int16.self)))
        case Int32(SYBINT4): return .integer(Int64(raw.loadUnaligned(as: Int32.self)))
        case Int32(SYBINT8): return .integer(raw.loadUnaligned(as: Int64.self))
        case Int32(SYBBIT): return .integer(Int64(raw.load(as: UInt8.self)))
        case Int32(SYBFLT8): return .double(raw.loadUnaligned(as: Double.self))
        case Int32(SYBREAL): return .double(Double(raw.loadUnaligned(as: Float.self)))
        case Int32(SYBBINARY), Int32(SYBVARBINARY), Int32(SYBIMAGE):
            return .blob(Array(UnsafeRawBufferPointer(start: raw, count: length)))
        case Int32(SYBCHAR), Int32(SYBVARCHAR), Int32(SYBTEXT),
            Int32(SYBNVARCHAR), Int32(SYBNTEXT):
            return .text(String(decoding: UnsafeRawBufferPointer(start: raw, count: length), as: UTF8.self))
        default:
            // Decimals, money, dates: let db-lib write them as text.
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = buffer.withUnsafeMutableBufferPointer {
                dbconvert(proc, type, data, DBINT(length), Int32(SYBCHAR), $0.baseAddress, DBINT($0.count))
            }
            guard n >= 0 else { return .null }
            let text = String(decoding: buffer.prefix(Int(n)), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if let d = SQLDecimal(text) { return .decimal(d) }
            if let t = SQLTimestamp.parse(text) { return .timestamp(t) }
            return .text(text)
        }
    }

    @discardableResult
    package func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int { try run(sql, binds).changed }

    package func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] { try run(sql, binds).rows }

    package func beginTransaction() throws { try execute(dialect.beginTransaction) }
    package func commit() throws { try execute(dialect.commitTransaction) }
    package func rollback() throws { try execute("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION") }

    package func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        try SQLServerBulkLoader(connection: self, proc: try handle(), table: table, columns: columns)
    }
}
