import DatabaseDriver
import Foundation

/// Worker threads, each with its own destination connection, taking chunks from a bounded queue:
/// at most `count` chunks wait, so memory stays within workers × chunk size.
///
/// `@unchecked`: every mutable field is read and written under `condition`.
final class WorkerPool: @unchecked Sendable {
    typealias Job = @Sendable (any DatabaseConnection) throws -> Void

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var active = 0
    private var stopping = false
    private var error: Error?
    private var threads: [Thread] = []
    private let capacity: Int

    init(count: Int, connect: @escaping @Sendable () throws -> any DatabaseConnection) throws {
        capacity = count
        // Connect up front so that a bad connection fails the run before any work is queued.
        let connections = try (0..<count).map { _ in ConnectionBox(try connect()) }
        for (i, box) in connections.enumerated() {
            let thread = Thread { [self] in self.work(box) }
            thread.name = "breakout-worker-\(i + 1)"
            threads.append(thread)
            thread.start()
        }
    }

    var firstError: Error? {
        condition.lock(); defer { condition.unlock() }
        return error
    }

    /// Queues a job, waiting while the queue is full. Throws the first worker error instead of queueing after one.
    func submit(_ job: @escaping Job) throws {
        condition.lock(); defer { condition.unlock() }
        while queue.count >= capacity && error == nil { condition.wait() }
        if let error { throw error }
        queue.append(job)
        condition.broadcast()
    }

    /// Waits until every queued job has finished; throws the first worker error.
    func drain() throws {
        condition.lock(); defer { condition.unlock() }
        while (!queue.isEmpty || active > 0) && error == nil { condition.wait() }
        while active > 0 { condition.wait() }
        if let error { throw error }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func work(_ box: ConnectionBox) {
        defer { box.connection.close() }
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty || error != nil {
                queue.removeAll()
                condition.broadcast()
                condition.unlock()
                if stopping { return } else { continue }
            }
            let job = queue.removeFirst()
            active += 1
            condition.broadcast()
            condition.unlock()
            var failure: Error?
            do { try job(box.connection) } catch { failure = error }
            condition.lock()
            active -= 1
            if let failure, error == nil { error = failure }
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// A connection handed to exactly one worker thread (connections are not `Sendable`; this one
/// crosses to its thread once and stays there, hence `@unchecked`).
final class ConnectionBox: @unchecked Sendable {
    let connection: any DatabaseConnection
    init(_ connection: any DatabaseConnection) { self.connection = connection }
}
