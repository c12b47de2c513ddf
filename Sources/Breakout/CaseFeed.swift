import CSPro
import CaseSources
import DatabaseDriver
import Foundation
import SQL

/// Where a breakout reads one dictionary's cases from, in (revision, id) order.
package protocol CaseFeed: AnyObject {
    var dictionary: CSProDictionary { get }
    /// Identifies the source's content for snapshot sources (files): when it changes, the
    /// destination is reloaded from the start. Incremental sources (CSWeb) return a constant.
    var fingerprint: String { get }
    /// A short description for logs and plans (`CSWeb table CENSUS`, `file data.csdb`).
    var description: String { get }
    /// Cases after `mark`, at most `limit`, in order.
    func cases(after mark: Mark, limit: Int) throws -> [SourceCase]
    /// How many cases lie after `mark`.
    func pendingCount(after mark: Mark) throws -> Int
    /// For a first load: the position of the newest case now in the source, when the source is
    /// faster to read in its stored order than in (revision, id) order (CSWeb in MySQL/MariaDB,
    /// stored by `guid`); nil otherwise. Everything up to it is then read with
    /// ``storedOrderCases(through:after:limit:)``.
    func storedOrderSnapshot() throws -> Mark?
    /// Cases at or before `snapshot`, in the source's stored order after `cursor` (nil: from the
    /// start), at most `limit`, and the cursor after the last of them.
    func storedOrderCases(through snapshot: Mark, after cursor: SQLValue?, limit: Int) throws -> (cases: [SourceCase], cursor: SQLValue?)
}

extension CaseFeed {
    package func storedOrderSnapshot() throws -> Mark? { nil }
    package func storedOrderCases(
        through snapshot: Mark, after cursor: SQLValue?, limit: Int
    ) throws -> (
        cases: [SourceCase], cursor: SQLValue?
    ) { ([], nil) }
}

/// One dictionary of CSWeb's database: `<DICT>` rows (compressed blobs) and `<DICT>_notes`.
package final class CSWebFeed: CaseFeed {
    let source: CSWebSource
    let name: String
    let withNotes: Bool
    package let dictionary: CSProDictionary

    package init(source: CSWebSource, dictionary name: String) throws {
        self.source = source
        self.name = name
        dictionary = try source.dictionary(named: name)
        withNotes = try source.hasNotes(dictionary: name)
    }

    package var fingerprint: String { "csweb" }
    package var description: String { "CSWeb table \(name)" }

    package func cases(after mark: Mark, limit: Int) throws -> [SourceCase] {
        try sourceCases(try source.storedCases(dictionary: name, after: mark.revision, id: mark.id, limit: limit))
    }

    package func storedOrderSnapshot() throws -> Mark? {
        guard source.scansInStoredOrder, let newest = try source.snapshot(dictionary: name) else { return nil }
        return Mark(revision: newest.revision, id: newest.id)
    }

    package func storedOrderCases(
        through snapshot: Mark, after cursor: SQLValue?, limit: Int
    ) throws -> (
        cases: [SourceCase], cursor: SQLValue?
    ) {
        let stored = try source.scanCases(dictionary: name, through: snapshot.revision, afterGUID: cursor, limit: limit)
        return (try sourceCases(stored), stored.last?.guidValue)
    }

    func sourceCases(_ stored: [CSWebSource.StoredCase]) throws -> [SourceCase] {
        let notes = withNotes && !stored.isEmpty ? try source.notes(dictionary: name, cases: stored) : [:]
        return stored.map { s in
            SourceCase(
                number: s.rowID, revision: s.revision, guid: s.guid, key: s.key, label: s.label, deleted: s.deleted,
                verified: s.verified, partialSave: s.partialSave, notes: notes[s.guid] ?? [], payload: .blob(s.questionnaire))
        }
    }

    package func pendingCount(after mark: Mark) throws -> Int {
        try source.countCases(dictionary: name, after: mark.revision, id: mark.id)
    }
}

/// A file source (`.csdb` or `.dat` with its dictionary) read as a snapshot: every case has
/// revision 1 and its position in the file as row number; a changed file reloads from the start.
package final class SnapshotFeed: CaseFeed {
    package let dictionary: CSProDictionary
    package let fingerprint: String
    package let description: String
    let all: [SourceCase]

    package init(dictionary: CSProDictionary, cases: [Case], fingerprint: String, description: String) {
        self.dictionary = dictionary
        self.fingerprint = fingerprint
        self.description = description
        all = cases.enumerated().map { i, c in
            SourceCase(
                number: Int64(i + 1), revision: 1, guid: c.id ?? String(format: "case-%08d", i + 1), key: c.key, label: c.label,
                deleted: c.deleted, verified: c.verified, partialSave: c.partialSave, payload: .decoded(c))
        }
    }

    /// Every `.csdb` file matching, in name order, as one feed (their dictionaries must be the same).
    package static func csdb(paths: [String]) throws -> SnapshotFeed {
        guard let first = paths.first else { throw BreakoutError("no .csdb file matches the source path") }
        var dictionary: CSProDictionary?
        var cases: [Case] = []
        var hasher = FNV64()
        for path in paths {
            let file = try CSDBFile(path: path)
            if let d = dictionary, d != file.dictionary {
                throw BreakoutError(
                    "\(path) has a different dictionary (\(file.dictionary.name)) than \(first)",
                    hint: "one source path must match files of one dictionary")
            }
            dictionary = file.dictionary
            cases += try file.cases()
            hasher.combine(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        return SnapshotFeed(
            dictionary: dictionary!, cases: cases, fingerprint: hasher.hex,
            description: paths.count == 1 ? "file \(first)" : "\(paths.count) .csdb files")
    }

    /// A fixed-width `.dat` file with its dictionary; lines CSPro would reject stop the run.
    package static func dat(path: String, dictionary: CSProDictionary) throws -> SnapshotFeed {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let (cases, warnings) = TextCaseCodec.decode(TextCaseCodec.lines(of: data), layout: CaseLayout(dictionary))
        if let w = warnings.first {
            throw BreakoutError("\(path): \(w)", hint: "fix the data file or its dictionary; \(warnings.count) line(s) have problems")
        }
        var hasher = FNV64()
        hasher.combine(data)
        return SnapshotFeed(dictionary: dictionary, cases: cases, fingerprint: hasher.hex, description: "file \(path)")
    }

    package func cases(after mark: Mark, limit: Int) throws -> [SourceCase] {
        Array(all.lazy.filter { $0.position > mark }.prefix(limit))
    }

    package func pendingCount(after mark: Mark) throws -> Int {
        all.lazy.filter { $0.position > mark }.count
    }
}

/// FNV-1a, 64 bits: change detection of dictionaries and files (not a security digest).
struct FNV64 {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* 0x100_0000_01b3
        }
    }

    var hex: String { String(value, radix: 16).leftPad(16) }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
