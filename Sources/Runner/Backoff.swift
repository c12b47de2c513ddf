/// A wait that doubles after each failure, up to a cap, and starts over after a success: the
/// runner's one way of retrying a store or a tick that failed.
public struct Backoff: Sendable {
    public let initial: Double
    public let cap: Double
    /// The wait `next()` gives now.
    public private(set) var current: Double

    public init(initial: Double, cap: Double) {
        self.initial = initial
        self.cap = max(initial, cap)
        current = initial
    }

    /// The wait before the next attempt; the one after it is twice as long, up to the cap.
    public mutating func next() -> Double {
        defer { current = min(current * 2, cap) }
        return current
    }

    /// After a success: the next failure waits `initial` again.
    public mutating func reset() { current = initial }
}
