import CSPro
import Foundation

/// The two generated dictionaries a source can hold: the two-level household ``SyntheticSurvey``
/// (every shape a breakout must handle) and the one-level ``SyntheticCensus`` (a housing record of
/// 13 items and about 5 person records of 20 items, the shape CSWeb's breakout was measured on).
package enum SyntheticShape: String, Sendable, CaseIterable, Codable {
    case survey, census

    package func dictionary(name: String? = nil) -> CSProDictionary {
        if self == .survey { return SyntheticSurvey.dictionary(name: name ?? SyntheticSurvey.name) }
        var d = SyntheticCensus.dictionary()
        if let name { d.name = name }
        return d
    }

    package var defaultName: String { self == .survey ? SyntheticSurvey.name : "CENSUS" }

    /// Case `n`, and with `edit` > 0 its `edit`-th re-synced version.
    package func makeCase(_ n: Int, edit: Int = 0) -> Case {
        switch self {
        case .survey: SyntheticSurvey.makeCase(n, edit: edit)
        case .census: SyntheticCensus.makeCase(n, edit: edit)
        }
    }

    /// The item partial saves and notes point at.
    package var ageField: String { self == .survey ? "P03_AGE" : "P04_AGE" }
}

/// A generated CSWeb source with what real ones hold: sync batches of uneven size (1–120 cases per
/// revision), cases from CSPro 7.4 clients (text lines instead of JSON), partial saves, notes (with
/// 4-byte UTF-8), cases re-synced later with changed values, deleted cases and corrupt blobs.
/// Deterministic: the same options always write the same source.
package enum SyntheticCSWebSource {
    package struct Options: Sendable, Codable {
        package var shape: SyntheticShape
        package var cases: Int
        /// Every `corruptEvery`-th case's blob is cut in half; nil writes none.
        package var corruptEvery: Int?
        package var dictionaryName: String?

        package init(shape: SyntheticShape = .survey, cases: Int, corruptEvery: Int? = 97, dictionaryName: String? = nil) {
            self.shape = shape
            self.cases = cases
            self.corruptEvery = corruptEvery
            self.dictionaryName = dictionaryName
        }

        package var name: String { dictionaryName ?? shape.defaultName }
    }

    package static let noteText = "Respondent asked to come back — rappel à 18h 📞"

    /// What was written, for tests and manifests to check a breakout against.
    package struct Contents: Sendable {
        package var options: Options
        package var cases: Int { options.cases }
        package var textForm: [Int] = []
        package var corrupt: [Int] = []
        package var partialSave: [Int] = []
        package var notes: [Int] = []
        package var resynced: [Int] = []
        package var deleted: [Int] = []
        package var lastRevision: Int64 = 0
        /// The revision each case has in the source now (index `n`; index 0 unused).
        package var revisions: [Int64] = [0]
        /// The version each case has now, when it is not the first (`makeCase(n, edit:)`).
        package var edits: [Int: Int] = [:]

        package var shape: SyntheticShape { options.shape }
        package var dictionary: CSProDictionary { options.shape.dictionary(name: options.name) }

        /// Whether the generator writes case `n` with a corrupt blob.
        package func writtenCorrupt(_ n: Int) -> Bool { options.corruptEvery.map { n % $0 == 0 } ?? false }
        package func revision(_ n: Int) -> Int64 { revisions[n] }

        /// The version of case `n` the source holds now, as its blob says it: a CSPro 7.4 client's
        /// text lines write a special value that a value set maps to a code as that code (REFUSED → 999).
        package func current(_ n: Int) -> Case {
            let c = shape.makeCase(n, edit: edits[n] ?? 0)
            return isTextForm(n) ? SyntheticCSWebSource.asText(c, shape: shape) : c
        }

        package func label(_ c: Case) -> String { "Household \(c.key)" }

        package func partialSaveValue(_ n: Int) -> Case.PartialSave? {
            n % 53 == 0
                ? Case.PartialSave(
                    mode: "add", field: shape.ageField, levelKey: "1", recordOccurrence: 1, itemOccurrence: 1, subitemOccurrence: 0) : nil
        }

        package func note(_ n: Int) -> Case.Note {
            Case.Note(
                content: SyntheticCSWebSource.noteText, field: shape.ageField, levelKey: "1", recordOccurrence: 1, itemOccurrence: 1,
                subitemOccurrence: 0, operatorId: "enumerator\(n % 7)", modifiedTime: "2026-11-0\(n % 9 + 1) 10:00:00")
        }
    }

    package static func isTextForm(_ n: Int) -> Bool { n % 41 == 0 }

    /// A case as it reads back from its text lines.
    package static func asText(_ c: Case, shape: SyntheticShape = .survey) -> Case {
        let layout = shape == .survey ? SyntheticSurvey.layout : SyntheticCensus.layout
        var back = TextCaseCodec.decode(TextCaseCodec.encode(c, layout: layout), layout: layout).cases[0]
        back.id = c.id
        return back
    }

    /// Cases per sync batch (one revision each): uneven, as tablets sync whatever they hold.
    static func batchSize(_ revision: Int64) -> Int { 1 + Int(revision &* 7_919 % 120) }

    /// Writes `cases` cases of ``SyntheticSurvey`` into a CSWeb database.
    package static func write(_ writer: CSWebDatabaseWriter, cases: Int, dictionaryName: String = SyntheticSurvey.name) throws -> Contents {
        try write(writer, Options(shape: .survey, cases: cases, dictionaryName: dictionaryName))
    }

    /// Writes a generated source; `progress` is told the number of cases written so far.
    package static func write(_ writer: CSWebDatabaseWriter, _ options: Options, progress: ((Int) -> Void)? = nil) throws -> Contents {
        let shape = options.shape
        let dictionary = options.shape.dictionary(name: options.name)
        let layout = CaseLayout(dictionary)
        try writer.createTables(for: dictionary)
        var contents = Contents(options: options)
        contents.revisions = Array(repeating: 0, count: options.cases + 1)
        let name = dictionary.name
        let cases = options.cases
        // One transaction per 5,000 cases: a large source is not one huge transaction.
        var n = 1
        var revision: Int64 = 1
        var inBatch = 0
        while n <= cases {
            try writer.connection.transaction {
                let end = min(cases, n + 4_999)
                var batch: [CSWebDatabaseWriter.NewCase] = []
                var noted: [(Int, String)] = []
                while n <= end {
                    let c = shape.makeCase(n)
                    var blob = try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n))
                    if isTextForm(n) { contents.textForm.append(n) }
                    if contents.writtenCorrupt(n) {
                        blob = Array(blob.prefix(blob.count / 2))
                        contents.corrupt.append(n)
                    }
                    if n % 53 == 0 { contents.partialSave.append(n) }
                    batch.append(
                        .init(
                            guid: c.id!, key: c.key, label: contents.label(c), blob: blob, revision: revision,
                            partialSave: contents.partialSaveValue(n)))
                    if n % 31 == 0 {
                        contents.notes.append(n)
                        noted.append((n, c.id!))
                    }
                    contents.revisions[n] = revision
                    contents.lastRevision = revision
                    inBatch += 1
                    if inBatch == batchSize(revision) {
                        revision += 1
                        inBatch = 0
                    }
                    n += 1
                }
                // Every case of the first sync is new (each has its own guid); notes after their cases.
                try writer.insertNew(dictionary: name, batch)
                for (noted, guid) in noted { try writer.addNote(dictionary: name, guid: guid, contents.note(noted)) }
            }
            progress?(n - 1)
        }
        // A later sync: some cases come back edited, some are deleted on the tablet.
        try writer.connection.transaction {
            var revision = contents.lastRevision + 1
            for n in stride(from: 19, through: cases, by: 19) where !contents.writtenCorrupt(n) {
                let c = shape.makeCase(n, edit: 1)
                try writer.put(
                    dictionary: name, guid: c.id!, key: c.key, label: contents.label(c),
                    blob: try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n)), revision: revision,
                    partialSave: contents.partialSaveValue(n))
                contents.resynced.append(n)
                contents.edits[n] = 1
                contents.revisions[n] = revision
            }
            revision += 1
            for n in stride(from: 43, through: cases, by: 43) where !contents.writtenCorrupt(n) {
                let c = contents.current(n)
                try writer.put(
                    dictionary: name, guid: c.id!, key: c.key, label: contents.label(c),
                    blob: try CSWebDatabaseWriter.blob(
                        shape.makeCase(n, edit: contents.edits[n] ?? 0), layout: layout, textForm: isTextForm(n)),
                    revision: revision, deleted: true, partialSave: contents.partialSaveValue(n))
                contents.deleted.append(n)
                contents.revisions[n] = revision
            }
            contents.lastRevision = revision
        }
        return contents
    }

    /// A new sync batch: `cases` come back with their next version (one revision for the batch).
    package static func resync(_ writer: CSWebDatabaseWriter, _ contents: inout Contents, cases: [Int]) throws {
        let layout = CaseLayout(contents.dictionary)
        let revision = contents.lastRevision + 1
        try writer.connection.transaction {
            for n in cases {
                let edit = (contents.edits[n] ?? 0) + 1
                let c = contents.shape.makeCase(n, edit: edit)
                let deleted = contents.deleted.contains(n)
                try writer.put(
                    dictionary: contents.options.name, guid: c.id!, key: c.key, label: contents.label(c),
                    blob: try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n)), revision: revision,
                    deleted: deleted, partialSave: contents.partialSaveValue(n))
                contents.edits[n] = edit
                contents.revisions[n] = revision
                contents.corrupt.removeAll { $0 == n }
            }
        }
        contents.lastRevision = revision
    }

    /// A new sync batch in which case `n` comes back with a corrupt blob (its rows in a destination
    /// must stay as they were). The contents do not change: the source's newest version cannot be read.
    package static func corruptResync(_ writer: CSWebDatabaseWriter, _ contents: inout Contents, case n: Int) throws {
        let layout = CaseLayout(contents.dictionary)
        let c = contents.shape.makeCase(n, edit: (contents.edits[n] ?? 0) + 1)
        let blob = try CSWebDatabaseWriter.blob(c, layout: layout)
        contents.lastRevision += 1
        try writer.put(
            dictionary: contents.options.name, guid: c.id!, key: c.key, label: contents.label(c),
            blob: Array(blob.prefix(blob.count / 2)), revision: contents.lastRevision)
    }
}
