/// A wait that doubles after each failure, up to a cap, and starts over after a success: the
/// runner's one way of retrying a store or a tick that failed.
package struct Backoff: Sendable {
    package let initial: Double
    package let cap: Double
    /// The wait `next()` gives now.
    package private(set) var current: Double

    package init(initial: Double, cap: Double) {
        self.initial = initial
        self.cap = max(initial, cap)
        current = initial
    }

    /// The wait before the next attempt; the one after it is twice as long, up to the cap.
    package mutating func next() -> Double {
        defer { current = min(current * 2, cap) }
        return current
    }

    /// After a success: the next failure waits `initial` again.
    package mutating func reset() { current = initial }
}
