import Breakout
import DatabaseDriver
import Drivers
import Foundation
import State

/// How far each job's destination is behind the source: the cases a run would load now.
package struct LagProbe: Sendable {
    let executor: BreakoutExecutor

    package init(executor: BreakoutExecutor) {
        self.executor = executor
    }

    package struct Lag: Sendable {
        package var organization: String
        package var connection: String
        package var dictionary: String
        /// nil when the source or the destination could not be read (`error` says why).
        package var pending: Int?
        package var error: String?
    }

    /// One entry per (organization, connection, dictionary) that an active breakout job loads. Reads only.
    package func lags() -> [Lag] {
        // The lag is a metric: without a store, no lag lines, and /healthz and status report the store itself.
        guard let store = try? StateStore(connection: Databases.connect(executor.stateConfig)) else { return [] }
        defer { store.connection.close() }
        // As above: a store that cannot be read gives no lag lines; status reports it.
        guard let jobs = try? store.snapshot().jobs.filter({ $0.isActive && $0.kind == .breakout }) else { return [] }
        // A source that cannot be opened is reported per job below (lag.error).
        let sources = try? SourceOpener(resolver: executor.resolver)
        var seen = Set<String>()
        var out: [Lag] = []
        for job in jobs {
            // A job that does not resolve has no destination to measure; its runs report why.
            guard let t = try? executor.target(job) else { continue }
            for dictionary in t.dictionaries where seen.insert("\(t.organization.name)\u{0}\(t.connectionName)\u{0}\(dictionary)").inserted
            {
                var lag = Lag(organization: t.organization.name, connection: t.connectionName, dictionary: dictionary)
                do {
                    guard let sources else { throw StateError("the source in breakout.yaml cannot be opened") }
                    let feed = try sources.feed(for: dictionary)
                    let engine = try BreakoutEngine(
                        feed: feed, dialect: t.engine.dialect, options: t.schemaOptions,
                        connect: { [destination = t.destination] in try Databases.connect(destination) })
                    let reader = try Databases.connectForReading(t.destination)
                    defer { reader?.close() }
                    lag.pending = try engine.pendingCases(connection: reader)
                } catch {
                    lag.error = "\(error)"
                }
                out.append(lag)
            }
        }
        return out
    }
}
