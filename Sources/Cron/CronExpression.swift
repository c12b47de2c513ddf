import Diagnostics

/// A parsed 5-field cron expression (Vixie cron): minute, hour, day of month, month, day of week.
///
/// Supports `*`, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a` to the field's maximum),
/// lists, month names `JAN`…`DEC`, weekday names `SUN`…`SAT`, `0` and `7` for Sunday, and the
/// macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
/// When both day fields are restricted, a day matches if either matches (the Vixie OR rule).
package struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text as written.
    package let source: String
    /// Allowed values per field, as bit sets.
    package let minutes: UInt64
    package let hours: UInt64
    package let daysOfMonth: UInt64
    package let months: UInt64
    /// Bit 0 is Sunday; `7` is folded into `0`.
    package let daysOfWeek: UInt64
    /// Whether the day-of-month / day-of-week field was `*` (or started with `*`), which decides the OR rule.
    package let dayOfMonthIsWildcard: Bool
    package let dayOfWeekIsWildcard: Bool
    /// Neither the minute nor the hour field starts with `*`: the job runs at fixed local times, so
    /// across DST changes it runs once per local day (see ``nextFire(after:in:)``).
    package let isFixedTime: Bool

    package var description: String { source }

    /// The five fields, with their ranges and names.
    package enum Field: Int, Sendable, CaseIterable, CustomStringConvertible {
        case minute, hour, dayOfMonth, month, dayOfWeek

        package var description: String {
            switch self {
            case .minute: "minute"
            case .hour: "hour"
            case .dayOfMonth: "day-of-month"
            case .month: "month"
            case .dayOfWeek: "day-of-week"
            }
        }

        var range: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }

        var names: [String] {
            switch self {
            case .month: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            case .dayOfWeek: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
            default: []
            }
        }

        /// The value a name stands for (`JAN` = 1, `SUN` = 0).
        func value(ofName name: String) -> Int? {
            guard let i = names.firstIndex(of: name.uppercased()) else { return nil }
            return self == .month ? i + 1 : i
        }
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses an expression.
    ///
    /// - Throws: ``CronError`` naming the field and the offending text, with its character offset
    ///   in `text` so a caller can point at it.
    package init(_ text: String) throws {
        source = text
        let trimmed = text.trimmingSpaces()
        var expanded = trimmed
        var offsetBase = text.count - text.drop(while: { $0 == " " || $0 == "\t" }).count
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw CronError(
                    field: nil, offset: offsetBase,
                    message:
                        "unknown macro \"\(trimmed)\"; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")
            }
            expanded = macro
            offsetBase = -1
        }
        // Split into fields, remembering where each starts.
        var fields: [(text: String, offset: Int)] = []
        var current = ""
        var start = 0
        for (i, ch) in expanded.enumerated() {
            if ch == " " || ch == "\t" {
                if !current.isEmpty { fields.append((current, start)); current = "" }
            } else {
                if current.isEmpty { start = i }
                current.append(ch)
            }
        }
        if !current.isEmpty { fields.append((current, start)) }
        guard fields.count == 5 else {
            throw CronError(
                field: nil, offset: max(offsetBase, 0),
                message: "expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        var sets: [UInt64] = []
        for (index, field) in Field.allCases.enumerated() {
            let offset = offsetBase < 0 ? 0 : offsetBase + fields[index].offset
            sets.append(try Self.parseField(fields[index].text, field, offset: offset))
        }
        minutes = sets[0]
        hours = sets[1]
        daysOfMonth = sets[2]
        months = sets[3]
        var dow = sets[4]
        if dow & (1 << 7) != 0 { dow = (dow & ~(1 << 7)) | 1 }
        daysOfWeek = dow
        dayOfMonthIsWildcard = fields[2].text.hasPrefix("*")
        dayOfWeekIsWildcard = fields[4].text.hasPrefix("*")
        isFixedTime = !fields[0].text.hasPrefix("*") && !fields[1].text.hasPrefix("*")
    }

    private static func parseField(_ text: String, _ field: Field, offset: Int) throws -> UInt64 {
        var set: UInt64 = 0
        var position = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let itemOffset = offset + position
            position += item.count + 1
            func fail(_ message: String) -> CronError {
                CronError(field: field, offset: itemOffset, message: "\(field) field \"\(item)\" \(message)")
            }
            if item.isEmpty { throw fail("is empty (two commas in a row?)") }
            var rangePart = Substring(item)
            var step = 1
            if let slash = item.firstIndex(of: "/") {
                rangePart = item[..<slash]
                let stepText = item[item.index(after: slash)...]
                guard let s = Int(stepText) else { throw fail("has a step \"\(stepText)\" that is not a number") }
                guard s >= 1, s <= field.range.upperBound + 1 else {
                    throw fail("has a step of \(s), out of range 1-\(field.range.upperBound + 1)")
                }
                step = s
            }
            var low: Int
            var high: Int
            if rangePart == "*" {
                low = field == .dayOfWeek ? 0 : field.range.lowerBound
                high = field == .dayOfWeek ? 6 : field.range.upperBound
            } else {
                let bounds = rangePart.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                func value(_ s: Substring) throws -> Int {
                    if let v = Int(s) {
                        guard field.range.contains(v) else {
                            throw CronError(
                                field: field, offset: itemOffset,
                                message: "\(field) field \"\(item)\" is out of range \(field.range.lowerBound)-\(field.range.upperBound)")
                        }
                        return v
                    }
                    if let v = field.value(ofName: String(s)) { return v }
                    let hint = field.names.isEmpty ? "a number" : "a number or a name (\(field.names.joined(separator: " ")))"
                    throw fail("is not valid: \"\(s)\" should be \(hint)")
                }
                low = try value(bounds[0])
                if bounds.count == 2 {
                    high = try value(bounds[1])
                    guard low <= high else { throw fail("is a range that ends before it starts") }
                } else {
                    // `a/n` runs from a to the field's maximum.
                    high = step > 1 || item.contains("/") ? (field == .dayOfWeek ? 6 : field.range.upperBound) : low
                }
            }
            var v = low
            while v <= high {
                set |= 1 << UInt64(v)
                v += step
            }
        }
        return set
    }

    /// Whether the expression fires at this local calendar minute (weekday 0 = Sunday).
    package func matches(minute: Int, hour: Int, day: Int, month: Int, weekday: Int) -> Bool {
        guard minutes & (1 << UInt64(minute)) != 0, hours & (1 << UInt64(hour)) != 0,
            months & (1 << UInt64(month)) != 0
        else { return false }
        return matchesDay(day: day, weekday: weekday)
    }

    /// The day rule alone: with both day fields restricted, either may match.
    package func matchesDay(day: Int, weekday: Int) -> Bool {
        let domMatch = daysOfMonth & (1 << UInt64(day)) != 0
        let dowMatch = daysOfWeek & (1 << UInt64(weekday)) != 0
        if dayOfMonthIsWildcard || dayOfWeekIsWildcard { return domMatch && dowMatch }
        return domMatch || dowMatch
    }
}

/// A cron expression that does not parse: which field, where, and why.
package struct CronError: UserFacingError, Sendable, Hashable {
    /// `nil` when the problem is the whole expression (field count, macro).
    package var field: CronExpression.Field?
    /// Character offset in the expression text where the offending part starts.
    package var offset: Int
    package var message: String

    package var description: String { message }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
