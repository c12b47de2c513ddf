import Drivers
import Foundation
import SQL
import Testing

@Suite struct EngineSpecificTests {
    /// With local infile off, the MySQL loader falls back to multi-row INSERT and loads the same rows.
    @Test(.enabled(if: Backend.available.contains(.mysql)))
    func mysqlFallsBackToInsertWithoutLocalInfile() throws {
        try withScratchTable(.mysql, "fallback", options: ["local_infile": "0"], columns: bulkColumns) { connection, table in
            let loader = try connection.makeBulkLoader(into: table, columns: ["id", "n", "d", "s", "t"])
            for i in 0..<5_000 { try loader.append(BulkRows.row(i)) }
            #expect(try loader.finish() == 5_000)
            #expect(loader.method == "multi-row INSERT")
            let back = try connection.query("SELECT id, n, d, s, t FROM \(try connection.dialect.quote(table)) ORDER BY id")
            #expect(back.count == 5_000)
            #expect(
                back.enumerated().allSatisfy { i, row in row[3] == BulkRows.row(i)[3] && decimalEqual(row[2], BulkRows.row(i)[2], scale: 3)
                })
        }
    }

    @Test(.enabled(if: Backend.available.contains(.mysql)))
    func mysqlUsesLoadDataWhenAllowed() throws {
        try withScratchTable(.mysql, "loaddata", columns: [ColumnDefinition("id", .integer)]) { connection, table in
            let loader = try connection.makeBulkLoader(into: table, columns: ["id"])
            try loader.append([1])
            #expect(try loader.finish() == 1)
            #expect(loader.method == "LOAD DATA LOCAL INFILE")
        }
    }

    /// A value too long for its column fails the bulk load: MySQL's LOAD DATA LOCAL would only warn
    /// and truncate, PostgreSQL's COPY errors; neither may lose data silently.
    @Test(arguments: Backend.available.filter { $0 != .sqlite })
    func bulkLoadNeverTruncatesSilently(backend: Backend) throws {
        try withScratchTable(backend, "lossy", columns: [ColumnDefinition("s", .varchar(3))]) { connection, table in
            let error = #expect(throws: DatabaseError.self) {
                try connection.transaction {
                    try connection.bulkLoad(into: table, columns: ["s"], rows: [["abc"], ["abcdef"]])
                }
            }
            #expect(error?.kind == .bulkLoad)
            let remaining = try connection.query("SELECT COUNT(*) FROM \(try connection.dialect.quote(table))")
            #expect(remaining.first?[0].int64 == 0)
        }
    }

    /// SQLite does not enforce VARCHAR lengths; the value is stored whole, never cut.
    @Test func sqliteKeepsOverlongTextWhole() throws {
        let connection = try Backend.sqlite.connect()
        defer { connection.close() }
        try connection.execute(.createTable(TableDefinition(QualifiedName("t"), columns: [ColumnDefinition("s", .varchar(3))])))
        try connection.bulkLoad(into: QualifiedName("t"), columns: ["s"], rows: [["abcdef"]])
        #expect(try connection.query("SELECT s FROM t").first?[0] == "abcdef")
    }

    @Test(.enabled(if: Backend.available.contains(.postgresql)))
    func postgresSchemasSeparateDictionaries() throws {
        let connection = try Backend.postgresql.connect()
        defer { connection.close() }
        let schema = "bt_dict_\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? connection.execute("DROP SCHEMA IF EXISTS \(try connection.dialect.quote(schema)) CASCADE") }
        try connection.execute(.createSchema(schema, ifNotExists: true))
        try connection.execute(.createSchema(schema, ifNotExists: true))
        let table = connection.dialect.namespaced("level-1", in: schema)
        try connection.execute(
            .createTable(
                TableDefinition(
                    table,
                    columns: [
                        ColumnDefinition("level-1-id", .bigint, nullable: false, autoIncrement: true), ColumnDefinition("x", .integer),
                    ])))
        try connection.execute(.insert(Insert(into: table, columns: ["x"], rows: [[5], [6]])))
        let rows = try connection.query(.select(Select(from: table, orderBy: [SortKey("level-1-id")])))
        #expect(rows.map { $0["level-1-id"]?.int64 } == [1, 2])
    }

    @Test func sqliteBulkLoaderRollsBackItsOwnTransactionOnError() throws {
        let connection = try Backend.sqlite.connect()
        defer { connection.close() }
        try connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        #expect(throws: DatabaseError.self) {
            try connection.bulkLoad(into: QualifiedName("t"), columns: ["id"], rows: (1...600).map { [SQLValue.integer(Int64($0 % 550))] })
        }
        #expect(try connection.query("SELECT COUNT(*) FROM t").first?[0].int64 == 0)
    }
}
