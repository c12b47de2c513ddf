import CaseSources
import CSPro
import Drivers
import Foundation

/// `breakout-bench source --cases N --out FILE.db | --url mysql://…`: writes a generated CSWeb source
/// (``SyntheticCSWebSource``) into a new SQLite file or a MySQL/MariaDB database.
func runSourceGenerator() throws {
    let cases = option("--cases", 400)
    var config: ConnectionConfig
    if let i = arguments.firstIndex(of: "--out"), i + 1 < arguments.count {
        let path = arguments[i + 1]
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        config = ConnectionConfig(engine: .sqlite, database: path)
    } else if let i = arguments.firstIndex(of: "--url"), i + 1 < arguments.count {
        config = try ConnectionConfig.parse(url: arguments[i + 1])
        if config.password == nil { config.password = ProcessInfo.processInfo.environment["BREAKOUT_DB_PASSWORD"] }
    } else {
        FileHandle.standardError.write(Data("usage: breakout-bench source --cases N (--out FILE.db | --url mysql://user@host/db)\n".utf8))
        exit(2)
    }
    let connection = try Databases.connect(config)
    let started = Date()
    let contents = try SyntheticCSWebSource.write(CSWebDatabaseWriter(connection: connection), cases: cases)
    if config.engine == .sqlite {
        _ = try connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
        try connection.execute("PRAGMA journal_mode = DELETE")
        try connection.execute("VACUUM")
    }
    connection.close()
    print("wrote \(contents.cases) cases of \(SyntheticSurvey.name) (\(contents.resynced.count) re-synced, \(contents.deleted.count) deleted, "
          + "\(contents.corrupt.count) corrupt, \(contents.textForm.count) from CSPro 7.4 clients, \(contents.partialSave.count) partial saves, "
          + "\(contents.notes.count) with notes; last revision \(contents.lastRevision)) to \(config) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
}
