import CSPro
import Foundation

/// A generated CSWeb source with what real ones hold: sync batches (50 cases per revision), cases
/// from CSPro 7.4 clients (text lines instead of JSON), partial saves, notes, cases re-synced
/// later with changed values, deleted cases and corrupt blobs. Deterministic.
public enum SyntheticCSWebSource {
    /// What was written, for tests to check a breakout against.
    public struct Contents: Sendable {
        public var cases = 0
        public var textForm: [Int] = []
        public var corrupt: [Int] = []
        public var partialSave: [Int] = []
        public var notes: [Int] = []
        public var resynced: [Int] = []
        public var deleted: [Int] = []
        public var lastRevision: Int64 = 0

        /// The version of case `n` the source holds now, as its blob says it: a CSPro 7.4 client's
        /// text lines write a special value that a value set maps to a code as that code (REFUSED → 999).
        public func current(_ n: Int) -> Case {
            let c = SyntheticSurvey.makeCase(n, edit: resynced.contains(n) ? 1 : 0)
            return isTextForm(n) ? SyntheticCSWebSource.asText(c) : c
        }
    }

    public static func isTextForm(_ n: Int) -> Bool { n % 41 == 0 }

    /// A case as it reads back from its text lines.
    public static func asText(_ c: Case) -> Case {
        let layout = CaseLayout(SyntheticSurvey.dictionary())
        var back = TextCaseCodec.decode(TextCaseCodec.encode(c, layout: layout), layout: layout).cases[0]
        back.id = c.id
        return back
    }
    public static func isCorrupt(_ n: Int) -> Bool { n % 97 == 0 }

    /// Writes `cases` cases of ``SyntheticSurvey`` into a CSWeb database.
    public static func write(_ writer: CSWebDatabaseWriter, cases: Int, dictionaryName: String = SyntheticSurvey.name) throws -> Contents {
        let dictionary = SyntheticSurvey.dictionary(name: dictionaryName)
        let layout = CaseLayout(dictionary)
        try writer.createTables(for: dictionary)
        var contents = Contents()
        contents.cases = cases
        let name = dictionary.name
        try writer.connection.transaction {
            for n in 1...max(cases, 1) where cases > 0 {
                let c = SyntheticSurvey.makeCase(n)
                var blob = try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n))
                if isTextForm(n) { contents.textForm.append(n) }
                if isCorrupt(n) {
                    blob = Array(blob.prefix(blob.count / 2))
                    contents.corrupt.append(n)
                }
                var partial: Case.PartialSave?
                if n % 53 == 0 {
                    partial = Case.PartialSave(mode: "add", field: "P03_AGE", levelKey: "1", recordOccurrence: 1, itemOccurrence: 1, subitemOccurrence: 0)
                    contents.partialSave.append(n)
                }
                let revision = Int64(1 + (n - 1) / 50)
                try writer.put(dictionary: name, guid: c.id!, key: c.key, label: "Household \(c.key)", blob: blob, revision: revision, partialSave: partial)
                if n % 31 == 0 {
                    try writer.addNote(dictionary: name, guid: c.id!, Case.Note(content: "Respondent asked to come back — rappel à 18h", field: "P03_AGE",
                                                                             levelKey: "1", recordOccurrence: 1, itemOccurrence: 1, subitemOccurrence: 0,
                                                                             operatorId: "enumerator\(n % 7)", modifiedTime: "2026-11-0\(n % 9 + 1) 10:00:00"))
                    contents.notes.append(n)
                }
                contents.lastRevision = revision
            }
            // A later sync: some cases come back edited, some are deleted on the tablet.
            var revision = contents.lastRevision + 1
            for n in stride(from: 19, through: cases, by: 19) where !isCorrupt(n) {
                let c = SyntheticSurvey.makeCase(n, edit: 1)
                try writer.put(dictionary: name, guid: c.id!, key: c.key, label: "Household \(c.key)",
                               blob: try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n)), revision: revision)
                contents.resynced.append(n)
            }
            revision += 1
            for n in stride(from: 43, through: cases, by: 43) where !isCorrupt(n) {
                let c = contents.current(n)
                try writer.put(dictionary: name, guid: c.id!, key: c.key, label: "Household \(c.key)",
                               blob: try CSWebDatabaseWriter.blob(c, layout: layout, textForm: isTextForm(n)), revision: revision, deleted: true)
                contents.deleted.append(n)
            }
            contents.lastRevision = revision
        }
        return contents
    }
}
