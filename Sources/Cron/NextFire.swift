import Foundation

/// Next-fire computation in an IANA time zone, with the DST rules of the specification:
///
/// - a fixed-time job (minute and hour fields not starting with `*`, e.g. `30 2 * * *`) runs once
///   per local day: a local time skipped by a spring-forward gap runs at the first minute after
///   the gap; a local time repeated by a fall-back runs at its first occurrence only;
/// - a wildcard job (`*/15 * * * *`, `0 * * * *`) follows elapsed time: minutes inside a gap do
///   not exist, and a repeated hour runs again.
extension CronExpression {
    /// The first fire strictly after `date`, or nil when none comes within `horizonDays` local days
    /// (an expression such as `0 0 30 2 *` never fires).
    package func nextFire(after date: Date, in timeZone: TimeZone, horizonDays: Int = 366 * 5) -> Date? {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        // Wall-clock time of `date` in the zone, written as if it were UTC.
        let wallStart = date.addingTimeInterval(TimeInterval(timeZone.secondsFromGMT(for: date)))
        var day = utc.startOfDay(for: wallStart).addingTimeInterval(-86_400)  // a day back: overlaps map wall times earlier
        var best: Date?
        var daysAfterHit = 0
        for _ in 0..<(horizonDays + 2) {
            let c = utc.dateComponents([.month, .day, .weekday], from: day)
            if months & (1 << UInt64(c.month!)) != 0, matchesDay(day: c.day!, weekday: c.weekday! - 1) {
                for hour in 0..<24 where hours & (1 << UInt64(hour)) != 0 {
                    for minute in 0..<60 where minutes & (1 << UInt64(minute)) != 0 {
                        let wall = day.addingTimeInterval(TimeInterval(hour * 3600 + minute * 60))
                        for fire in instants(forWall: wall, in: timeZone) where fire > date {
                            if best == nil || fire < best! { best = fire }
                        }
                    }
                }
            }
            // A fall-back overlap can put the next day's first fire before this day's last one:
            // look one more day past the first hit.
            if best != nil {
                daysAfterHit += 1
                if daysAfterHit > 1 { return best }
            }
            day = day.addingTimeInterval(86_400)
        }
        return best
    }

    /// The next `count` fires after `date`.
    package func nextFires(after date: Date, in timeZone: TimeZone, count: Int) -> [Date] {
        var out: [Date] = []
        var from = date
        while out.count < count, let next = nextFire(after: from, in: timeZone) {
            out.append(next)
            from = next
        }
        return out
    }

    /// The instants a local wall time fires at under the DST rules.
    func instants(forWall wall: Date, in timeZone: TimeZone) -> [Date] {
        let before = timeZone.secondsFromGMT(for: wall.addingTimeInterval(-86_400))
        let after = timeZone.secondsFromGMT(for: wall.addingTimeInterval(86_400))
        var candidates: [Date] = []
        for offset in Set([before, after]) {
            let t = wall.addingTimeInterval(TimeInterval(-offset))
            if timeZone.secondsFromGMT(for: t) == offset { candidates.append(t) }
        }
        candidates.sort()
        if candidates.count > 1 { return isFixedTime ? [candidates[0]] : candidates }
        if !candidates.isEmpty { return candidates }
        // Skipped by a spring-forward gap: fixed-time jobs run at the first minute after it, which
        // is the transition itself.
        guard isFixedTime else { return [] }
        let probe = wall.addingTimeInterval(TimeInterval(-before) - 86_400)
        return timeZone.nextDaylightSavingTimeTransition(after: probe).map { [$0] } ?? []
    }
}
