import CSPro
import CaseSources
import DatabaseDriver
import Drivers
import Foundation
import Generators
import SQL
import Testing

@testable import Breakout

/// Every statement text a connection is asked to run, in order; a bulk load appears once, as the
/// statement that starts it.
final class StatementLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    func add(_ sql: String) { lock.withLock { entries.append(sql) } }
    var all: [String] { lock.withLock { entries } }
}

/// A connection that records what it runs and passes everything on.
final class RecordingConnection: DatabaseConnection {
    let inner: any DatabaseConnection
    let log: StatementLog
    init(_ inner: any DatabaseConnection, log: StatementLog) { self.inner = inner; self.log = log }

    var engine: DatabaseEngine { inner.engine }
    var dialect: any SQLDialect { inner.dialect }
    func serverVersion() throws -> String { try inner.serverVersion() }
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int { log.add(sql); return try inner.execute(sql, binds) }
    func query(_ sql: String, _ binds: [SQLValue]) throws -> [Row] { log.add(sql); return try inner.query(sql, binds) }
    func beginTransaction() throws { log.add(dialect.beginTransaction); try inner.beginTransaction() }
    func commit() throws { log.add(dialect.commitTransaction); try inner.commit() }
    func rollback() throws { log.add("ROLLBACK"); try inner.rollback() }
    func makeBulkLoader(into table: QualifiedName, columns: [String]) throws -> any BulkLoader {
        log.add(
            dialect.bulkLoadStatement(
                try dialect.quote(table), columns: try columns.map { try dialect.quote($0) }, rows: 1,
                stream: BulkLoad.printedStream))
        return try inner.makeBulkLoader(into: table, columns: columns)
    }
    func lockSession(_ name: String, timeout: Double) throws -> Bool { try inner.lockSession(name, timeout: timeout) }
    func close() { inner.close() }
}

/// "A dry run prints exactly what a run executes": the statements of each transaction a dry run
/// prints are, in the same order, the ones the next run sends.
@Suite struct DryRunTruthTests {
    /// The dry run's statements in the connection's own form (binds, not inline values), one list
    /// per transaction (`.begin` … `.commit`).
    func transactions(_ report: DryRunReport, _ dialect: any SQLDialect) throws -> [[String]] {
        var out: [[String]] = []
        var current: [String]?
        for statement in report.steps.flatMap(\.statements) {
            let sql = try SQLRenderer(dialect).render(statement).map(\.sql)
            if case .begin = statement { current = [] }
            current? += sql
            if case .commit = statement, let done = current { out.append(done); current = nil }
        }
        return out
    }

    func contains(_ log: [String], _ run: [String]) -> Bool {
        guard !run.isEmpty, log.count >= run.count else { return false }
        return (0...(log.count - run.count)).contains { Array(log[$0..<($0 + run.count)]) == run }
    }

    @Test func dryRunIsWhatTheNextRunExecutes() throws {
        let source = try GeneratedSource(cases: 60)
        let path = temporaryPath("dest.db")
        let config = ConnectionConfig(engine: .sqlite, database: path)
        let log = StatementLog()
        let engine = try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(),
            connect: { RecordingConnection(try Databases.connect(config), log: log) })

        // A new destination: the tables, then the first chunk (which starts by emptying them).
        let created = try engine.dryRun(connection: nil, chunkSize: 20)
        let expectedFirst = try transactions(created, config.engine.dialect)
        #expect(expectedFirst.count == 2)
        _ = try engine.run(RunOptions(chunkSize: 20))
        for transaction in expectedFirst {
            #expect(contains(log.all, transaction), "not run as printed: \(transaction.joined(separator: "; "))")
        }

        // Then a re-synced case (its rows are replaced) and one that cannot be decoded (recorded
        // as an error): the reads, the delete, the bulk loads, the errors and the chunk row.
        let writer = try source.writer()
        let c5 = SyntheticSurvey.makeCase(5, edit: 3)
        try writer.put(
            dictionary: "CENSUS", guid: c5.id!, key: c5.key,
            blob: try CSWebDatabaseWriter.blob(c5, layout: CaseLayout(SyntheticSurvey.dictionary())), revision: 99)
        try writer.put(dictionary: "CENSUS", guid: "broken-case", key: "999", blob: [0, 0, 0, 9, 1, 2, 3], revision: 100)
        writer.connection.close()
        let reader = try Databases.connect(ConnectionConfig(engine: .sqlite, database: path, options: ["mode": "ro"]))
        let next = try engine.dryRun(connection: reader, chunkSize: 20)
        reader.close()
        let expectedNext = try transactions(next, config.engine.dialect)
        #expect(expectedNext.count == 1)
        let printed = next.sql
        #expect(printed.contains("BEGIN IMMEDIATE;"))
        #expect(printed.contains("DELETE FROM \"census_cases\" WHERE \"id\" IN ('\(c5.id!)')"))
        #expect(printed.contains("INSERT INTO \"census_breakout_errors\""))
        #expect(printed.contains("INSERT INTO \"census_breakout_chunks\""))
        let before = log.all.count
        let summary = try engine.run(RunOptions(chunkSize: 20))
        #expect(summary.updatedCases == 1 && summary.failedCases == 1)
        let ran = Array(log.all[before...])
        #expect(
            contains(ran, expectedNext[0]), "printed:\n\(expectedNext[0].joined(separator: "\n"))\nran:\n\(ran.joined(separator: "\n"))")
    }

    /// The text each dialect prints for a bulk load and a transaction is the one its driver sends.
    @Test func bulkLoadAndTransactionTextsComeFromTheDialect() throws {
        let load = SQLStatement.bulkLoad(
            BulkLoad(into: QualifiedName("t", schema: "s"), columns: ["a", "b"], rows: [[.integer(1), .text("x")]]))
        #expect(
            try SQLRenderer(PostgreSQLDialect()).render([.begin, load, .commit]).map(\.sql)
                == ["BEGIN", "COPY \"s\".\"t\" (\"a\", \"b\") FROM STDIN", "COMMIT"])
        #expect(
            try SQLRenderer(MySQLDialect()).render([.begin, load]).map(\.sql)
                == [
                    "START TRANSACTION",
                    "LOAD DATA LOCAL INFILE 'breakout-bulk-stream' INTO TABLE `s`.`t` CHARACTER SET utf8mb4 "
                        + "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`a`, `b`)",
                ])
        #expect(
            try SQLRenderer(SQLiteDialect()).render([.begin, load]).map(\.sql)
                == ["BEGIN IMMEDIATE", "INSERT INTO \"s\".\"t\" (\"a\", \"b\") VALUES (?, ?)"])
        #expect(
            try SQLRenderer(SQLServerDialect()).render([.begin, load, .commit]).map(\.sql)
                == ["BEGIN TRANSACTION", "INSERT BULK [s].[t] ([a], [b])", "COMMIT TRANSACTION"])
    }
}
