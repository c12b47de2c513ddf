import Drivers
import Foundation
import SQL
import Testing

/// One conformance suite, run against every available backend.
@Suite struct ConformanceTests {
    static let awkwardNames = [
        "we\"ird", "back`tick", "br]acket[", "sp ace", "da-sh", "par(en)", "select", "ünïcödé_数据", "it's", "level-1-id", "item(1)",
    ]

    @Test(arguments: Backend.available)
    func awkwardIdentifiersSurviveCreateInsertAndSelect(backend: Backend) throws {
        let connection = try backend.connect()
        defer { connection.close() }
        let table = QualifiedName("bt \"odd`] (\(UInt16.random(in: 0...UInt16.max)))")
        defer { dropQuietly(connection, table) }
        let columns = Self.awkwardNames.map { ColumnDefinition($0, .varchar(20)) }
        try connection.execute(.createTable(TableDefinition(table, columns: columns)))
        try connection.execute(.insert(Insert(into: table, columns: Self.awkwardNames, rows: [Self.awkwardNames.map { .text("v-" + $0) }])))
        let rows = try connection.query(.select(Select(from: table, columns: Self.awkwardNames)))
        #expect(rows.count == 1)
        #expect(rows.first?.columns == Self.awkwardNames)
        #expect(rows.first?.values == Self.awkwardNames.map { .text("v-" + $0) })
        // Through the bulk path too.
        let loaded = try connection.bulkLoad(into: table, columns: Self.awkwardNames, rows: [Self.awkwardNames.map { .text("b-" + $0) }])
        #expect(loaded == 1)
        let count = try connection.query("SELECT COUNT(*) FROM \(try connection.dialect.quote(table))")
        #expect(count.first?[0].int64 == 2)
    }

    /// Every kind of value, bound and read back, compared exactly.
    @Test(arguments: Backend.available)
    func valuesRoundTripExactly(backend: Backend) throws {
        let exactDecimals = backend != .sqlite
        let decimalType = exactDecimals ? SQLType.decimal(precision: 28, scale: 10) : .decimal(precision: 15, scale: 5)
        let columns = [
            ColumnDefinition("id", .integer, nullable: false),
            ColumnDefinition("i", .bigint), ColumnDefinition("d", decimalType), ColumnDefinition("f", .double),
            ColumnDefinition("s", .varchar(40)), ColumnDefinition("t", .text), ColumnDefinition("ts", .timestamp),
            ColumnDefinition("b", .blob),
        ]
        try withScratchTable(backend, "values", columns: columns, primaryKey: ["id"]) { connection, table in
            let stamp = Date(timeIntervalSince1970: 1_767_225_600.123456)
            let maxVarchar = String(repeating: "é", count: 39) + "😀"  // 40 characters, 4-byte UTF-8 at the end
            let d1 = exactDecimals ? "123456789012345678.1234567890" : "1234567890.12345"
            let d2 = exactDecimals ? "-0.0000000001" : "-0.00001"
            let rows: [[SQLValue]] = [
                [
                    1, .integer(Int64.max), .decimal(SQLDecimal(d1)!), .double(0.1), .text("Thiès — Sédhiou ☃ 😀"), .text(""),
                    .timestamp(stamp), .blob([0, 1, 0x7F, 0x80, 0xFF]),
                ],
                [
                    2, .integer(Int64.min), .decimal(SQLDecimal(d2)!), .double(-1.5e300), .text(maxVarchar),
                    .text("line\nbreak\ttab \\ back'slash\"quote"), .timestamp(Date(timeIntervalSince1970: 0)), .blob([]),
                ],
                [3, .null, .null, .null, .null, .null, .null, .null],
            ]
            try connection.execute(.insert(Insert(into: table, columns: ["id", "i", "d", "f", "s", "t", "ts", "b"], rows: rows)))
            let back = try connection.query(.select(Select(from: table, orderBy: [SortKey("id")])))
            try #require(back.count == 3)
            for (expected, row) in zip(rows, back) {
                #expect(row["id"]?.int64 == expected[0].int64)
                #expect(row["i"] == expected[1])
                expectDecimal(row["d"], expected[2], exact: exactDecimals, scale: exactDecimals ? 10 : 5)
                #expect(row["f"] == expected[3])
                #expect(row["s"] == expected[4])
                #expect(row["t"] == expected[5], "empty string and NULL stay distinct")
                expectTimestamp(row["ts"], expected[6])
                #expect(row["b"] == expected[7])
            }
        }
    }

