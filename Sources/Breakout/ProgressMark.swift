import CSPro
import DatabaseDriver
import Foundation
import SQL

// The progress mark: committed chunks folded into breakout_state, and the mark as a run would
// start from it.

extension BreakoutEngine {
    /// Advances the progress mark over contiguous committed chunks, in one transaction, and returns
    /// it. At the start of a run, chunks beyond a gap (left by a crash with several workers) are
    /// discarded: their cases come after the mark and are loaded again.
    @discardableResult
    func fold(_ connection: any DatabaseConnection, discardStray: Bool) throws -> Mark {
        try connection.transaction {
            guard let state = try readState(connection) else { return .start }
            let (mark, folded, stray) = try chunkChain(connection, from: state.mark)
            let discard = discardStray ? Array(stray.keys) : []
            for key in folded + discard {
                try connection.execute(
                    .delete(
                        Delete(
                            from: schema.chunks.name,
                            where: .and([
                                .equals("after_revision", .integer(key.revision)), .equals("after_id", .integer(key.id)),
                            ]))))
            }
            if mark != state.mark { try connection.execute(markUpdate(mark, now: Date())) }
            return mark
        }
    }

    /// The statement that sets the progress mark in `breakout_state`.
    func markUpdate(_ mark: Mark, now: Date) -> SQLStatement {
        .update(
            Update(
                schema.state.name,
                set: [
                    Assignment("mark_revision", .integer(mark.revision)), Assignment("mark_id", .integer(mark.id)),
                    Assignment("updated_at", .timestamp(now)),
                ], where: .equals("dictionary", .text(feed.dictionary.name))))
    }

    /// The progress mark as a run would start from it (committed chunks folded in), read only.
    func readMark(_ connection: (any DatabaseConnection)?, state: StoredState?) throws -> Mark {
        guard let connection, let state else { return state?.mark ?? .start }
        return try chunkChain(connection, from: state.mark).mark
    }

    /// Follows committed chunks from `mark`: each `breakout_chunks` row covers the cases after its
    /// `after` mark through its `through` mark. Returns the mark at the end of the contiguous
    /// chain, the `after` marks it went through, and the chunks beyond a gap, by `after` mark.
    func chunkChain(_ connection: any DatabaseConnection, from start: Mark) throws -> (mark: Mark, folded: [Mark], stray: [Mark: Mark]) {
        var byAfter: [Mark: Mark] = [:]
        for row in try connection.query(.select(Select(from: schema.chunks.name))) {
            byAfter[Mark(revision: row["after_revision"]?.int64 ?? 0, id: row["after_id"]?.int64 ?? 0)] =
                Mark(revision: row["through_revision"]?.int64 ?? 0, id: row["through_id"]?.int64 ?? 0)
        }
        var mark = start
        var folded: [Mark] = []
        while let next = byAfter[mark] {
            folded.append(mark)
            byAfter[mark] = nil
            mark = next
        }
        return (mark, folded, byAfter)
    }

    /// How many source cases the destination has not loaded yet (its lag), reading only.
    package func pendingCases(connection: (any DatabaseConnection)?) throws -> Int {
        let state = try connection.flatMap { try readState($0) }
        var mark = try readMark(connection, state: state)
        if (state?.fingerprint ?? "") != feed.fingerprint { mark = .start }
        return try feed.pendingCount(after: mark)
    }
}
