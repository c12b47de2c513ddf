/// Durations as users write them: `90s`, `30m`, `2h`, `1d`, and combinations like `1h30m`.
package enum DurationParser {
    /// Seconds, or nil when the text is not a duration (or is zero).
    package static func seconds(_ text: String) -> Int? {
        var total = 0
        var number = ""
        var sawUnit = false
        for ch in text {
            if ch.isNumber, ch.isASCII {
                number.append(ch)
            } else {
                guard let n = Int(number) else { return nil }
                let unit: Int
                switch ch {
                case "s": unit = 1
                case "m": unit = 60
                case "h": unit = 3600
                case "d": unit = 86_400
                default: return nil
                }
                let (product, overflow1) = n.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = total.addingReportingOverflow(product)
                if overflow1 || overflow2 { return nil }
                total = sum
                number = ""
                sawUnit = true
            }
        }
        guard number.isEmpty, sawUnit, total > 0 else { return nil }
        return total
    }
}