    /// 100,000 rows through the bulk path (COPY, LOAD DATA LOCAL INFILE, prepared batches), read
    /// back and compared value by value.
    @Test(arguments: Backend.available)
    func bulkLoadOfHundredThousandRowsReadsBackIdentical(backend: Backend) throws {
        try withScratchTable(backend, "bulk", columns: bulkColumns, primaryKey: ["id"]) { connection, table in
            let count = 100_000
            let loaded = try connection.transaction {
                try connection.bulkLoad(into: table, columns: ["id", "n", "d", "s", "t"], rows: (0..<count).lazy.map(BulkRows.row))
            }
            #expect(loaded == count)
            let back = try connection.query("SELECT id, n, d, s, t FROM \(try connection.dialect.quote(table)) ORDER BY id")
            try #require(back.count == count)
            var mismatches = 0
            for (i, row) in back.enumerated() {
                let expected = BulkRows.row(i)
                let same =
                    row[0].int64 == expected[0].int64 && row[1].int64 == expected[1].int64
                    && decimalEqual(row[2], expected[2], scale: 3) && row[3] == expected[3] && row[4] == expected[4]
                if !same {
                    mismatches += 1
                    if mismatches <= 3 { Issue.record("row \(i): expected \(expected), got \(row.values)") }
                }
            }
            #expect(mismatches == 0)
        }
    }

    @Test(arguments: Backend.available)
    func rolledBackTransactionsLeaveNothing(backend: Backend) throws {
        try withScratchTable(backend, "rollback", columns: [ColumnDefinition("id", .integer)]) { connection, table in
            try connection.beginTransaction()
            try connection.execute(.insert(Insert(into: table, columns: ["id"], rows: [[1], [2]])))
            try connection.bulkLoad(into: table, columns: ["id"], rows: (3...1000).map { [SQLValue.integer(Int64($0))] })
            try connection.rollback()
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try connection.transaction {
                    try connection.execute(.insert(Insert(into: table, columns: ["id"], rows: [[7]])))
                    throw Boom()
                }
            }
            let rows = try connection.query("SELECT COUNT(*) FROM \(try connection.dialect.quote(table))")
            #expect(rows.first?[0].int64 == 0)
            // The connection is still usable afterwards.
            _ = try connection.transaction { try connection.execute(.insert(Insert(into: table, columns: ["id"], rows: [[9]]))) }
            #expect(try connection.query("SELECT COUNT(*) FROM \(try connection.dialect.quote(table))").first?[0].int64 == 1)
        }
    }

    @Test(arguments: Backend.available)
    func upsertInsertsThenUpdates(backend: Backend) throws {
        let columns = [ColumnDefinition("dictionary", .varchar(50), nullable: false), ColumnDefinition("revision", .bigint)]
        try withScratchTable(backend, "upsert", columns: columns, primaryKey: ["dictionary"]) { connection, table in
            let upsert = { (revision: Int64) in
                SQLStatement.upsert(
                    Upsert(
                        into: table, columns: ["dictionary", "revision"], keyColumns: ["dictionary"], rows: [["RGPH", .integer(revision)]]))
            }
            try connection.execute(upsert(5))
            try connection.execute(upsert(9))
            let rows = try connection.query(.select(Select(from: table)))
            #expect(rows.map(\.values) == [["RGPH", 9]])
        }
    }

    @Test(arguments: Backend.available)
    func pagingReturnsTheRequestedSlice(backend: Backend) throws {
        try withScratchTable(backend, "paging", columns: [ColumnDefinition("id", .integer)]) { connection, table in
            try connection.execute(.insert(Insert(into: table, columns: ["id"], rows: (1...20).map { [SQLValue.integer(Int64($0))] })))
            let page = try connection.query(
                .select(Select(from: table, where: .compare("id", .greater, 2), orderBy: [SortKey("id")], limit: 3, offset: 4)))
            #expect(page.map { $0[0].int64 } == [7, 8, 9])
        }
    }

    @Test(arguments: Backend.available)
    func failedStatementsNameEngineCodeAndStatement(backend: Backend) throws {
        let connection = try backend.connect()
        defer { connection.close() }
        let error = #expect(throws: DatabaseError.self) { try connection.query("SELECT * FROM bt_no_such_table_here") }
        #expect(error?.kind == .statement)
        #expect(error?.engine == connection.engine)
        #expect(error?.code != nil)
        #expect(error?.sql == "SELECT * FROM bt_no_such_table_here")
        #expect(error?.description.contains("bt_no_such_table_here") == true)
        // And the connection goes on working.
        #expect(try connection.query("SELECT 1").first?[0].int64 == 1)
    }

    @Test(arguments: Backend.available.filter { $0 != .sqlite })
    func unreachableServerIsAConnectionError(backend: Backend) throws {
        var config = try backend.config()
        config.port = 1
        config.options["connect_timeout"] = "2"
        let error = #expect(throws: DatabaseError.self) { try Databases.connect(config) }
        #expect(error?.kind == .connection)
    }

    @Test func unopenableSQLiteFileIsAConnectionError() {
        let error = #expect(throws: DatabaseError.self) {
            try Databases.connect(ConnectionConfig(engine: .sqlite, database: "/nonexistent-dir-\(UUID().uuidString)/x.db"))
        }
        #expect(error?.kind == .connection)
    }

    @Test(arguments: Backend.available.filter { $0 != .sqlite })
    func wrongPasswordIsAnAuthenticationErrorThatNeverShowsThePassword(backend: Backend) throws {
        var config = try backend.config()
        let secret = "Wr0ng-Secret-\(UInt32.random(in: 0...UInt32.max))"
        config.password = secret
        let error = #expect(throws: DatabaseError.self) { try Databases.connect(config) }
        #expect(error?.kind == .authentication)
        #expect(error.map { !"\($0)".contains(secret) } == true)
        #expect(!config.description.contains(secret))
    }
}

