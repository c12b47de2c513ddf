import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import Testing
import Verification

@testable import Breakout
@testable import CSPro

/// Drift (issue 19): the row ledger matches the tables through every kind of run, and what a user
/// changes by hand in a destination — rows deleted or added, a column or a table dropped — is
/// found by `drift(on:)` and put right by a run with `repair`, on every destination engine.
@Suite struct DriftTests {
    static let destinations: [Destination] = [.sqlite] + Destination.servers

    func engine(_ source: GeneratedSource, _ config: ConnectionConfig, namespace: String) throws -> BreakoutEngine {
        try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(), namespace: namespace,
            connect: { try Databases.connect(config) })
    }

    func drift(_ e: BreakoutEngine, _ config: ConnectionConfig) throws -> [Drift] {
        let c = try Databases.connect(config)
        defer { c.close() }
        return try e.drift(on: c)
    }

    func dump(_ e: BreakoutEngine, _ config: ConnectionConfig) throws -> [String: [String]] {
        let c = try Databases.connect(config)
        defer { c.close() }
        return try logicalDump(c, e.schema)
    }

    func table(_ e: BreakoutEngine, _ suffix: String) throws -> TableDefinition {
        try #require(e.schema.dataTables.first { $0.name.name == suffix || $0.name.name.hasSuffix("_" + suffix) })
    }

    /// The rows each analyst view returns.
    func viewCounts(_ e: BreakoutEngine, _ config: ConnectionConfig) throws -> [Int64] {
        let c = try Databases.connect(config)
        defer { c.close() }
        return try e.schema.views.map { view in
            try c.query(.select(.count(from: view.name))).first?[0].int64 ?? -1
        }
    }

    func execute(_ config: ConnectionConfig, _ statement: SQLStatement) throws {
        let c = try Databases.connect(config)
        defer { c.close() }
        _ = try c.execute(statement)
    }

    /// The ledger agrees with the tables after a first load, an interrupted run, re-synced cases
    /// whose record counts change, and a run that finds nothing.
    @Test(arguments: destinations)
    func theLedgerFollowsEveryRun(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 150)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        _ = try e.run(RunOptions(threads: 2, chunkSize: 20, maxChunks: 3))
        #expect(try drift(e, config) == [])
        _ = try e.run(RunOptions(threads: 2, chunkSize: 20))
        #expect(try drift(e, config) == [])

        // Re-synced cases with more (edit: 2) records than before, and one deleted.
        let writer = try source.writer()
        let layout = CaseLayout(SyntheticSurvey.dictionary())
        let revision = source.contents.lastRevision + 1
        for n in [3, 8, 40, 41, 77] {
            let edited = SyntheticSurvey.makeCase(n, edit: 2)
            try writer.put(
                dictionary: "CENSUS", guid: edited.id!, key: edited.key, label: "Household \(edited.key)",
                blob: try CSWebDatabaseWriter.blob(edited, layout: layout), revision: revision, deleted: n == 41)
        }
        writer.connection.close()
        let again = try e.run(RunOptions(threads: 2, chunkSize: 20))
        #expect(again.updatedCases == 5)
        #expect(try drift(e, config) == [])
        _ = try e.run(RunOptions())
        #expect(try drift(e, config) == [])
        // One entry per table once the run is over.
        let c = try Databases.connect(config)
        defer { c.close() }
        let entries = try c.query(.select(.count(from: e.schema.counts.name))).first?[0].int64 ?? 0
        #expect(entries <= Int64(e.schema.dataTables.count))
    }

    /// Rows deleted and added by hand: drift with the counts; `repair` reloads every case in place
    /// and the tables are those of a clean run again, ids included.
    @Test(arguments: destinations)
    func repairRestoresRowsChangedByHand(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 120)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        _ = try e.run(RunOptions(threads: 2, chunkSize: 25))
        let clean = try dump(e, config)
        #expect(differences(clean, source.contents.expected) == [])

        let person = try table(e, "person"), births = try table(e, "births")
        let personCut = SQLPredicate.compare(person.primaryKey[0], .less, .integer(20 << 20))
        let birthsCut = SQLPredicate.compare(births.primaryKey[0], .less, .integer(40 << 20))
        // The cases that lose rows, from the rows themselves (ids are number × 2^20 + n).
        var touched = Set<Int64>()
        do {
            let c = try Databases.connect(config)
            defer { c.close() }
            for (t, cut) in [(person, personCut), (births, birthsCut)] {
                for row in try c.query(.select(Select(from: t.name, columns: [t.primaryKey[0]], where: cut))) {
                    touched.insert(row[0].int64! >> 20)
                }
            }
        }
        #expect(touched.count > 10)
        try execute(config, .delete(Delete(from: person.name, where: personCut)))
        try execute(config, .delete(Delete(from: births.name, where: birthsCut)))
        // A user's own row in the cases table (no level rows) is extra.
        let cases = e.schema.cases
        try execute(
            config,
            .insert(
                Insert(
                    into: cases.name, columns: ["id", "key", "last_modified_revision", "deleted", "verified"],
                    rows: [[.text("hand-made"), .text("000"), .integer(1), .integer(0), .integer(0)]])))
        let found = try drift(e, config)
        #expect(found.allSatisfy { $0.kind == .rowCount }, "\(found)")
        #expect(found.contains { $0.table.hasSuffix("person") && $0.description.contains("deleted outside breakout") }, "\(found)")
        #expect(found.contains { $0.table.hasSuffix("births") }, "\(found)")
        #expect(found.contains { $0.table.hasSuffix("cases") && $0.description.contains("1 added") }, "\(found)")
        // An ordinary run does not see it: nothing is pending.
        #expect(try e.run(RunOptions()).cases == 0)
        #expect(try drift(e, config).count == found.count)

        var options = RunOptions(threads: 2, chunkSize: 25)
        options.repair = true
        let repaired = try e.run(options)
        // Only the cases that lost rows are reloaded; every loaded case is checked.
        let loaded = 120 - source.contents.corrupt.count
        #expect(repaired.schema.hasPrefix("repaired in place: \(touched.count) of \(loaded) cases reloaded"), "\(repaired.schema)")
        #expect(repaired.updatedCases == touched.count)
        var expected = clean
        expected["cases"] = clean["cases"]  // the hand-made case stays: it is not in the source
        let after = try dump(e, config)
        #expect(differences(after.filter { $0.key != "cases" }, clean.filter { $0.key != "cases" }) == [])
        #expect(after["cases"]!.count == clean["cases"]!.count + 1)
        // The hand-made row is still there, and now counted: the ledger restarted from the tables.
        #expect(try drift(e, config) == [])
        options.repair = true
        #expect(try e.run(options).schema == "no drift found; nothing to repair")
    }

    /// A column dropped and a table dropped by hand: drift that needs a rebuild; `repair` rebuilds
    /// aside and swaps in, though a live table is missing, and the tables are a clean run's.
    @Test(arguments: destinations)
    func repairRebuildsMissingColumnsAndTables(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 80)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer {
            dropNamespace(e.schema, config)
            if let shadow = try? e.shadowEngine() { dropNamespace(shadow.schema, config) }
        }
        _ = try e.run(RunOptions(chunkSize: 25))
        let clean = try dump(e, config)
        let cleanViews = try viewCounts(e, config)
        #expect(cleanViews.count == e.schema.records.count && cleanViews.allSatisfy { $0 > 0 })

        let person = try table(e, "person"), deaths = try table(e, "deaths")
        let column = try #require(person.columns.last).name
        let d = e.schema.dialect
        // The views that read them go first (PostgreSQL and SQLite refuse otherwise).
        for name in ["person_view", "deaths_view"] {
            try execute(config, .dropView(try #require(e.schema.views.first { $0.name.name.hasSuffix(name) }).name))
        }
        try execute(config, .raw("ALTER TABLE \(try d.quote(person.name)) DROP COLUMN \(try d.quote(column))", []))
        try execute(config, .dropTable(deaths.name, ifExists: false))
        let found = try drift(e, config)
        #expect(found.contains { $0.kind == .missingColumns && $0.description.contains(column) }, "\(found)")
        #expect(found.contains { $0.kind == .missingTable && $0.table == deaths.name.name }, "\(found)")

        var options = RunOptions(chunkSize: 25)
        options.repair = true
        let repaired = try e.run(options)
        #expect(repaired.schema.hasPrefix("rebuilt in \(e.schema.namespace)__next and swapped in"), "\(repaired.schema)")
        #expect(differences(try dump(e, config), clean) == [])
        #expect(try drift(e, config) == [])
        // The views are back, on the swapped-in tables.
        #expect(try viewCounts(e, config) == cleanViews)

        // --rebuild on a destination without drift rebuilds anyway, to the same tables.
        var rebuild = RunOptions(chunkSize: 25)
        rebuild.rebuild = true
        #expect(try e.run(rebuild).schema.contains("requested with --rebuild"))
        #expect(differences(try dump(e, config), clean) == [])
        #expect(try viewCounts(e, config) == cleanViews)
        #expect(try drift(e, config) == [])
    }

    /// A destination loaded before the ledger existed gets one, counted from its tables, on its
    /// next run; rows deleted before that run are not drift (breakout cannot know them).
    @Test func aDestinationWithoutALedgerGetsOne() throws {
        let source = try GeneratedSource(cases: 50)
        let config = try Destination.sqlite.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        _ = try e.run(RunOptions(chunkSize: 20))
        try execute(config, .dropTable(e.schema.counts.name, ifExists: false))
        #expect(try drift(e, config) == [])  // no ledger: nothing to compare with
        _ = try e.run(RunOptions())
        #expect(try drift(e, config) == [])
        let births = try table(e, "births")
        try execute(config, .delete(Delete(from: births.name)))
        #expect(try drift(e, config).map(\.table) == [births.name.name])
    }
}
