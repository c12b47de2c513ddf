import CMariaDB
import DatabaseDriver
import SQL

/// A connection to MySQL or MariaDB through MariaDB Connector/C
/// (<https://mariadb.com/kb/en/mariadb-connector-c-api-functions/>).
///
/// Statements with binds are server-side prepared statements; statements without binds use the
/// text protocol (several may be separated by `;`). Sessions use utf8mb4, so 4-byte UTF-8 text
/// survives. Bulk loads use `LOAD DATA LOCAL INFILE` fed from memory through a local-infile
/// handler, with multi-row `INSERT` as fallback when the server refuses local infile.
public final class MySQLConnection: DatabaseConnection {
    public let engine = DatabaseEngine.mysql
    public let dialect: any SQLDialect = MySQLDialect()
    private var mysql: UnsafeMutablePointer<MYSQL>?
    private let password: String?
    /// Whether this session may try `LOAD DATA LOCAL INFILE` (config option `local_infile=0` turns it off).
    let localInfileAllowed: Bool

    /// `mysql_library_init` is a macro; `mysql_server_init` is the function behind it. Once per process.
    private static let libraryInitialized: Bool = { mysql_server_init(0, nil, nil) == 0 }()

    /// Connects with the settings of `config`. Options: `local_infile` (`1` default, `0` to force
    /// INSERT), `connect_timeout` seconds, `ssl_ca`, `ssl_cert`, `ssl_key`.
    ///
    /// - Throws: ``DatabaseError`` `.authentication` (errors 1044, 1045, 1698) or `.connection`.
    public init(_ config: ConnectionConfig) throws {
        _ = Self.libraryInitialized
        password = config.password
        localInfileAllowed = config.options["local_infile"] != "0"
        guard let mysql = mysql_init(nil) else {
            throw DatabaseError(.connection, engine: .mysql, "mysql_init failed: out of memory")
        }
        var localInfile: UInt32 = localInfileAllowed ? 1 : 0
        mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &localInfile)
        var timeout = UInt32(config.options["connect_timeout"] ?? "10") ?? 10
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if config.options["ssl_ca"] != nil || config.options["ssl_cert"] != nil {
            mysql_ssl_set(mysql, config.options["ssl_key"], config.options["ssl_cert"], config.options["ssl_ca"], nil, nil)
        }
        let flags = UInt(CLIENT_MULTI_STATEMENTS) | UInt(CLIENT_LOCAL_FILES)
        let connected = mysql_real_connect(mysql, config.host ?? "127.0.0.1", config.user, config.password,
                                           config.database.isEmpty ? nil : config.database,
                                           UInt32(config.port ?? 3306), nil, flags)
        guard connected != nil else {
            let code = mysql_errno(mysql)
            let message = DatabaseError.scrub(String(cString: mysql_error(mysql)), secrets: [config.password])
            mysql_close(mysql)
            let kind: DatabaseError.Kind = [1044, 1045, 1698].contains(code) ? .authentication : .connection
            throw DatabaseError(kind, engine: .mysql, code: String(code), message)
        }
        self.mysql = mysql
        // Strict mode makes bad values errors instead of silent truncations; UTC for TIMESTAMP columns.
        try execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES'), time_zone = '+00:00'")
    }

    deinit { close() }

    public func close() {
        if let mysql { mysql_close(mysql) }
        mysql = nil
    }

    func handle() throws -> UnsafeMutablePointer<MYSQL> {
        guard let mysql else { throw DatabaseError(.connection, engine: .mysql, "the connection is closed") }
        return mysql
    }

    func failure(sql: String?, kind: DatabaseError.Kind = .statement) -> DatabaseError {
        guard let mysql else { return DatabaseError(.connection, engine: .mysql, "the connection is closed", sql: sql) }
        let code = mysql_errno(mysql)
        let message = DatabaseError.scrub(String(cString: mysql_error(mysql)), secrets: [password])
        let lost = [2006, 2013, 2055].contains(code)
        return DatabaseError(lost ? .connection : kind, engine: .mysql, code: String(code), message, sql: sql)
    }

    func statementFailure(_ stmt: UnsafeMutablePointer<MYSQL_STMT>, sql: String) -> DatabaseError {
        let code = mysql_stmt_errno(stmt)
        let message = DatabaseError.scrub(String(cString: mysql_stmt_error(stmt)), secrets: [password])
        return DatabaseError([2006, 2013, 2055].contains(code) ? .connection : .statement, engine: .mysql,
                             code: String(code), message, sql: sql)
    }

    public func serverVersion() throws -> String {
        let version = String(cString: mysql_get_server_info(try handle()))
        return (version.lowercased().contains("mariadb") ? "MariaDB " : "MySQL ") + version
    }

    // MARK: Text protocol (no binds)

    /// Runs `sql` (possibly several statements) and returns the rows of the last result set and
    /// the total number of changed rows.
    func runText(_ sql: String) throws -> (rows: [Row], changed: Int) {
        let mysql = try handle()
        var bytes = Array(sql.utf8)
        let rc = bytes.withUnsafeMutableBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { mysql_real_query(mysql, $0, UInt(buf.count)) }
        }
        if rc != 0 { throw failure(sql: sql) }
        var rows: [Row] = []
        var changed = 0
        while true {
            if let result = mysql_store_result(mysql) {
                rows = Self.readTextRows(result)
                mysql_free_result(result)
            } else if mysql_field_count(mysql) != 0 {
                throw failure(sql: sql)
            } else {
                let affected = mysql_affected_rows(mysql)
                if affected != UInt64.max { changed += Int(affected) }
            }
            let next = mysql_next_result(mysql)
            if next == -1 { break }
            if next > 0 { throw failure(sql: sql) }
        }
        return (rows, changed)
    }

    private static func readTextRows(_ result: UnsafeMutablePointer<MYSQL_RES>) -> [Row] {
        let count = Int(mysql_num_fields(result))
        let fields = mysql_fetch_fields(result)!
        let columns = (0..<count).map { String(cString: fields[$0].name) }
        var rows: [Row] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)!
            var values: [SQLValue] = []
            values.reserveCapacity(count)
            for c in 0..<count {
                guard let p = row[c] else { values.append(.null); continue }
                let bytes = UnsafeRawBufferPointer(start: p, count: Int(lengths[c]))
                values.append(value(bytes, field: fields[c]))
            }
            rows.append(Row(columns: columns, values: values))
        }
        return rows
    }

    /// Reads a value sent as text by its field type.
    static func value(_ bytes: UnsafeRawBufferPointer, field: MYSQL_FIELD) -> SQLValue {
        let type = field.type
        if isBinary(field) { return .blob(Array(bytes)) }
        let text = String(decoding: bytes, as: UTF8.self)
        switch type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24, MYSQL_TYPE_YEAR:
            return Int64(text).map(SQLValue.integer) ?? SQLDecimal(text).map(SQLValue.decimal) ?? .text(text)
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return Double(text).map(SQLValue.double) ?? .text(text)
        case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return SQLDecimal(text).map(SQLValue.decimal) ?? .text(text)
        case MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP:
            return SQLTimestamp.parse(text).map(SQLValue.timestamp) ?? .text(text)
        default:
            return .text(text)
        }
    }

    /// Binary strings and blobs carry character set 63 (`binary`).
    static func isBinary(_ field: MYSQL_FIELD) -> Bool {
        guard field.charsetnr == 63 else { return false }
        switch field.type {
        case MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_BLOB,
             MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_STRING, MYSQL_TYPE_VARCHAR: return true
        default: return false
        }
    }

    @discardableResult
    public func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        if binds.isEmpty { return try runText(sql).changed }
        let statement = try MySQLStatement(connection: self, mysql: try handle(), sql: sql)
        return try statement.execute(binds).changed
    }

    public func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] {
        if binds.isEmpty { return try runText(sql).rows }
        let statement = try MySQLStatement(connection: self, mysql: try handle(), sql: sql)
        return try statement.execute(binds).rows
    }

    public func beginTransaction() throws { try execute("START TRANSACTION") }
    public func commit() throws { try execute("COMMIT") }
    public func rollback() throws { try execute("ROLLBACK") }

    public func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        try MySQLBulkLoader(connection: self, table: table, columns: columns)
    }

    // MARK: LOAD DATA LOCAL INFILE from memory

    /// Runs a `LOAD DATA LOCAL INFILE` statement whose file content is `data`, fed through the
    /// local-infile callbacks (no temporary file). Returns the rows the server reports and its
    /// warning count.
    func loadData(_ sql: String, data: [UInt8]) throws -> (rows: Int, warnings: Int) {
        let mysql = try handle()
        let source = InfileSource(data: data)
        let userdata = Unmanaged.passRetained(source).toOpaque()
        defer {
            Unmanaged<InfileSource>.fromOpaque(userdata).release()
            mysql_set_local_infile_default(mysql)
        }
        mysql_set_local_infile_handler(mysql, { handle, _, userdata in
            handle?.pointee = userdata
            return 0
        }, { handle, buffer, length in
            guard let handle, let buffer else { return -1 }
            let source = Unmanaged<InfileSource>.fromOpaque(handle).takeUnretainedValue()
            return source.read(into: buffer, length: Int(length))
        }, { _ in
        }, { _, message, length in
            if let message, length > 0 { message.pointee = 0 }
            return 0
        }, userdata)
        let rc = mysql_real_query(mysql, sql, UInt(sql.utf8.count))
        if rc != 0 { throw failure(sql: sql, kind: .bulkLoad) }
        let affected = mysql_affected_rows(mysql)
        return (affected == UInt64.max ? 0 : Int(affected), Int(mysql_warning_count(mysql)))
    }

    /// The server's first few warnings, as one line.
    func warnings() -> String {
        guard let rows = try? runText("SHOW WARNINGS LIMIT 5").rows else { return "(warnings unavailable)" }
        return rows.map { "\($0["Code"]?.string ?? "?"): \($0["Message"]?.string ?? "")" }.joined(separator: "; ")
    }
}

/// The in-memory "file" a `LOAD DATA LOCAL INFILE` reads.
final class InfileSource {
    let data: [UInt8]
    var offset = 0

    init(data: [UInt8]) { self.data = data }

    func read(into buffer: UnsafeMutablePointer<CChar>, length: Int) -> Int32 {
        let n = min(length, data.count - offset)
        guard n > 0 else { return 0 }
        data.withUnsafeBufferPointer { src in
            UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return Int32(n)
    }
}
