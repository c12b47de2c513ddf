import Foundation

/// A value bound into, or read out of, a SQL statement.
///
/// Decimals are carried as exact text (``SQLDecimal``) so that no value loses a digit between
/// CSPro's fixed-width text and the destination's `DECIMAL(p,s)` column.
package enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case decimal(SQLDecimal)
    case double(Double)
    case text(String)
    case blob([UInt8])
    /// A point in time, written as UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    case timestamp(Date)

    package var isNull: Bool { if case .null = self { true } else { false } }

    /// The value as an integer when it is one exactly (integers, integral decimals and doubles,
    /// and text holding an integer, as drivers return it).
    /// The value as a double when it is a number (integer, decimal or double); nil otherwise.
    package var number: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .decimal(let d): return d.doubleValue
        case .double(let d): return d
        default: return nil
        }
    }

    package var int64: Int64? {
        switch self {
        case .integer(let v): return v
        case .decimal(let d): return Int64(d.description)
        case .double(let d): return d.rounded() == d && abs(d) < 9.2e18 ? Int64(d) : nil
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    /// The value as text, as a user would read it; `nil` for NULL and blobs.
    package var string: String? {
        switch self {
        case .null, .blob: return nil
        case .integer(let v): return String(v)
        case .decimal(let d): return d.description
        case .double(let d): return SQLDecimal.format(d)
        case .text(let s): return s
        case .timestamp(let d): return SQLTimestamp.format(d)
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    package init(stringLiteral value: String) { self = .text(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(nilLiteral: ()) { self = .null }
}

/// An exact decimal number kept as its canonical text: optional `-`, digits, optional `.` digits.
package struct SQLDecimal: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// Canonical text: no `+`, no leading zeros before the point (except a single `0`), `-0` is `0`.
    package let description: String

    /// Parses `[+-]digits[.digits]` (also `.5` and `5.`); returns `nil` for anything else.
    package init?(_ text: String) {
        var s = Substring(text)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !s.isEmpty, parts.count <= 2 else { return nil }
        var intPart = parts[0]
        let fracPart = parts.count == 2 ? parts[1] : ""
        guard intPart.allSatisfy(\.isASCIIDigit), fracPart.allSatisfy(\.isASCIIDigit),
            !(intPart.isEmpty && fracPart.isEmpty)
        else { return nil }
        while intPart.count > 1, intPart.first == "0" { intPart = intPart.dropFirst() }
        if intPart.isEmpty { intPart = "0" }
        let isZero = intPart == "0" && fracPart.allSatisfy { $0 == "0" }
        var out = (negative && !isZero) ? "-" : ""
        out += intPart
        if parts.count == 2, !fracPart.isEmpty { out += "." + fracPart }
        description = out
    }

    /// `units × 10^-scale` (`12345`, scale 2 → `123.45`), without parsing text: the breakout's hot path.
    package init(units: Int64, scale: Int) {
        let negative = units < 0
        var digits = String(units.magnitude)
        if scale > 0 {
            if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        description = (negative && units != 0 ? "-" : "") + digits
    }

    /// The same number with trailing fractional zeros removed (`1.500` → `1.5`, `2.00` → `2`).
    package var normalized: SQLDecimal {
        guard description.contains(".") else { return self }
        var s = Substring(description)
        while s.last == "0" { s = s.dropLast() }
        if s.last == "." { s = s.dropLast() }
        return SQLDecimal(String(s))!
    }

    /// Number of digits after the decimal point.
    package var scale: Int {
        guard let dot = description.firstIndex(of: ".") else { return 0 }
        return description.distance(from: dot, to: description.endIndex) - 1
    }

    package var doubleValue: Double { Double(description)! }

    package static func < (lhs: SQLDecimal, rhs: SQLDecimal) -> Bool { lhs.doubleValue < rhs.doubleValue }

    /// Shortest text that reads back as the same double (`0.1` stays `0.1`).
    package static func format(_ d: Double) -> String {
        if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Timestamp text in the form every engine accepts.
package enum SQLTimestamp {
    /// `YYYY-MM-DD HH:MM:SS` in UTC, with `.ffffff` when the date has a fractional second.
    package static func format(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var seconds = t.rounded(.down)
        var micros = Int(((t - seconds) * 1_000_000).rounded())
        if micros == 1_000_000 { seconds += 1; micros = 0 }
        var tm = tm()
        var time = time_t(seconds)
        gmtime_r(&time, &tm)
        let base = String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
            Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
        return micros == 0 ? base : base + String(format: ".%06d", micros)
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM:SS[.f…][Z|±HH[:MM]]` as written by any of the four engines; a time
    /// without an offset is UTC.
    package static func parse(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= chars.count else { return nil }
            var v = 0
            for c in chars[from..<from + len] {
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let y = num(0, 4), chars.count >= 19, chars[4] == 45, let mo = num(5, 2), chars[7] == 45,
            let d = num(8, 2), chars[10] == 32 || chars[10] == 84, let h = num(11, 2), let mi = num(14, 2),
            let s = num(17, 2)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < chars.count, chars[i] == 46 {
            i += 1
            var scale = 0.1
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                fraction += Double(chars[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < chars.count {
            if chars[i] == 90 {
                i += 1
            } else if chars[i] == 43 || chars[i] == 45 {
                let sign = chars[i] == 45 ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0
                if let m = num(i + 4, 2), chars[i + 3] == 58 { om = m } else if let m = num(i + 3, 2) { om = m }
                offset = sign * (oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        var tm = tm()
        tm.tm_year = Int32(y - 1900); tm.tm_mon = Int32(mo - 1); tm.tm_mday = Int32(d)
        tm.tm_hour = Int32(h); tm.tm_min = Int32(mi); tm.tm_sec = Int32(s)
        let epoch = timegm(&tm)
        return Date(timeIntervalSince1970: Double(epoch) - Double(offset) + fraction)
    }
}
