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
///
/// The server is untrusted: it may answer any statement with a request for a local file. The
/// connection's only local-infile handler, installed before connecting and never replaced, is
/// ``InfileGate``: it serves the stream of the `LOAD DATA` running at that moment, under the name
/// that statement gave, and refuses everything else. Connections not made for bulk loads
/// (``ConnectionConfig/bulkLoad``) do not even offer local files.
package final class MySQLConnection: DatabaseConnection {
    package let engine = DatabaseEngine.mysql
    package let dialect: any SQLDialect = MySQLDialect()
    private var mysql: UnsafeMutablePointer<MYSQL>?
    private let password: String?
    /// Whether this session may try `LOAD DATA LOCAL INFILE`: a bulk-load connection
    /// (``ConnectionConfig/bulkLoad``) whose option `local_infile` is not `0`.
    let localInfileAllowed: Bool
    /// The one local-infile handler of this connection's life.
    private let gate = InfileGate()

    /// `mysql_library_init` is a macro; `mysql_server_init` is the function behind it. Once per process.
    private static let libraryInitialized: Bool = { mysql_server_init(0, nil, nil) == 0 }()

    /// Connects with the settings of `config`. Options: `local_infile` (`1` default for bulk-load
    /// connections, `0` to force INSERT), `connect_timeout` seconds, `ssl_ca`, `ssl_cert`, `ssl_key`
    /// (any of them makes TLS required, and `ssl_ca` makes the server's certificate checked: a
    /// server that does not offer TLS is refused instead of talked to in plain text).
    ///
    /// - Throws: ``DatabaseError`` `.authentication` (errors 1044, 1045, 1698) or `.connection`.
    package init(_ config: ConnectionConfig) throws {
        _ = Self.libraryInitialized
        password = config.password
        localInfileAllowed = config.bulkLoad && config.options["local_infile"] != "0"
        guard let mysql = mysql_init(nil) else {
            throw DatabaseError(.connection, engine: .mysql, "mysql_init failed: out of memory")
        }
        var localInfile: UInt32 = localInfileAllowed ? 1 : 0
        mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &localInfile)
        InfileGate.install(gate, on: mysql)
        var timeout = UInt32(config.options["connect_timeout"] ?? "10") ?? 10
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if config.options["ssl_ca"] != nil || config.options["ssl_cert"] != nil || config.options["ssl_key"] != nil {
            mysql_ssl_set(mysql, config.options["ssl_key"], config.options["ssl_cert"], config.options["ssl_ca"], nil, nil)
            var on: UInt8 = 1
            mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &on)
            if config.options["ssl_ca"] != nil { mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on) }
        }
        let flags = UInt(CLIENT_MULTI_STATEMENTS) | (localInfileAllowed ? UInt(CLIENT_LOCAL_FILES) : 0)
        // An explicit (possibly empty) password: libmariadb would otherwise read MYSQL_PWD from the
        // runner's environment and send it to whatever server this is.
        let connected = mysql_real_connect(
            mysql, config.host ?? "127.0.0.1", config.user, config.password ?? "",
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

    /// `GET_LOCK` (names are at most 64 characters; longer ones are cut), as one text statement.
    package func lockSession(_ name: String, timeout: Double) throws -> Bool {
        let literal = String(name.prefix(64)).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''")
        return try query("SELECT GET_LOCK('\(literal)', \(Int(timeout.rounded(.up))))").first?[0].int64 == 1
    }

    package func close() {
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
        return DatabaseError(
            [2006, 2013, 2055].contains(code) ? .connection : .statement, engine: .mysql,
            code: String(code), message, sql: sql)
    }

    package func serverVersion() throws -> String {
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
            MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_STRING, MYSQL_TYPE_VARCHAR:
            return true
        default: return false
        }
    }

    @discardableResult
    package func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        if binds.isEmpty { return try runText(sql).changed }
        let statement = try MySQLStatement(connection: self, mysql: try handle(), sql: sql)
        return try statement.execute(binds).changed
    }

    package func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] {
        if binds.isEmpty { return try runText(sql).rows }
        let statement = try MySQLStatement(connection: self, mysql: try handle(), sql: sql)
        return try statement.execute(binds).rows
    }

    package func beginTransaction() throws { try execute(dialect.beginTransaction) }
    package func commit() throws { try execute(dialect.commitTransaction) }
    package func rollback() throws { try execute("ROLLBACK") }

    package func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        try MySQLBulkLoader(connection: self, table: table, columns: columns)
    }

    // MARK: LOAD DATA LOCAL INFILE from memory

    /// Runs a `LOAD DATA LOCAL INFILE` statement whose file content is `data`, fed through the
    /// local-infile callbacks (no temporary file). Returns the rows the server reports and its
    /// warning count.
    func loadData(_ sql: String, name: String, data: [UInt8]) throws -> (rows: Int, warnings: Int) {
        let mysql = try handle()
        guard localInfileAllowed else {
            throw DatabaseError(
                .bulkLoad, engine: .mysql, "LOAD DATA LOCAL INFILE is off on this connection (not a bulk-load connection)", sql: sql)
        }
        gate.arm(name: name, data: data)
        defer { gate.disarm() }
        let rc = mysql_real_query(mysql, sql, UInt(sql.utf8.count))
        if rc != 0 { throw failure(sql: sql, kind: .bulkLoad) }
        let affected = mysql_affected_rows(mysql)
        return (affected == UInt64.max ? 0 : Int(affected), Int(mysql_warning_count(mysql)))
    }

    /// How many times the server asked this connection for a local file it was not loading (each refused).
    package var refusedFileRequests: Int { gate.refused }

    /// The server's first few warnings, as one line.
    func warnings() -> String {
        // Only details a load that already failed; the failure is reported either way.
        guard let rows = try? runText("SHOW WARNINGS LIMIT 5").rows else { return "(warnings unavailable)" }
        return rows.map { "\($0["Code"]?.string ?? "?"): \($0["Message"]?.string ?? "")" }.joined(separator: "; ")
    }
}

