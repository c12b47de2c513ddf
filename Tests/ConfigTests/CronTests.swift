import Config
import Cron
import Foundation
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
            #expect(
                [yearly.minutes, yearly.hours, yearly.daysOfMonth, yearly.months, yearly.daysOfWeek]
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
            (
                "0 0 * * 1-x", .dayOfWeek, 8,
                "day-of-week field \"1-x\" is not valid: \"x\" should be a number or a name (SUN MON TUE WED THU FRI SAT)"
            ),
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

/// Next-fire times: DST transitions checked by hand, everything else against croniter.
@Suite struct NextFireTests {
    static func date(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }
    static func fires(_ expr: String, _ tz: String, from: String, count: Int) throws -> [String] {
        let zone = TimeZone(identifier: tz)!
        let f = ISO8601DateFormatter()
        f.timeZone = zone
        return try CronExpression(expr).nextFires(after: date(from), in: zone, count: count).map { f.string(from: $0) }
    }

    @Test func springForwardRunsFixedTimeJobsAfterTheGap() throws {
        // Europe/Paris, 2026-03-29: 02:00 → 03:00.
        #expect(
            try Self.fires("30 2 * * *", "Europe/Paris", from: "2026-03-28T00:00:00Z", count: 3)
                == ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"])
        // Two fixed times inside the gap still run once.
        #expect(
            try Self.fires("0,30 2 * * *", "Europe/Paris", from: "2026-03-29T00:00:00Z", count: 2)
                == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"])
        // America/New_York, 2026-03-08: wildcard jobs skip the missing hour.
        #expect(
            try Self.fires("*/30 * * * *", "America/New_York", from: "2026-03-08T06:00:00Z", count: 3)
                == ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"])
        #expect(
            try Self.fires("15 2 * * *", "America/New_York", from: "2026-03-08T05:00:00Z", count: 2)
                == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:15:00-04:00"])
        // Australia/Lord_Howe moves by 30 minutes: 02:00 → 02:30 on 2026-10-04.
        #expect(
            try Self.fires("0 2 * * *", "Australia/Lord_Howe", from: "2026-10-03T00:00:00Z", count: 2)
                == ["2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"])
        #expect(
            try Self.fires("10 2 * * *", "Australia/Lord_Howe", from: "2026-10-03T12:00:00Z", count: 1) == ["2026-10-04T02:30:00+11:00"])
    }

    @Test func fallBackRunsFixedTimeJobsOnceAndWildcardsTwice() throws {
        // Europe/Paris, 2026-10-25: 03:00 CEST → 02:00 CET, the 02:xx hour happens twice.
        #expect(
            try Self.fires("30 2 * * *", "Europe/Paris", from: "2026-10-24T12:00:00Z", count: 2)
                == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"])
        #expect(
            try Self.fires("*/30 * * * *", "Europe/Paris", from: "2026-10-25T00:00:00Z", count: 4)
                == ["2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"])
        #expect(
            try Self.fires("0 * * * *", "America/New_York", from: "2026-11-01T04:30:00Z", count: 3)
                == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"])
        #expect(
            try Self.fires("30 1 * * *", "America/New_York", from: "2026-10-31T12:00:00Z", count: 2)
                == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"])
    }

    /// Vixie's rule: a day field counts as "any day" only when written with `*`.
    @Test func fullRangeDayOfWeekWrittenOutStillUsesTheOrRule() throws {
        #expect(
            try Self.fires("0 0 28 * sun-sat", "UTC", from: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
            ])
        #expect(
            try Self.fires("0 0 28 * *", "UTC", from: "2026-01-01T00:00:00Z", count: 2) == ["2026-01-28T00:00:00Z", "2026-02-28T00:00:00Z"])
    }

    @Test func zonesWithoutDSTAndRareDays() throws {
        #expect(
            try Self.fires("0 2 * * *", "Africa/Dakar", from: "2026-03-29T00:00:00Z", count: 2) == [
                "2026-03-29T02:00:00Z", "2026-03-30T02:00:00Z",
            ])
        #expect(
            try Self.fires("0 0 29 2 *", "UTC", from: "2026-01-01T00:00:00Z", count: 2) == ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
        // Vixie OR rule: the 13th or any Friday.
        #expect(
            try Self.fires("0 12 13 * fri", "UTC", from: "2026-02-01T00:00:00Z", count: 3) == [
                "2026-02-06T12:00:00Z", "2026-02-13T12:00:00Z", "2026-02-20T12:00:00Z",
            ])
        #expect(
            try CronExpression("0 0 30 2 *").nextFire(after: Self.date("2026-01-01T00:00:00Z"), in: TimeZone(identifier: "UTC")!) == nil)
    }

    static let oraclePython = "/usr/bin/python3"
    static var oracleAvailable: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: oraclePython)
        p.arguments = ["-c", "import croniter"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// 3,000 random expressions and instants, away from DST transitions, against croniter
    /// (installed by scripts/install-deps.sh --servers; required under CI=true).
    @Test func randomExpressionsAgreeWithCroniter() throws {
        guard Self.oracleAvailable else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "croniter (python3-croniter) is missing under CI")
            return
        }
        var rng = SystemRandomNumberGenerator()
        func field(_ low: Int, _ high: Int, names: [String] = [], allowStarStep: Bool) -> String {
            func v() -> Int { Int.random(in: low...high, using: &rng) }
            func name(_ x: Int) -> String { !names.isEmpty && Bool.random(using: &rng) ? names[x - low] : String(x) }
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: return "*"
            case 1 where allowStarStep: return "*/\(Int.random(in: 2...max(2, (high - low) / 2), using: &rng))"
            case 2: return name(v())
            case 3: let a = v(), b = v(); return "\(name(min(a, b)))-\(name(max(a, b)))"
            case 4: let a = v(), b = v(); return "\(min(a, b))-\(max(a, b))/\(Int.random(in: 1...3, using: &rng))"
            default: return (0..<Int.random(in: 2...4, using: &rng)).map { _ in String(v()) }.joined(separator: ",")
            }
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        let zones = ["UTC", "Africa/Dakar", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
        var cases: [(expr: String, zone: String, from: Int)] = []
        while cases.count < 3000 {
            let parts = [
                field(0, 59, allowStarStep: true), field(0, 23, allowStarStep: true), field(1, 28, allowStarStep: false),
                field(1, 12, names: months, allowStarStep: true), field(0, 6, names: days, allowStarStep: false),
            ]
            let expr = parts.joined(separator: " ")
            // croniter reads a day-of-week field that lists every day (`sun-sat`, `0-6`) as `*` and then
            // ANDs it with the day of month; Vixie cron (and the specification) only do so for a field
            // written with `*`. Those expressions are checked by hand below, not against croniter.
            if !parts[4].hasPrefix("*"), try CronExpression(expr).daysOfWeek & 0x7F == 0x7F { continue }
            cases.append((expr, zones.randomElement(using: &rng)!, Int.random(in: 1_577_836_800...1_893_456_000, using: &rng)))
        }
        let input = cases.map { "\($0.expr)\t\($0.zone)\t\($0.from)" }.joined(separator: "\n")
        let script = """
            import sys, datetime, zoneinfo
            from croniter import croniter
            for line in sys.stdin.read().splitlines():
                expr, tz, ts = line.split("\\t")
                start = datetime.datetime.fromtimestamp(int(ts), zoneinfo.ZoneInfo(tz))
                try:
                    print(int(croniter(expr, start).get_next(datetime.datetime).timestamp()))
                except Exception as e:
                    print("error " + str(e).replace("\\n", " "))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.oraclePython)
        p.arguments = ["-c", script]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try p.run()
        let writer = Thread {
            inPipe.fileHandleForWriting.write(Data(input.utf8)); try? inPipe.fileHandleForWriting.close()
        }
        writer.start()
        let output = String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(
            String.init)
        p.waitUntilExit()
        #expect(output.count == cases.count)
        var compared = 0, mismatches: [String] = []
        for (c, line) in zip(cases, output) {
            guard let theirs = Int(line) else { continue }
            let zone = TimeZone(identifier: c.zone)!
            let start = Date(timeIntervalSince1970: TimeInterval(c.from))
            guard let ours = try CronExpression(c.expr).nextFire(after: start, in: zone) else {
                mismatches.append("\(c): none vs \(theirs)"); continue
            }
            // Only where no DST transition lies between the start and either answer.
            let end = Date(timeIntervalSince1970: TimeInterval(max(theirs, Int(ours.timeIntervalSince1970))))
            if let t = zone.nextDaylightSavingTimeTransition(after: start.addingTimeInterval(-7200)), t <= end.addingTimeInterval(7200) {
                continue
            }
            compared += 1
            if Int(ours.timeIntervalSince1970) != theirs {
                mismatches.append(
                    "\(c.expr) in \(c.zone) after \(start): ours \(ours), croniter \(Date(timeIntervalSince1970: TimeInterval(theirs)))")
            }
        }
        #expect(compared > 1500)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(compared): \(mismatches.prefix(5))")
    }
}
