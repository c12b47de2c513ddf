import Foundation
import Runner
import Synchronization

// Nothing blocks the event loop: every handler's database work runs on a bounded pool of threads
// with a deadline, and the expensive figure — each destination's lag — is measured in the
// background and served from memory with its age.

/// Blocking work off the event loop: at most `threads` at once, at most `queue` waiting, each
/// answered within its deadline (the work itself may go on; its result is then dropped).
/// `@unchecked`: its members are thread-safe (a semaphore, queues, an atomic), but a
/// `DispatchSemaphore` is not marked `Sendable` on Linux.
package final class BlockingPool: @unchecked Sendable {
    let threads: Int
    let queue: Int
    private let slots: DispatchSemaphore
    private let waiting = Atomic<Int>(0)
    private let dispatch = DispatchQueue(label: "breakout.dashboard.blocking", attributes: .concurrent)
    /// Deadlines on their own queue: they fire even while every worker waits on a database.
    private let deadlines = DispatchQueue(label: "breakout.dashboard.deadlines")

    package init(threads: Int = 8, queue: Int = 64) {
        self.threads = threads
        self.queue = queue
        slots = DispatchSemaphore(value: threads)
    }

    package struct Busy: Error, CustomStringConvertible {
        package var description: String
    }

    /// Runs `body` on a pool thread; throws ``Busy`` when the queue is full or the deadline passes.
    package func run<T: Sendable>(deadline seconds: Double, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard waiting.add(1, ordering: .relaxed).newValue <= queue + threads else {
            waiting.subtract(1, ordering: .relaxed)
            throw Busy(description: "the dashboard is busy (\(queue + threads) requests waiting for the databases); try again")
        }
        let box = Once<Result<T, Error>>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            box.onResult { continuation.resume(with: $0) }
            deadlines.asyncAfter(deadline: .now() + seconds) {
                box.set(.failure(Busy(description: "the databases did not answer within \(Int(seconds)) s")))
            }
            dispatch.async { [self] in
                slots.wait()
                defer {
                    slots.signal()
                    waiting.subtract(1, ordering: .relaxed)
                }
                // A request whose deadline passed while it waited does not start its work.
                guard !box.isSet else { return }
                box.set(Result { try body() })
            }
        }
    }
}

/// A value set once, by whichever comes first; the continuation is resumed exactly once.
final class Once<T: Sendable>: Sendable {
    private let state = Mutex<(value: T?, callback: (@Sendable (T) -> Void)?)>((nil, nil))

    var isSet: Bool { state.withLock { $0.value != nil } }

    func onResult(_ callback: @escaping @Sendable (T) -> Void) {
        let ready = state.withLock { s -> T? in
            if let v = s.value { return v }
            s.callback = callback
            return nil
        }
        if let ready { callback(ready) }
    }

    func set(_ value: T) {
        let callback = state.withLock { s -> (@Sendable (T) -> Void)? in
            guard s.value == nil else { return nil }
            s.value = value
            defer { s.callback = nil }
            return s.callback
        }
        callback?(value)
    }
}

/// Each destination's lag, measured on a background thread every `interval` seconds and read
/// from memory by /metrics. A destination that never answers holds up only that thread: the
/// figures then grow old, and /metrics says how old.
package final class LagCache: Sendable {
    let interval: Double
    private let state = Mutex<(lags: [LagProbe.Lag], measuredAt: Date?)>(([], nil))

    package init(interval: Double = 60, probe: @escaping @Sendable () -> [LagProbe.Lag]) {
        self.interval = interval
        let thread = Thread { [self] in
            while true {
                let lags = probe()
                state.withLock { $0 = (lags, Date()) }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "breakout lag probe"
        thread.start()
    }

    /// The last measurement and its age in seconds (nil before the first one is done).
    package var current: (lags: [LagProbe.Lag], age: Double?) {
        state.withLock { s in (s.lags, s.measuredAt.map { Date().timeIntervalSince($0) }) }
    }
}
