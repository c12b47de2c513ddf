import DatabaseDriver
import SQL
import Testing

@Suite struct ConnectionConfigTests {
    @Test func parsesURLsWithEncodedCredentials() throws {
        let config = try ConnectionConfig.parse(url: "postgresql://ansd_user:p%40ss%3Aw%25rd@db.example:6432/ansd_data?sslmode=require")
        #expect(config.engine == .postgresql)
        #expect(config.user == "ansd_user")
        #expect(config.password == "p@ss:w%rd")
        #expect(config.host == "db.example")
        #expect(config.port == 6432)
        #expect(config.database == "ansd_data")
        #expect(config.options == ["sslmode": "require"])
        #expect(config.description == "postgresql://ansd_user@db.example:6432/ansd_data?sslmode=require")
        #expect(!config.description.contains("p@ss"))
    }

    @Test func parsesOtherForms() throws {
        #expect(try ConnectionConfig.parse(url: "pdo_mysql://u@[::1]:3306/cspro").host == "::1")
        #expect(try ConnectionConfig.parse(url: "mysql://127.0.0.1/cspro").port == nil)
        #expect(try ConnectionConfig.parse(url: "sqlite:.breakout/state.db").database == ".breakout/state.db")
        #expect(try ConnectionConfig.parse(url: "sqlite:///var/lib/breakout/state.db").database == "/var/lib/breakout/state.db")
        #expect(try ConnectionConfig.parse(url: "sqlite:x.db").description == "sqlite:x.db")
    }

    @Test func refusesBadURLs() {
        for bad in ["localhost/db", "oracle://h/db", "postgresql:h/db", "mysql://h:99999/db", "mysql://h:abc/db", "sqlite:"] {
            let error = #expect(throws: DatabaseError.self, "\(bad)") { try ConnectionConfig.parse(url: bad) }
            #expect(error?.kind == .configuration)
        }
    }

    @Test func scrubRemovesSecrets() {
        #expect(
            DatabaseError.scrub("failed for pw s3cret and s3cret again\n", secrets: ["s3cret", nil])
                == "failed for pw ******** and ******** again")
    }
}

@Suite struct TextRowEncoderTests {
    @Test func escapesEverythingTheTextFormatsTreatSpecially() {
        var buffer: [UInt8] = []
        TextRowEncoder(blobStyle: .postgresHex).encode(
            [.null, .integer(-12), .text("a\tb\nc\\d\re"), .text("\\N"), .text(""), .blob([0xAB, 1])], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "\\N\t-12\ta\\tb\\nc\\\\d\\re\t\\\\N\t\t\\\\xab01\n")
        buffer = []
        TextRowEncoder(blobStyle: .raw).encode([.decimal(SQLDecimal("-1.50")!), .blob([0x00, 0x41])], into: &buffer)
        #expect(buffer == Array("-1.50\t\\0A\n".utf8))
        buffer = []
        TextRowEncoder(blobStyle: .raw).encode([.integer(Int64.min), .integer(0), .integer(Int64.max)], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "-9223372036854775808\t0\t9223372036854775807\n")
    }
}
