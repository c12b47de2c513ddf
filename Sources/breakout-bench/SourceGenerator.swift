import CSPro
import CaseSources
import Drivers
import Foundation
import Generators
import Verification

/// `breakout-bench generate` (alias `source`): writes a generated CSWeb source into a new SQLite file
/// or a MySQL/MariaDB database, and its manifest (expected per-table row counts and checksums).
///
///   breakout-bench generate --cases N (--out FILE.db | --url mysql://user@host/db) [--shape survey|census]
///                           [--corrupt-every K | --no-corrupt] [--manifest FILE.json]
func runSourceGenerator() throws {
    let cases = option("--cases", 400)
    let shape = SyntheticShape(rawValue: stringOption("--shape") ?? "survey") ?? .survey
    let corruptEvery: Int? = arguments.contains("--no-corrupt") ? nil : option("--corrupt-every", 97)
    var config: ConnectionConfig
    var manifestPath = stringOption("--manifest")
    if let path = stringOption("--out") {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        config = ConnectionConfig(engine: .sqlite, database: path)
    } else if let url = stringOption("--url") {
        config = try ConnectionConfig.parse(url: url)
        if config.password == nil { config.password = ProcessInfo.processInfo.environment["BREAKOUT_DB_PASSWORD"] }
    } else {
        FileHandle.standardError.write(
            Data(
                """
                usage: breakout-bench generate --cases N (--out FILE.db | --url mysql://user@host/db) [--shape survey|census]
                                               [--corrupt-every K | --no-corrupt] [--manifest FILE.json]

                """.utf8))
        exit(2)
    }
    let started = Date()
    let contents = try generateSource(config, SyntheticCSWebSource.Options(shape: shape, cases: cases, corruptEvery: corruptEvery))
    let seconds = Date().timeIntervalSince(started)
    print(
        "wrote \(contents.cases) cases of \(contents.options.name) (\(shape.rawValue); \(contents.resynced.count) re-synced, \(contents.deleted.count) deleted, "
            + "\(contents.corrupt.count) corrupt, \(contents.textForm.count) from CSPro 7.4 clients, \(contents.partialSave.count) partial saves, "
            + "\(contents.notes.count) with notes; last revision \(contents.lastRevision)) to \(config) in \(String(format: "%.1f", seconds)) s"
    )
    if manifestPath == nil, config.engine == .sqlite { manifestPath = config.database + ".manifest.json" }
    if let manifestPath {
        let manifest = Manifest(contents)
        try manifest.write(to: manifestPath)
        print(
            "manifest: \(manifest.decodable) cases to arrive, \(manifest.totalRows) rows in \(manifest.tables.count) tables: \(manifestPath)"
        )
    }
}

/// Writes a generated source (a compact SQLite file when the destination is SQLite).
func generateSource(_ config: ConnectionConfig, _ options: SyntheticCSWebSource.Options) throws -> SyntheticCSWebSource.Contents {
    let connection = try Databases.connect(config)
    defer { connection.close() }
    let contents = try SyntheticCSWebSource.write(CSWebDatabaseWriter(connection: connection), options)
    if config.engine == .sqlite {
        _ = try connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
        try connection.execute("PRAGMA journal_mode = DELETE")
        try connection.execute("VACUUM")
    }
    return contents
}
