import SQL

/// Where and how to connect to a database. The password is kept out of every description.
package struct ConnectionConfig: Sendable, Hashable, CustomStringConvertible {
    package var engine: DatabaseEngine
    package var host: String?
    package var port: Int?
    /// The database name; for SQLite, the file path (`:memory:` for a private in-memory database).
    package var database: String
    package var user: String?
    package var password: String?
    /// Engine-specific options, e.g. `sslmode` (PostgreSQL), `ssl_ca`, `connect_timeout`, `local_infile`.
    package var options: [String: String]
    /// Whether this connection loads rows in bulk (a breakout's destination). Only then may a MySQL
    /// connection offer `LOAD DATA LOCAL INFILE` to the server, and even then it serves nothing but
    /// the current load's own stream from memory. Every other connection (sources, the state
    /// store, `db test`, plan, the lag probe) offers no local file at all: a database server a
    /// tenant points at is untrusted.
    package var bulkLoad = false

    package init(
        engine: DatabaseEngine, host: String? = nil, port: Int? = nil, database: String,
        user: String? = nil, password: String? = nil, options: [String: String] = [:]
    ) {
        self.engine = engine
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.options = options
    }

    /// The same settings for a connection that loads rows in bulk (see ``bulkLoad``).
    /// A database file on this host (not SQLite's `:memory:`).
    package var isFile: Bool { engine.isEmbedded && database != ":memory:" && !database.isEmpty }

    package var forBulkLoad: ConnectionConfig {
        var config = self
        config.bulkLoad = true
        return config
    }

    /// `engine://user@host:port/database?options`, never with the password.
    package var description: String {
        if engine == .sqlite { return "sqlite:\(database)" }
        var out = "\(engine.rawValue)://"
        if let user { out += "\(user)@" }
        out += host ?? "localhost"
        if let port { out += ":\(port)" }
        out += "/\(database)"
        if !options.isEmpty {
            out += "?" + options.keys.sorted().map { "\($0)=\(options[$0]!)" }.joined(separator: "&")
        }
        return out
    }

    /// Parses a connection URL: `postgresql://user:password@host:port/db?sslmode=disable`,
    /// `mysql://…`, `sqlserver://…`, `sqlite:path` or `sqlite:///absolute/path`. User and password
    /// may be percent-encoded.
    ///
    /// - Throws: ``DatabaseError`` with kind `.configuration` when the URL cannot be read.
    package static func parse(url: String) throws -> ConnectionConfig {
        guard let colon = url.firstIndex(of: ":") else {
            throw DatabaseError(
                .configuration, engine: nil, "connection URL has no scheme (expected e.g. postgresql://host/db or sqlite:path)")
        }
        let scheme = String(url[..<colon])
        guard let engine = DatabaseEngine(name: scheme) else {
            throw DatabaseError(
                .configuration, engine: nil,
                "unknown database type \"\(scheme)\" in connection URL; expected \(DatabaseEngine.names)")
        }
        var rest = url[url.index(after: colon)...]
        if engine == .sqlite {
            if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
            guard !rest.isEmpty else { throw DatabaseError(.configuration, engine: .sqlite, "sqlite URL names no file") }
            return ConnectionConfig(engine: .sqlite, database: String(rest))
        }
        guard rest.hasPrefix("//") else {
            throw DatabaseError(.configuration, engine: engine, "connection URL must start with \(scheme)://")
        }
        rest = rest.dropFirst(2)
        var query = ""
        if let q = rest.firstIndex(of: "?") { query = String(rest[rest.index(after: q)...]); rest = rest[..<q] }
        var path = ""
        if let slash = rest.firstIndex(of: "/") { path = String(rest[rest.index(after: slash)...]); rest = rest[..<slash] }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let c = credentials.firstIndex(of: ":") {
                user = percentDecoded(credentials[..<c])
                password = percentDecoded(credentials[credentials.index(after: c)...])
            } else {
                user = percentDecoded(credentials)
            }
        }
        var host = String(rest)
        var port: Int?
        if let c = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            guard let p = Int(host[host.index(after: c)...]), (1...65535).contains(p) else {
                throw DatabaseError(
                    .configuration, engine: engine, "connection URL has an invalid port \"\(host[host.index(after: c)...])\"")
            }
            port = p
            host = String(host[..<c])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var options: [String: String] = [:]
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            options[percentDecoded(kv[0])] = kv.count == 2 ? percentDecoded(kv[1]) : ""
        }
        return ConnectionConfig(
            engine: engine, host: host.isEmpty ? nil : host, port: port,
            database: percentDecoded(Substring(path)), user: user, password: password, options: options)
    }

    static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2,
                let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