/// Deterministic rows for the bulk test, with every escaping hazard of the text formats.
enum BulkRows {
    static let strings = [
        "plain", "tab\there", "new\nline", "back\\slash", "quote'\"", "Dakar — Thiès 😀", "", "\\N", "cr\rlf", "trailing  ",
    ]

    static func row(_ i: Int) -> [SQLValue] {
        let n: SQLValue = i % 7 == 0 ? .null : .integer(Int64(i * 3 - 50_000))
        let sign = i % 2 == 0 ? "" : "-"
        let d: SQLValue = i % 13 == 0 ? .null : .decimal(SQLDecimal("\(sign)\(i).\(String(i % 1000).leftPadded(3))")!)
        let s: SQLValue = .text("\(strings[i % strings.count]) \(i)")
        let t: SQLValue = i % 11 == 0 ? .null : .text(strings[(i / 3) % strings.count])
        return [.integer(Int64(i)), n, d, s, t]
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Compares a decimal read back with the one written: exactly (same digits at the column's
/// scale) on engines with exact decimals, numerically on SQLite.
func decimalEqual(_ got: SQLValue?, _ expected: SQLValue, scale: Int) -> Bool {
    guard case .decimal(let want) = expected else { return got == expected }
    switch got {
    case .decimal(let have)?: return have.normalized == want.normalized && have.scale == scale
    case .double(let have)?: return String(format: "%.\(scale)f", have) == String(format: "%.\(scale)f", want.doubleValue)
    case .integer(let have)?: return want.normalized.description == String(have)
    default: return false
    }
}

func expectDecimal(_ got: SQLValue?, _ expected: SQLValue, exact: Bool, scale: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(decimalEqual(got, expected, scale: scale), "decimal \(String(describing: got)) vs \(expected)", sourceLocation: sourceLocation)
    if exact, case .decimal(let want) = expected, case .decimal(let have)? = got {
        #expect(have.normalized == want.normalized, sourceLocation: sourceLocation)
    }
}

func expectTimestamp(_ got: SQLValue?, _ expected: SQLValue, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .timestamp(let want) = expected else {
        #expect(got == expected, sourceLocation: sourceLocation)
        return
    }
    let have: Date? =
        switch got {
        case .timestamp(let d)?: d
        case .text(let s)?: SQLTimestamp.parse(s)
        default: nil
        }
    #expect(
        have.map { abs($0.timeIntervalSince1970 - want.timeIntervalSince1970) < 0.000_001 } == true,
        "timestamp \(String(describing: got)) vs \(SQLTimestamp.format(want))", sourceLocation: sourceLocation)
}
