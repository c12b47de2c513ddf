import Foundation
import SQL

// A first load in the source's stored order.
//
// CSWeb's tables in MySQL/MariaDB are InnoDB tables, stored in the order of their primary key,
// `guid`: random with respect to (revision, id). Reading a large backlog in (revision, id) order
// fetches one page per case; once the table is larger than the buffer pool, those are reads from
// disk (13.4 s for 200,000 cases with Debian's 128 MiB buffer pool, against 1.1 s in `guid` order:
// docs/performance.md). So a first load of at least `storedOrderFrom` cases reads everything up to
// a snapshot (the newest revision and largest id now in the table) in `guid` order, then moves the
// mark to the snapshot once every one of those chunks is in, and goes on in (revision, id) order
// with what arrived meanwhile.
//
// Exactly once still holds: a revision is never reused, so the cases at or before the snapshot do
// not change while they are read; a case re-synced meanwhile moves past the snapshot and is read
// after it, replacing what was loaded of it (the chunk's "loaded already" read finds it). These
// chunks write no bookkeeping row: a run stopped in the middle leaves the mark at the start, and the
// next run reads the snapshot again, replacing the cases it finds loaded.

extension BreakoutEngine {
    /// A first load of at least this many cases reads in the source's stored order (``RunOptions/storedOrderFrom``).
    package static let storedOrderFrom = 10_000

    /// The stored-order scan a run starting at `mark` with `pending` cases makes, if any.
    func storedOrderScan(mark: Mark, pending: Int, from threshold: Int?) throws -> (through: Mark, cursor: SQLValue?)? {
        guard mark == .start, let threshold, pending >= threshold, let snapshot = try feed.storedOrderSnapshot() else { return nil }
        return (snapshot, nil)
    }
}
