import Config
import Cron
import Testing

@Suite struct CronParsingTests {
    func set(_ bits: UInt64) -> [Int] { (0..<64).filter { bits & (1 << UInt64($0)) != 0 } }

    @Test func fieldsStepsRangesListsAndNames() throws {
        let e = try CronExpression("*/15 9-17/4 1,15 JAN-MAR,dec MON-FRI")
        #expect(set(e.minutes) == [0, 15, 30, 45])
        #expect(set(e.hours) == [9, 13, 17])
        #expect(set(e.daysOfMonth) == [1, 15])
        #expect(set(e.months) == [1, 2, 3, 12])
        #expect(set(e.daysOfWeek) == [1, 2, 3, 4, 5])
        #expect(set(try CronExpression("5/20 * * * *").minutes) == [5, 25, 45])
        #expect(set(try CronExpression("0 0 * * 7").daysOfWeek) == [0])
        #expect(set(try CronExpression("0 0 * * 5-7").daysOfWeek) == [0, 5, 6])
        #expect(set(try CronExpression("0 0 * * *").daysOfWeek) == [0, 1, 2, 3, 4, 5, 6])
    }

    @Test func macros() throws {
        #expect(try CronExpression("@daily").matches(minute: 0, hour: 0, day: 3, month: 4, weekday: 2))
        #expect(try !CronExpression("@hourly").matches(minute: 1, hour: 0, day: 3, month: 4, weekday: 2))
        #expect(try CronExpression("@weekly").matches(minute: 0, hour: 0, day: 5, month: 4, weekday: 0))
        let yearly = try CronExpression("@yearly"), annually = try CronExpression("@annually"), explicit = try CronExpression("0 0 1 1 *")
        for other in [annually, explicit] {
            #expect([yearly.minutes, yearly.hours, yearly.daysOfMonth, yearly.months, yearly.daysOfWeek]
                == [other.minutes, other.hours, other.daysOfMonth, other.months, other.daysOfWeek])
        }
        #expect(throws: CronError.self) { try CronExpression("@reboot") }
    }

    @Test func vixieDayOrRule() throws {
        // Both restricted: the 1st OR any Monday.
        let both = try CronExpression("0 0 1 * MON")
        #expect(both.matchesDay(day: 1, weekday: 4))
        #expect(both.matchesDay(day: 9, weekday: 1))
        #expect(!both.matchesDay(day: 9, weekday: 2))
        // One is a wildcard: both must match (the wildcard always does).
        let monOnly = try CronExpression("0 0 * * MON")
        #expect(!monOnly.matchesDay(day: 1, weekday: 4))
        // "*/2" in day-of-month counts as a wildcard start for the rule, as in Vixie cron.
        let starStep = try CronExpression("0 0 */2 * MON")
        #expect(!starStep.matchesDay(day: 1, weekday: 4))
        #expect(starStep.matchesDay(day: 1, weekday: 1))
    }

    @Test func errorsNameTheFieldAndWhere() {
        let cases: [(String, CronExpression.Field?, Int, String)] = [
            ("0 25 * * *", .hour, 2, "hour field \"25\" is out of range 0-23"),
            ("60 * * * *", .minute, 0, "minute field \"60\" is out of range 0-59"),
            ("0 0 32 * *", .dayOfMonth, 4, "day-of-month field \"32\" is out of range 1-31"),
            ("0 0 * 13 *", .month, 6, "month field \"13\" is out of range 1-12"),
            ("0 0 * * 8", .dayOfWeek, 8, "day-of-week field \"8\" is out of range 0-7"),
            ("0 0 * * MON,,FRI", .dayOfWeek, 12, "day-of-week field \"\" is empty (two commas in a row?)"),
            ("0 0 * * 1-x", .dayOfWeek, 8, "day-of-week field \"1-x\" is not valid: \"x\" should be a number or a name (SUN MON TUE WED THU FRI SAT)"),
            ("*/x * * * *", .minute, 0, "minute field \"*/x\" has a step \"x\" that is not a number"),
            ("* * * *", nil, 0, "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
            ("* * * * * *", nil, 0, "expected 5 fields (minute hour day-of-month month day-of-week), found 6"),
        ]
        for (text, field, offset, message) in cases {
            let error = #expect(throws: CronError.self, "\(text)") { try CronExpression(text) }
            #expect(error?.field == field, "\(text)")
            #expect(error?.offset == offset, "\(text)")
            #expect(error?.message == message, "\(text)")
        }
    }
}

@Suite struct DurationTests {
    @Test func durations() {
        #expect(DurationParser.seconds("90s") == 90)
        #expect(DurationParser.seconds("30m") == 1800)
        #expect(DurationParser.seconds("2h") == 7200)
        #expect(DurationParser.seconds("1h30m") == 5400)
        #expect(DurationParser.seconds("1d") == 86_400)
        for bad in ["", "5", "h", "2 hours", "1.5h", "-1m", "0s", "10x", "99999999999999999999d"] {
            #expect(DurationParser.seconds(bad) == nil, "\(bad)")
        }
    }
}
