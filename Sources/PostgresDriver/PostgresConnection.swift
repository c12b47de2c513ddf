import CLibPQ
import DatabaseDriver
import Foundation
import SQL

/// A connection to PostgreSQL through libpq (<https://www.postgresql.org/docs/current/libpq.html>).
///
/// Statements with binds go through `PQexecParams` in text format; bulk loads through
/// `COPY … FROM STDIN`. Server notices are discarded rather than printed on stderr.
package final class PostgresConnection: DatabaseConnection {
    package let engine = DatabaseEngine.postgresql
    package let dialect: any SQLDialect = PostgreSQLDialect()
    private var conn: OpaquePointer?
    private let password: String?

    /// Connects with the settings of `config`; `options` become libpq keywords (`sslmode`,
    /// `connect_timeout`, `sslrootcert`, …).
    ///
    /// - Throws: ``DatabaseError`` `.authentication` when the server refuses the credentials,
    ///   `.connection` when it cannot be reached.
    package init(_ config: ConnectionConfig) throws {
        password = config.password
        var params: [(String, String)] = [
            ("dbname", config.database), ("application_name", "breakout"),
            ("client_encoding", "UTF8"), ("connect_timeout", "10"),
        ]
        if let host = config.host { params.append(("host", host)) }
        if let port = config.port { params.append(("port", String(port))) }
        if let user = config.user { params.append(("user", user)) }
        // Credentials come from the configuration only, never from the runner's environment or
        // home (PGPASSWORD, ~/.pgpass, ~/.postgresql/postgresql.crt, a Kerberos ticket): a tenant's
        // server must not receive what belongs to the runner. An explicit (possibly empty) password
        // keeps PGPASSWORD out; the others are pointed at nothing. Options may name their own.
        params.append(("password", config.password ?? ""))
        params += [("passfile", "/dev/null"), ("sslcert", Self.noFile), ("sslkey", Self.noFile), ("gssencmode", "disable")]
        for (key, value) in config.options.sorted(by: { $0.key < $1.key }) {
            params.removeAll { $0.0 == key }
            params.append((key, value))
        }
        let conn = Self.connect(params)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let raw = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(conn)
            let message = DatabaseError.scrub(raw, secrets: [config.password])
            let kind: DatabaseError.Kind =
                raw.contains("authentication failed") || raw.contains("no password supplied")
                    || raw.contains("password authentication") ? .authentication : .connection
            throw DatabaseError(kind, engine: .postgresql, message)
        }
        self.conn = conn
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    /// A path that does not exist: libpq then presents no client certificate.
    static let noFile = "/nonexistent/breakout-no-client-certificate"

    private static func connect(_ params: [(String, String)]) -> OpaquePointer? {
        // Keywords and values must stay valid C strings for the duration of the call.
        let keys = params.map { strdup($0.0) }
        let values = params.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        var keyPointers: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        return keyPointers.withUnsafeMutableBufferPointer { k in
            valuePointers.withUnsafeMutableBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 0)
            }
        }
    }

    deinit { close() }

    /// A session advisory lock on the name's 64-bit hash.
    package func lockSession(_ name: String, timeout: Double) throws -> Bool {
        try polling(timeout: timeout) {
            try query("SELECT CASE WHEN pg_try_advisory_lock(hashtextextended($1, 0)) THEN 1 ELSE 0 END", [.text(name)]).first?[0].int64
                == 1
        }
    }

    package func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    func handle() throws -> OpaquePointer {
        guard let conn else { throw DatabaseError(.connection, engine: .postgresql, "the connection is closed") }
        return conn
    }

    package func serverVersion() throws -> String {
        let rows = try query("SHOW server_version")
        return "PostgreSQL " + (rows.first?[0].string ?? "?")
    }

    /// Turns a failed result into an error and frees it.
    func failure(_ result: OpaquePointer?, sql: String?) -> DatabaseError {
        var message = "no result"
        var code: String?
        if let result {
            message = String(cString: PQresultErrorMessage(result))
            if let c = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { code = String(cString: c) }
            PQclear(result)
        } else if let conn {
            message = String(cString: PQerrorMessage(conn))
        }
        if message.hasPrefix("ERROR:  ") { message = String(message.dropFirst(8)) }
        let broken = conn.map { PQstatus($0) != CONNECTION_OK } ?? true
        return DatabaseError(
            broken ? .connection : .statement, engine: .postgresql, code: code,
            DatabaseError.scrub(message, secrets: [password]), sql: sql)
    }

    /// Runs `sql` with text-format parameters and returns the result, or throws on failure.
    func run(_ sql: String, _ binds: [SQLValue]) throws -> OpaquePointer {
        let conn = try handle()
        let result: OpaquePointer?
        if binds.isEmpty {
            result = PQexec(conn, sql)
        } else {
            let texts: [UnsafeMutablePointer<CChar>?] = binds.map { Self.text(for: $0).map { strdup($0) } ?? nil }
            defer { texts.forEach { free($0) } }
            let pointers: [UnsafePointer<CChar>?] = texts.map { $0.map { UnsafePointer($0) } }
            result = pointers.withUnsafeBufferPointer { p in
                PQexecParams(conn, sql, Int32(binds.count), nil, p.baseAddress, nil, nil, 0)
            }
        }
        guard let result else { throw failure(nil, sql: sql) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            throw failure(result, sql: sql)
        }
        return result
    }

    /// The text-format form of a value for a parameter or COPY; `nil` for NULL.
    static func text(for value: SQLValue) -> String? {
        switch value {
        case .null: nil
        case .integer(let v): String(v)
        case .decimal(let d): d.description
        case .double(let d): d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : "\(d)"
        case .text(let s): s
        case .timestamp(let t): SQLTimestamp.format(t)
        case .blob(let bytes): "\\x" + bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
        }
    }

    @discardableResult
    package func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        let result = try run(sql, binds)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    package func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] {
        let result = try run(sql, binds)
        defer { PQclear(result) }
        let columnCount = PQnfields(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [Row] = []
        let rowCount = PQntuples(result)
        rows.reserveCapacity(Int(rowCount))
        for r in 0..<rowCount {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for c in 0..<columnCount {
                if PQgetisnull(result, r, c) == 1 { values.append(.null); continue }
                let length = Int(PQgetlength(result, r, c))
                let text = PQgetvalue(result, r, c).withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
                values.append(Self.value(text, oid: types[Int(c)]))
            }
            rows.append(Row(columns: columns, values: values))
        }
        return rows
    }

    /// Reads a text-format value by its type OID (`pg_type.oid`).
    static func value(_ text: String, oid: UInt32) -> SQLValue {
        switch oid {
        case 20, 21, 23, 26: return Int64(text).map(SQLValue.integer) ?? .text(text)
        case 700, 701: return Double(text).map(SQLValue.double) ?? .text(text)
        case 1700: return SQLDecimal(text).map(SQLValue.decimal) ?? .text(text)
        case 16: return .integer(text == "t" ? 1 : 0)
        case 1114, 1184: return SQLTimestamp.parse(text).map(SQLValue.timestamp) ?? .text(text)
        case 17:
            guard text.hasPrefix("\\x") else { return .text(text) }
            var bytes: [UInt8] = []
            var it = text.utf8.dropFirst(2).makeIterator()
            while let h = it.next(), let l = it.next() {
                bytes.append(UInt8(hexDigit(h) << 4 | hexDigit(l)))
            }
            return .blob(bytes)
        default: return .text(text)
        }
    }

    private static func hexDigit(_ c: UInt8) -> UInt8 {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: 0
        }
    }

    package func beginTransaction() throws { try execute(dialect.beginTransaction) }
    package func commit() throws { try execute(dialect.commitTransaction) }
    package func rollback() throws { try execute("ROLLBACK") }

    package func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        try PostgresCopyLoader(connection: self, table: table, columns: columns)
    }

    // MARK: COPY plumbing used by the loader

    func startCopy(_ sql: String) throws {
        let result = PQexec(try handle(), sql)
        guard let result, PQresultStatus(result) == PGRES_COPY_IN else { throw failure(result, sql: sql) }
        PQclear(result)
    }

    func putCopyData(_ bytes: [UInt8], sql: String) throws {
        let conn = try handle()
        let rc = bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { PQputCopyData(conn, $0, Int32(buf.count)) }
        }
        if rc != 1 {
            throw DatabaseError(
                .bulkLoad, engine: .postgresql, DatabaseError.scrub(String(cString: PQerrorMessage(conn)), secrets: [password]), sql: sql)
        }
    }

    /// Ends the COPY (or aborts it with `errorMessage`) and returns the rows the server took.
    func endCopy(sql: String, errorMessage: String? = nil) throws -> Int {
        let conn = try handle()
        if PQputCopyEnd(conn, errorMessage) != 1 {
            throw DatabaseError(
                .bulkLoad, engine: .postgresql, DatabaseError.scrub(String(cString: PQerrorMessage(conn)), secrets: [password]), sql: sql)
        }
        var firstError: DatabaseError?
        var count = 0
        // Read results until NULL, or the connection is left mid-protocol.
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(result))) ?? count
                PQclear(result)
            } else if firstError == nil {
                var error = failure(result, sql: sql)
                error.kind = .bulkLoad
                firstError = error
            } else {
                PQclear(result)
            }
        }
        if let firstError { throw firstError }
        return count
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
