@_exported import DatabaseDriver
import Foundation
import MySQLDriver
import PostgresDriver
import SQL
import SQLServerDriver
import SQLiteDriver

/// Opens connections for any engine; the one place that knows every driver.
package enum Databases {
    /// Connects to the database `config` describes, with that engine's driver.
    ///
    /// - Throws: ``DatabaseError`` from the driver; its message never contains the password.
    package static func connect(_ config: ConnectionConfig) throws -> any DatabaseConnection {
        switch config.engine {
        case .postgresql: try PostgresConnection(config)
        case .mysql: try MySQLConnection(config)
        case .sqlserver: try SQLServerConnection(config)
        case .sqlite: try SQLiteConnection(config)
        }
    }

    /// Connects to write: a database file's folder is made first when missing (the file itself
    /// is created by the driver).
    package static func connectForWriting(_ config: ConnectionConfig) throws -> any DatabaseConnection {
        if config.isFile {
            let folder = (config.database as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        }
        return try connect(config)
    }

    /// Connects to read only what exists: a database file is opened read-only, and nil is
    /// returned when it does not exist (a destination not created yet, which reading must not
    /// create). A server database is connected as usual.
    package static func connectForReading(_ config: ConnectionConfig) throws -> (any DatabaseConnection)? {
        guard config.isFile else { return try connect(config) }
        guard FileManager.default.fileExists(atPath: config.database) else { return nil }
        var config = config
        config.options["mode"] = "ro"
        return try connect(config)
    }
}
