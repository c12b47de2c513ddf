import Diagnostics
import SQL

/// An error from a database driver: which engine, what kind, the engine's code and message, and
/// the statement that failed. Passwords never appear in it: drivers scrub them from server
/// messages and statements are shown without their bound values.
package struct DatabaseError: UserFacingError, Sendable {
    /// What went wrong, coarsely, for callers that react differently (retry, report, refuse).
    package struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable { case configuration, connection, authentication, statement, bulkLoad, unsupported }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection settings themselves are wrong (bad URL, missing database name).
        package static let configuration = Kind(.configuration)
        /// The server could not be reached or the connection broke.
        package static let connection = Kind(.connection)
        /// The server refused the user or password.
        package static let authentication = Kind(.authentication)
        /// The server rejected a statement.
        package static let statement = Kind(.statement)
        /// A bulk load failed.
        package static let bulkLoad = Kind(.bulkLoad)
        /// The driver cannot do what was asked on this engine.
        package static let unsupported = Kind(.unsupported)

        package var description: String { base.rawValue }
    }

    package var kind: Kind
    package var engine: DatabaseEngine?
    /// SQLSTATE (PostgreSQL), error number (MySQL, SQL Server) or result code (SQLite).
    package var code: String?
    package var message: String
    /// The statement text (placeholders, never bound values), when a statement failed.
    package var sql: String?

    /// A deadlock, lock timeout or serialization failure: the transaction was rolled back and
    /// running it again may succeed.
    package var isTransient: Bool {
        guard let code, let engine else { return false }
        switch engine {
        case .postgresql: return code == "40P01" || code == "40001"
        case .mysql: return code == "1213" || code == "1205"
        case .sqlserver: return code == "1205"
        case .sqlite: return code == "5" || code == "6"
        }
    }

    package init(_ kind: Kind, engine: DatabaseEngine?, code: String? = nil, _ message: String, sql: String? = nil) {
        self.kind = kind
        self.engine = engine
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The next step, for the kinds of failure where there is a general one. Commands that know
    /// the connection's settings give a more precise hint of their own.
    package var hint: String? {
        switch kind {
        case .authentication: "check the connection's user, and its password (or the environment variable or encrypted value it comes from)"
        case .connection where engine != .sqlite: "check that the server runs and accepts connections on the connection's host and port"
        case .connection: "check that the database file's folder exists and that this user may write there"
        default: isTransient ? "another session held the rows this one needed; running again usually succeeds" : nil
        }
    }

    /// `postgresql error 42P01: relation "x" does not exist (in: SELECT …)`.
    package var description: String {
        var out = engine.map { "\($0.rawValue) " } ?? ""
        out += kind == .statement || kind == .bulkLoad ? "error" : "\(kind) error"
        if let code { out += " \(code)" }
        out += ": \(message)"
        if let sql {
            let shown = sql.count > 300 ? String(sql.prefix(300)) + "…" : sql
            out += " (in: \(shown))"
        }
        return out
    }

    /// Removes every occurrence of each secret from a server message.
    package static func scrub(_ message: String, secrets: [String?]) -> String {
        var out = message.trimmingTrailingWhitespace()
        for case let secret? in secrets where secret.count >= 1 {
            out = out.replacingAll(secret, with: "********")
        }
        return out
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        let t = Array(target.utf8)
        let u = self.utf8
        guard let first = t.first else { return nil }
        var i = u.startIndex
        while i != u.endIndex {
            if u[i] == first, u[i...].starts(with: t) {
                return i..<u.index(i, offsetBy: t.count)
            }
            i = u.index(after: i)
        }
        return nil
    }
}
