import SQL
import Testing

@Suite struct DialectQuotingTests {
    static let awkwardNames = ["plain", "we\"ird", "back`tick", "br]acket[", "sp ace", "da-sh", "par(en)", "select", "ünïcödé_数据", "it's"]

    @Test func everyDialectDoublesItsOwnClosingQuote() throws {
        #expect(try PostgreSQLDialect().quote("we\"ird") == "\"we\"\"ird\"")
        #expect(try SQLiteDialect().quote("we\"ird") == "\"we\"\"ird\"")
        #expect(try MySQLDialect().quote("back`tick") == "`back``tick`")
        #expect(try SQLServerDialect().quote("br]acket[") == "[br]]acket[]")
        #expect(try OddDialect().quote("a»b") == "«a»»b»")
        // Other quote characters pass through untouched.
        #expect(try MySQLDialect().quote("we\"ird") == "`we\"ird`")
        #expect(try SQLServerDialect().quote("it's") == "[it's]")
    }

    @Test(arguments: DatabaseEngine.allCases)
    func awkwardNamesQuoteWithoutError(engine: DatabaseEngine) throws {
        for name in Self.awkwardNames {
            let quoted = try engine.dialect.quote(name)
            #expect(quoted.count >= name.count + 2)
        }
    }

    @Test func schemaQualifiedNames() throws {
        #expect(try PostgreSQLDialect().quote(QualifiedName("level-1", schema: "RGPH")) == "\"RGPH\".\"level-1\"")
        #expect(try SQLServerDialect().quote(QualifiedName("cases", schema: "rgph")) == "[rgph].[cases]")
    }

    @Test func emptyAndNulNamesAreRefused() {
        for engine in DatabaseEngine.allCases {
            #expect(throws: SQLError.self) { try engine.dialect.quote("") }
            #expect(throws: SQLError.self) { try engine.dialect.quote("a\u{0}b") }
        }
    }

    @Test func postgresRefusesNamesItWouldTruncate() throws {
        let ok = String(repeating: "a", count: 63)
        #expect(try PostgreSQLDialect().quote(ok) == "\"\(ok)\"")
        let error = #expect(throws: SQLError.self) { try PostgreSQLDialect().quote(ok + "a") }
        #expect(error?.message == "identifier \"\(ok)a\" is 64 bytes long; postgresql keeps at most 63")
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        #expect(throws: SQLError.self) { try PostgreSQLDialect().quote(String(repeating: "é", count: 32)) }
    }

    @Test func mysqlLimits() throws {
        #expect(try MySQLDialect().quote(String(repeating: "é", count: 64)).count == 66)
        #expect(throws: SQLError.self) { try MySQLDialect().quote(String(repeating: "a", count: 65)) }
        let trailing = #expect(throws: SQLError.self) { try MySQLDialect().quote("name ") }
        #expect(trailing?.message.contains("ends with a space") == true)
        let emoji = #expect(throws: SQLError.self) { try MySQLDialect().quote("col😀") }
        #expect(emoji?.message.contains("Basic Multilingual Plane") == true)
        #expect(try PostgreSQLDialect().quote("col😀") == "\"col😀\"")
    }

    @Test func namespacing() {
        #expect(PostgreSQLDialect().namespaced("cases", in: "rgph") == QualifiedName("cases", schema: "rgph"))
        #expect(SQLServerDialect().namespaced("cases", in: "rgph") == QualifiedName("cases", schema: "rgph"))
        #expect(MySQLDialect().namespaced("cases", in: "rgph") == QualifiedName("rgph_cases"))
        #expect(SQLiteDialect().namespaced("cases", in: "rgph") == QualifiedName("rgph_cases"))
    }

    @Test func engineAliases() {
        #expect(DatabaseEngine(name: "pdo_pgsql") == .postgresql)
        #expect(DatabaseEngine(name: "PDO_MYSQL") == .mysql)
        #expect(DatabaseEngine(name: "sqlsrv") == .sqlserver)
        #expect(DatabaseEngine(name: "pdo_sqlsrv") == .sqlserver)
        #expect(DatabaseEngine(name: "pdo_sqlite") == .sqlite)
        #expect(DatabaseEngine(name: "oracle") == nil)
        #expect(DatabaseEngine.allCases.map(\.pdoName) == ["pdo_pgsql", "pdo_mysql", "pdo_sqlsrv", "pdo_sqlite"])
    }
}
