import Foundation
import Testing

@testable import Dashboard

/// Issue 21, point 2: dashboard sessions expire, end on sign-out, and cannot be guessed or
/// pile up without bound. The clock is passed in, so expiry is tested without waiting.
@Suite struct DashboardSessionTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aSessionExpiresAfterItsLifetime() {
        let sessions = Sessions(lifetime: 3600)
        let id = sessions.start(now: Self.start)
        #expect(sessions.isValid(id, now: Self.start))
        #expect(sessions.isValid(id, now: Self.start.addingTimeInterval(3599)))
        #expect(!sessions.isValid(id, now: Self.start.addingTimeInterval(3600)))
        // Once expired it is gone: a clock set back does not revive it.
        #expect(!sessions.isValid(id, now: Self.start))
    }

    @Test func signingOutEndsOnlyThatSession() {
        let sessions = Sessions(lifetime: 3600)
        let mine = sessions.start(now: Self.start)
        let theirs = sessions.start(now: Self.start)
        sessions.end(mine)
        #expect(!sessions.isValid(mine, now: Self.start))
        #expect(sessions.isValid(theirs, now: Self.start))
        #expect(!sessions.isValid("", now: Self.start) && !sessions.isValid(theirs + "0", now: Self.start))
    }

    @Test func idsAreRandomAndLong() {
        let sessions = Sessions()
        let ids = (0..<200).map { _ in sessions.start(now: Self.start) }
        #expect(Set(ids).count == 200)
        #expect(ids.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
    }

    /// Signing in again and again cannot grow memory without bound: at the cap, expired sessions
    /// go first, then the oldest.
    @Test func theNumberOfSessionsIsBounded() {
        let sessions = Sessions(lifetime: 60)
        let first = sessions.start(now: Self.start)
        let live = (1..<sessions.maxSessions).map { sessions.start(now: Self.start.addingTimeInterval(Double($0) / 1000)) }
        #expect(sessions.isValid(first, now: Self.start.addingTimeInterval(30)))
        // One more: the oldest (first) makes room; the others stay.
        let newest = sessions.start(now: Self.start.addingTimeInterval(30))
        #expect(!sessions.isValid(first, now: Self.start.addingTimeInterval(30)))
        #expect(sessions.isValid(newest, now: Self.start.addingTimeInterval(30)))
        #expect(sessions.isValid(live[live.count - 1], now: Self.start.addingTimeInterval(30)))
        // Much later all have expired: a new sign-in clears them instead of evicting live ones.
        let later = sessions.start(now: Self.start.addingTimeInterval(3600))
        #expect(sessions.isValid(later, now: Self.start.addingTimeInterval(3600)))
        #expect(!sessions.isValid(newest, now: Self.start.addingTimeInterval(3600)))
    }
}
