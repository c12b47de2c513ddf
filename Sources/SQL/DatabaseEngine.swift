/// The four destination database engines `breakout` writes to.
///
/// Parsed from the names users write in configuration, including the PDO driver names
/// that CSWeb's multi-tenant tables use (`pdo_pgsql`, `pdo_mysql`, `pdo_sqlsrv`, `pdo_sqlite`).
package enum DatabaseEngine: String, Sendable, CaseIterable, Hashable {
    case postgresql
    case mysql
    case sqlserver
    case sqlite

    /// Every accepted spelling, mapped to its engine. Keys are lowercase.
    package static let aliases: [String: DatabaseEngine] = [
        "postgresql": .postgresql, "postgres": .postgresql, "pgsql": .postgresql, "pdo_pgsql": .postgresql,
        "mysql": .mysql, "mariadb": .mysql, "pdo_mysql": .mysql,
        "sqlserver": .sqlserver, "mssql": .sqlserver, "sqlsrv": .sqlserver, "pdo_sqlsrv": .sqlserver,
        "sqlite": .sqlite, "sqlite3": .sqlite, "pdo_sqlite": .sqlite,
    ]

    /// Parses a user-written engine name or alias, case-insensitively.
    package init?(name: String) {
        guard let engine = Self.aliases[name.lowercased()] else { return nil }
        self = engine
    }

    /// The PDO driver name stored in `mt_database_connections.db_type`.
    package var pdoName: String {
        switch self {
        case .postgresql: "pdo_pgsql"
        case .mysql: "pdo_mysql"
        case .sqlserver: "pdo_sqlsrv"
        case .sqlite: "pdo_sqlite"
        }
    }

    /// The server's usual TCP port; `nil` for the embedded engine.
    package var defaultPort: Int? {
        switch self {
        case .postgresql: 5432
        case .mysql: 3306
        case .sqlserver: 1433
        case .sqlite: nil
        }
    }

    /// Whether the database is a file on this host (a path, not a server to connect to).
    package var isEmbedded: Bool { defaultPort == nil }

    /// The engines' names as configuration writes them, for messages: `postgresql, mysql,
    /// sqlserver or sqlite`.
    package static var names: String {
        let names = allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }

    /// The dialect that renders SQL for this engine.
    package var dialect: any SQLDialect {
        switch self {
        case .postgresql: PostgreSQLDialect()
        case .mysql: MySQLDialect()
        case .sqlserver: SQLServerDialect()
        case .sqlite: SQLiteDialect()
        }
    }
}
