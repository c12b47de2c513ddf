import Foundation
import SQL
import Testing

@Suite struct LiteralTests {
    @Test func textLiterals() {
        #expect(PostgreSQLDialect().literal(.text("it's \\ ok")) == "'it''s \\ ok'")
        #expect(SQLiteDialect().literal(.text("it's")) == "'it''s'")
        // MySQL treats backslash as an escape inside strings.
        #expect(MySQLDialect().literal(.text("it's \\ ok")) == "'it''s \\\\ ok'")
        #expect(SQLServerDialect().literal(.text("Thiès é")) == "N'Thiès é'")
    }

    @Test func otherLiterals() {
        let t = Date(timeIntervalSince1970: 1_767_225_600.25)  // 2026-01-01 00:00:00.25 UTC
        #expect(PostgreSQLDialect().literal(.timestamp(t)) == "TIMESTAMP '2026-01-01 00:00:00.250000'")
        #expect(MySQLDialect().literal(.timestamp(t)) == "'2026-01-01 00:00:00.250000'")
        #expect(PostgreSQLDialect().literal(.blob([0, 255, 16])) == "'\\x00FF10'::bytea")
        #expect(MySQLDialect().literal(.blob([0, 255])) == "X'00FF'")
        #expect(SQLServerDialect().literal(.blob([0, 255])) == "0x00FF")
        #expect(SQLiteDialect().literal(.null) == "NULL")
        #expect(SQLiteDialect().literal(.integer(-42)) == "-42")
        #expect(SQLiteDialect().literal(.decimal(SQLDecimal("0012.50")!)) == "12.50")
    }
}

@Suite struct ValueTests {
    @Test func decimalParsing() {
        #expect(SQLDecimal("0012.50")?.description == "12.50")
        #expect(SQLDecimal("-0.0")?.description == "0.0")
        #expect(SQLDecimal("+7")?.description == "7")
        #expect(SQLDecimal(".5")?.description == "0.5")
        #expect(SQLDecimal("5.")?.description == "5")
        #expect(SQLDecimal("123456789012345678901234567890.123456789")?.description == "123456789012345678901234567890.123456789")
        for bad in ["", "-", ".", "1e5", "1.2.3", " 1", "abc", "1,5"] { #expect(SQLDecimal(bad) == nil, "\(bad)") }
        #expect(SQLDecimal("12.500")!.normalized.description == "12.5")
        #expect(SQLDecimal("12.000")!.normalized.description == "12")
        #expect(SQLDecimal("12.345")!.scale == 3)
    }

    @Test func timestampsRoundTrip() {
        for seconds in [0.0, 1_767_225_600, 1_767_225_600.123456, -86_400.5, 4_102_444_799.999999] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = SQLTimestamp.format(date)
            let back = SQLTimestamp.parse(text)
            #expect(back != nil, "\(text)")
            #expect(abs((back?.timeIntervalSince1970 ?? 0) - seconds) < 0.000_001, "\(text)")
        }
        #expect(SQLTimestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00")
        let withOffset = SQLTimestamp.parse("2026-11-29T04:54:16+01:00")?.timeIntervalSince1970 ?? 0
        #expect(abs(withOffset - (1_795_928_056 - 3600)) < 0.000_001)
        #expect(SQLTimestamp.parse("2026-11-29 04:54:16Z")?.timeIntervalSince1970 == 1_795_928_056)
        #expect(SQLTimestamp.parse("29/11/2026") == nil)
    }

    @Test func valueAccessors() {
        #expect(SQLValue.text("42").int64 == 42)
        #expect(SQLValue.double(3.0).int64 == 3)
        #expect(SQLValue.double(3.5).int64 == nil)
        #expect(SQLValue.decimal(SQLDecimal("12.5")!).string == "12.5")
        #expect(SQLValue.null.string == nil)
    }
}

@Suite struct DecimalUnitsTests {
    /// The hot-path constructor gives exactly what parsing the same text gives.
    @Test func unitsAndScaleEqualParsedText() {
        for (units, scale) in [(Int64(12345), 2), (5, 2), (-5, 2), (0, 2), (0, 0), (-120, 1), (7, 0), (Int64.max, 4), (-99, 3), (100, 2)] {
            let fromUnits = SQLDecimal(units: units, scale: scale)
            var text = String(units.magnitude)
            if scale > 0 {
                while text.count <= scale { text = "0" + text }
                text.insert(".", at: text.index(text.endIndex, offsetBy: -scale))
            }
            #expect(fromUnits == SQLDecimal((units < 0 ? "-" : "") + text)!, "\(units) scale \(scale)")
        }
        #expect(SQLDecimal(units: 5, scale: 2).description == "0.05")
        #expect(SQLDecimal(units: -120, scale: 1).description == "-12.0")
    }
}
