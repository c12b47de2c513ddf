import Breakout
import DatabaseDriver
import Drivers
import Foundation
import SQL
import State
import Synchronization

/// How far each job's destination is behind the source: the cases a run would load now.
///
/// Each (organization, connection, dictionary) is measured on its own thread, with its own source
/// and destination connections, and waited for at most `timeout` seconds: a tenant database that
/// accepts connections and never answers costs that one line of figures ("did not answer within
/// 10 s"), not the others. A measurement still stuck at the next round is not started again, so a
/// hung destination holds one thread, whatever the number of rounds.
package final class LagProbe: Sendable {
    let executor: BreakoutExecutor
    let timeout: Double
    let parallel: Int
    /// Measurements that did not finish within their timeout and still wait on a database, with
    /// when they started.
    private let stuck = Mutex<[String: Date]>([:])

    package init(executor: BreakoutExecutor, timeout: Double = 10, parallel: Int = 4) {
        self.executor = executor
        self.timeout = timeout
        self.parallel = max(1, parallel)
    }

    package struct Lag: Sendable {
        package var organization: String
        package var connection: String
        package var dictionary: String
        /// nil when the source or the destination could not be read (`error` says why).
        package var pending: Int?
        package var error: String?
    }

    /// One lag to measure: where, and everything needed to do it on another thread.
    struct Measurement: Sendable {
        var organization: String
        var connection: String
        var dictionary: String
        var engine: DatabaseEngine
        var options: SchemaOptions
        var destination: ConnectionConfig

        var key: String { "\(organization)\u{0}\(connection)\u{0}\(dictionary)" }
        var lag: Lag { Lag(organization: organization, connection: connection, dictionary: dictionary) }
    }

    /// One entry per (organization, connection, dictionary) that an active breakout job loads. Reads only.
    package func lags() -> [Lag] {
        let measurements = self.measurements()
        // In batches of `parallel`: each batch waits at most `timeout`, whatever its members do.
        return stride(from: 0, to: measurements.count, by: parallel).flatMap { start in
            measure(Array(measurements[start..<min(start + parallel, measurements.count)]))
        }
    }

    /// What to measure: the active breakout jobs' destinations and dictionaries, each once.
    func measurements() -> [Measurement] {
        // The lag is a metric: without a store, no lag lines, and /healthz and status report the store itself.
        guard let store = try? StateStore(connection: Databases.connect(executor.stateConfig)) else { return [] }
        defer { store.connection.close() }
        // As above: a store that cannot be read gives no lag lines; status reports it.
        guard let jobs = try? store.snapshot().jobs.filter({ $0.isActive && $0.kind == .breakout }) else { return [] }
        var seen = Set<String>()
        var out: [Measurement] = []
        for job in jobs {
            // A job that does not resolve has no destination to measure; its runs report why.
            guard let t = try? executor.target(job) else { continue }
            for dictionary in t.dictionaries {
                let m = Measurement(
                    organization: t.organization.name, connection: t.connectionName, dictionary: dictionary,
                    engine: t.engine, options: t.schemaOptions, destination: t.destination)
                if seen.insert(m.key).inserted { out.append(m) }
            }
        }
        return out
    }

    /// Measures `batch` at once, each on its own thread, and waits at most `timeout` for them.
    func measure(_ batch: [Measurement]) -> [Lag] {
        let results = Results(count: batch.count)
        let group = DispatchGroup()
        let now = Date()
        var skipped: [Int: Date] = [:]
        for (i, m) in batch.enumerated() {
            // Still waiting on that database since an earlier round: not asked again.
            if let since = stuck.withLock({ $0[m.key] }) {
                skipped[i] = since
                continue
            }
            stuck.withLock { $0[m.key] = now }
            group.enter()
            let thread = Thread { [self] in
                let lag = measureOne(m)
                stuck.withLock { _ = $0.removeValue(forKey: m.key) }
                results.lags.withLock { $0[i] = lag }
                group.leave()
            }
            thread.name = "breakout lag \(m.connection)"
            thread.start()
        }
        _ = group.wait(timeout: .now() + timeout)
        // Taken once: a measurement that finishes after this is dropped (the next round has it).
        let done = results.lags.withLock { r -> [Lag?] in
            let copy = r
            r = Array(repeating: Lag?.none, count: r.count)
            return copy
        }
        return batch.enumerated().map { i, m in
            if let lag = done[i] { return lag }
            var lag = m.lag
            if let since = skipped[i] {
                lag.error =
                    "no answer from the destination or the source since \(Int(Date().timeIntervalSince(since))) s (not asked again until it answers)"
            } else {
                lag.error = "the destination or the source did not answer within \(Self.seconds(timeout)) s"
            }
            return lag
        }
    }

    /// A batch's results, shared with its threads (a `Mutex` cannot be captured by a closure).
    final class Results: Sendable {
        let lags: Mutex<[Lag?]>
        init(count: Int) { lags = Mutex(Array(repeating: nil, count: count)) }
    }

    func measureOne(_ m: Measurement) -> Lag {
        var lag = m.lag
        do {
            // Its own source: connections are not shared between threads.
            let feed = try SourceOpener(resolver: executor.resolver).feed(for: m.dictionary)
            let engine = try BreakoutEngine(
                feed: feed, dialect: m.engine.dialect, options: m.options,
                connect: { [destination = m.destination] in try Databases.connect(destination) })
            let reader = try Databases.connectForReading(m.destination)
            defer { reader?.close() }
            lag.pending = try engine.pendingCases(connection: reader)
        } catch {
            lag.error = "\(error)"
        }
        return lag
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(format: "%.1f", s)
    }
}