/// The local-infile handler of a connection, for its whole life. While a `LOAD DATA LOCAL
/// INFILE` of ours runs it is armed with that statement's file name and in-memory stream, and
/// serves exactly that; any other request (another name, or none armed: a hostile server asking
/// for `/etc/passwd` in answer to a `SELECT`) is refused, and nothing is ever read from disk.
final class InfileGate {
    private var name: String?
    private var data: [UInt8] = []
    private var offset = 0
    private(set) var refused = 0
    private var serving = false

    func arm(name: String, data: [UInt8]) {
        self.name = name
        self.data = data
        offset = 0
    }

    func disarm() {
        name = nil
        data = []
        offset = 0
        serving = false
    }

    /// Called by libmariadb with the file name the server asked for.
    func open(_ requested: String) -> Bool {
        guard let name, requested == name, !serving else {
            refused += 1
            return false
        }
        serving = true
        return true
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, length: Int) -> Int32 {
        guard serving else { return -1 }
        let n = min(length, data.count - offset)
        guard n > 0 else { return 0 }
        data.withUnsafeBufferPointer { src in
            UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return Int32(n)
    }

    /// Installs `gate` as the connection's handler; the connection keeps the gate alive.
    static func install(_ gate: InfileGate, on mysql: UnsafeMutablePointer<MYSQL>) {
        mysql_set_local_infile_handler(
            mysql,
            { handle, filename, userdata in
                handle?.pointee = userdata
                guard let userdata else { return 1 }
                let gate = Unmanaged<InfileGate>.fromOpaque(userdata).takeUnretainedValue()
                return gate.open(filename.map { String(cString: $0) } ?? "") ? 0 : 1
            },
            { handle, buffer, length in
                guard let handle, let buffer else { return -1 }
                return Unmanaged<InfileGate>.fromOpaque(handle).takeUnretainedValue().read(into: buffer, length: Int(length))
            },
            { _ in
            },
            { _, message, length in
                guard let message, length > 1 else { return 2000 }
                let text = Array("breakout refused the server's request for a local file".utf8.prefix(Int(length) - 1))
                for (i, byte) in text.enumerated() { message[i] = CChar(bitPattern: byte) }
                message[text.count] = 0
                return 2000
            }, Unmanaged.passUnretained(gate).toOpaque())
    }
}
