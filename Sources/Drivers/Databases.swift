@_exported import DatabaseDriver
import MySQLDriver
import PostgresDriver
import SQLServerDriver
import SQLiteDriver
import SQL

/// Opens connections for any engine; the one place that knows every driver.
public enum Databases {
    /// Connects to the database `config` describes, with that engine's driver.
    ///
    /// - Throws: ``DatabaseError`` from the driver; its message never contains the password.
    public static func connect(_ config: ConnectionConfig) throws -> any DatabaseConnection {
        switch config.engine {
        case .postgresql: try PostgresConnection(config)
        case .mysql: try MySQLConnection(config)
        case .sqlserver: try SQLServerConnection(config)
        case .sqlite: try SQLiteConnection(config)
        }
    }
}
