import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import Testing
import Verification

@testable import Breakout
@testable import CSPro

/// Breakouts of generated CSWeb sources (re-synced, deleted, corrupt, partial-save and 7.4-client
/// cases) into every destination, compared with what the case model says the tables must hold.
@Suite struct EngineTests {
    func engine(
        _ source: GeneratedSource, _ config: ConnectionConfig, namespace: String? = nil, options: SchemaOptions = SchemaOptions()
    ) throws -> BreakoutEngine {
        try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: options, namespace: namespace,
            connect: { try Databases.connect(config) })
    }

    func dump(_ engine: BreakoutEngine, _ config: ConnectionConfig) throws -> [String: [String]] {
        let c = try Databases.connect(config)
        defer { c.close() }
        return try logicalDump(c, engine.schema)
    }

    func errorKeys(_ engine: BreakoutEngine, _ config: ConnectionConfig) throws -> [String] {
        let c = try Databases.connect(config)
        defer { c.close() }
        return try c.query(.select(Select(from: engine.schema.errors.name, columns: ["case_key"]))).compactMap { $0[0].string }.sorted()
    }

    static let destinations: [Destination] = [.sqlite] + Destination.servers

    @Test(arguments: destinations)
    func generatedSourceBreaksOutExactly(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 300)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        let summary = try e.run(RunOptions(threads: 3, chunkSize: 37))
        let corrupt = source.contents.corrupt.count
        #expect(summary.newCases == 300 - corrupt)
        #expect(summary.failedCases == corrupt)
        #expect(summary.deletedCases == source.contents.deleted.count)
        let d = try dump(e, config)
        #expect(differences(d, source.contents.expected) == [])
        #expect(d["level-2"]!.count > 600 && d["births"]!.count > 100 && d["deaths"]!.count > 20)
        let corruptKeys = source.contents.corrupt.map { SyntheticSurvey.makeCase($0).key }.sorted()
        #expect(try errorKeys(e, config) == corruptKeys)

        // A second run finds nothing to do and changes nothing.
        let again = try e.run(RunOptions(threads: 3, chunkSize: 37))
        #expect(again.cases == 0 && again.failedCases == 0)
        #expect(try dump(e, config) == d)
    }

    @Test(arguments: destinations)
    func laterSyncsReplaceDeleteAndRepair(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 120)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        _ = try e.run(RunOptions(threads: 2, chunkSize: 25))

        // A new sync: case 5 edited again, case 6 deleted, corrupt case 97 re-sent intact, case 121 new.
        let writer = try source.writer()
        let layout = CaseLayout(SyntheticSurvey.dictionary())
        let revision = source.contents.lastRevision + 1
        let edited = SyntheticSurvey.makeCase(5, edit: 2), deleted = SyntheticSurvey.makeCase(6), repaired = SyntheticSurvey.makeCase(97),
            added = SyntheticSurvey.makeCase(121)
        try writer.put(
            dictionary: "CENSUS", guid: edited.id!, key: edited.key, label: "Household \(edited.key)",
            blob: try CSWebDatabaseWriter.blob(edited, layout: layout), revision: revision)
        try writer.put(
            dictionary: "CENSUS", guid: deleted.id!, key: deleted.key, label: "Household \(deleted.key)",
            blob: try CSWebDatabaseWriter.blob(deleted, layout: layout), revision: revision, deleted: true)
        try writer.put(
            dictionary: "CENSUS", guid: repaired.id!, key: repaired.key, label: "Household \(repaired.key)",
            blob: try CSWebDatabaseWriter.blob(repaired, layout: layout), revision: revision)
        try writer.put(
            dictionary: "CENSUS", guid: added.id!, key: added.key, label: "Household \(added.key)",
            blob: try CSWebDatabaseWriter.blob(added, layout: layout), revision: revision)
        writer.connection.close()

        let summary = try e.run(RunOptions(threads: 2, chunkSize: 25))
        #expect(summary.newCases == 2)  // 97 (never loaded before) and 121
        #expect(summary.updatedCases == 2)  // 5 and 6
        #expect(summary.deletedCases == 1)
        #expect(summary.failedCases == 0)
        #expect(try errorKeys(e, config) == [])

        var expected = source.contents.expected
        let expectedNew = expectedDump(
            [
                ExpectedCase(
                    guid: edited.id!, key: edited.key, label: "Household \(edited.key)", revision: revision, deleted: false, data: edited),
                ExpectedCase(
                    guid: deleted.id!, key: deleted.key, label: "Household \(deleted.key)", revision: revision, deleted: true, data: deleted
                ),
                ExpectedCase(
                    guid: repaired.id!, key: repaired.key, label: "Household \(repaired.key)", revision: revision, deleted: false,
                    data: repaired),
                ExpectedCase(
                    guid: added.id!, key: added.key, label: "Household \(added.key)", revision: revision, deleted: false, data: added),
            ].map { e in
                var e = e; e.notes = []; e.partialSave = nil; return e
            }, dictionary: SyntheticSurvey.dictionary())
        // Replace the rows of cases 5 and 6 in the expectation by their new versions.
        let old = expectedDump(
            [5, 6].map { n in
                let c = source.contents.current(n)
                return ExpectedCase(
                    guid: c.id!, key: c.key, label: "Household \(c.key)", revision: source.contents.revision(n),
                    deleted: source.contents.deleted.contains(n),
                    partialSave: nil, notes: [], data: c)
            }, dictionary: SyntheticSurvey.dictionary())
        for (table, rows) in old {
            var remaining = expected[table]!
            for row in rows { if let i = remaining.firstIndex(of: row) { remaining.remove(at: i) } }
            expected[table] = (remaining + expectedNew[table]!).sorted()
        }
        #expect(differences(try dump(e, config), expected) == [])
    }

    @Test(arguments: destinations)
    func interruptedRunThenRerunEqualsCleanRun(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 200)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        let partial = try e.run(RunOptions(threads: 1, chunkSize: 30, maxChunks: 3))
        #expect(partial.cases + partial.failedCases == 90)
        // A crash after rows committed but before the mark moved: a stray chunk row beyond a gap.
        let c = try Databases.connect(config)
        try c.execute(
            .insert(
                Insert(
                    into: e.schema.chunks.name, columns: e.schema.chunks.columns.map(\.name),
                    rows: [
                        [
                            .integer(99), .integer(99), .integer(100), .integer(100), .integer(1), .timestamp(Date()),
                        ]
                    ])))
        c.close()
        _ = try e.run(RunOptions(threads: 3, chunkSize: 30))
        #expect(differences(try dump(e, config), source.contents.expected) == [])
    }
}

extension EngineTests {
    static func surveyV2() -> CSProDictionary {
        var v2 = SyntheticSurvey.dictionary()
        v2.levels[1].records[0].items.append(
            Item(
                name: "P06_EMAIL", labels: [Label("Email")], contentType: .alpha, start: 71, length: 40, decimals: 0,
                decimalMark: false, zeroFill: false, occurrences: 1, parent: nil, valueSets: []))
        v2.levels[0].records.append(
            Record(
                name: "LIVESTOCK", labels: [Label("Livestock")], typeValue: "5", required: false, maxOccurrences: 1,
                items: [
                    Item(
                        name: "L01_CATTLE", labels: [], contentType: .numeric, start: 15, length: 4, decimals: 0,
                        decimalMark: false, zeroFill: true, occurrences: 1, parent: nil, valueSets: [])
                ]))
        v2.levels[1].records[0].items[0].length = 45  // P01_NAME: longer alpha
        v2.levels[0].records[0].items[1].length = 12  // H02_ROOMS: integer → bigint
        return v2
    }

    func snapshot(_ d: CSProDictionary, _ cases: [Case]) -> SnapshotFeed {
        SnapshotFeed(dictionary: d, cases: cases, fingerprint: "same", description: d.name)
    }

    @Test(arguments: destinations)
    func additiveChangesMigrateInPlace(_ destination: Destination) throws {
        let config = try destination.config()
        let namespace = uniqueNamespace()
        let cases = (1...30).map { SyntheticSurvey.makeCase($0) }
        let v1 = try BreakoutEngine(
            feed: snapshot(SyntheticSurvey.dictionary(), cases), dialect: config.engine.dialect, options: SchemaOptions(),
            namespace: namespace, connect: { try Databases.connect(config) })
        defer { dropNamespace(v1.schema, config) }
        _ = try v1.run(RunOptions())
        let v2 = try BreakoutEngine(
            feed: snapshot(Self.surveyV2(), cases), dialect: config.engine.dialect, options: SchemaOptions(),
            namespace: namespace, connect: { try Databases.connect(config) })
        defer { dropNamespace(v2.schema, config) }
        let summary = try v2.run(RunOptions())
        #expect(summary.schema.hasPrefix("migrated in place"), "\(summary.schema)")
        let person = v2.schema.records.first { $0.recordName == "PERSON" }!.table.name
        #expect(summary.schema.contains("new column \(person.name).p06_email"))
        #expect(summary.schema.contains("new table \(v2.schema.records.first { $0.recordName == "LIVESTOCK" }!.table.name.name)"))
        #expect(summary.schema.contains("p01_name widened"))
        #expect(summary.schema.contains("h02_rooms widened"))
        // A name of 45 characters now fits.
        let c = try Databases.connect(config)
        defer { c.close() }
        try c.execute(.update(Update(person, set: [Assignment("p01_name", .text(String(repeating: "é", count: 45)))])))
        #expect(try c.query(.select(.count(from: person, where: .isNull("p06_email")))).first?[0].int64 ?? 0 > 0)
        let again = try v2.run(RunOptions())
        #expect(again.schema == "unchanged")
    }

    @Test(arguments: destinations)
    func otherChangesRebuildInAShadowAndSwap(_ destination: Destination) throws {
        let config = try destination.config()
        let namespace = uniqueNamespace()
        let cases = (1...40).map { SyntheticSurvey.makeCase($0) }
        let v1 = try BreakoutEngine(
            feed: snapshot(SyntheticSurvey.dictionary(), cases), dialect: config.engine.dialect, options: SchemaOptions(),
            namespace: namespace, connect: { try Databases.connect(config) })
        defer { dropNamespace(v1.schema, config) }
        _ = try v1.run(RunOptions(chunkSize: 10))
        let before = try dump(v1, config)

        // Removed item, decimals changed: cannot migrate in place.
        var v3 = SyntheticSurvey.dictionary()
        v3.levels[1].records[0].items.removeLast()  // P05_PHONE gone
        v3.levels[0].records[0].items[2].decimals = 3  // H03_RENT decimal(8,2) → decimal(8,3)
        let e3 = try BreakoutEngine(
            feed: snapshot(v3, cases), dialect: config.engine.dialect, options: SchemaOptions(),
            namespace: namespace, connect: { try Databases.connect(config) })
        defer { dropNamespace(e3.schema, config); dropNamespace(try! e3.shadowEngine().schema, config) }

        // Interrupted mid-rebuild: the live tables are still the old ones, complete.
        let partial = try e3.run(RunOptions(chunkSize: 10, maxChunks: 2))
        #expect(partial.schema.hasPrefix("rebuilding"), "\(partial.schema)")
        #expect(try dump(v1, config) == before)
        let plan = try e3.dryRun(connection: try Databases.connect(config), chunkSize: 10)
        #expect(plan.schema.hasPrefix("rebuilt in \(namespace)__next"))

        let summary = try e3.run(RunOptions(chunkSize: 10))
        #expect(summary.schema.hasPrefix("rebuilt in \(namespace)__next and swapped in"), "\(summary.schema)")
        #expect(summary.schema.contains("p05_phone is no longer in the dictionary"))
        let expected = expectedDump(
            cases.map { ExpectedCase(guid: $0.id!, key: $0.key, label: nil, revision: 1, deleted: false, data: $0) }, dictionary: v3)
        #expect(differences(try dump(e3, config), expected) == [])
        #expect(try e3.drift(on: try Databases.connect(config)) == [])
        #expect(try e3.run(RunOptions()).schema == "unchanged")
        // The shadow namespace is gone.
        let c = try Databases.connect(config)
        defer { c.close() }
        #expect(throws: DatabaseError.self) { try c.query(.select(Select(from: try e3.shadowEngine().schema.cases.name))) }
    }
}

/// Behaviour that needs no server.
@Suite struct EngineSQLiteTests {
    func sqliteEngine(_ feed: any CaseFeed, path: String, options: SchemaOptions = SchemaOptions()) throws -> BreakoutEngine {
        let config = ConnectionConfig(engine: .sqlite, database: path)
        return try BreakoutEngine(feed: feed, dialect: config.engine.dialect, options: options, connect: { try Databases.connect(config) })
    }

    @Test func dryRunWritesNothing() throws {
        let source = try GeneratedSource(cases: 60)
        let path = temporaryPath("dest.db")
        let e = try sqliteEngine(try source.feed(), path: path)
        // No destination yet: the plan creates everything, and no file appears.
        let first = try e.dryRun(connection: nil, chunkSize: 20)
        #expect(first.schema == "created")
        #expect(first.pendingCases == 60 && first.chunks == 3)
        #expect(first.sql.contains("CREATE TABLE IF NOT EXISTS \"census_level-2\""))
        #expect(first.sql.contains("INSERT INTO \"census_person\""))
        #expect(!FileManager.default.fileExists(atPath: path))

        _ = try e.run(RunOptions(chunkSize: 20))
        let writer = try source.writer()
        let c5 = SyntheticSurvey.makeCase(5, edit: 3)
        try writer.put(
            dictionary: "CENSUS", guid: c5.id!, key: c5.key,
            blob: try CSWebDatabaseWriter.blob(c5, layout: CaseLayout(SyntheticSurvey.dictionary())),
            revision: 99)
        writer.connection.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let config = ConnectionConfig(engine: .sqlite, database: path, options: ["mode": "ro"])
        let reader = try Databases.connect(config)
        let plan = try e.dryRun(connection: reader, chunkSize: 20)
        reader.close()
        #expect(plan.schema == "unchanged")
        #expect(plan.pendingCases == 1)
        #expect(plan.sql.contains("DELETE FROM \"census_cases\" WHERE \"id\" IN ('\(c5.id!)')"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func changedFileReloadsFromTheStart() throws {
        let path = temporaryPath("dest.db")
        let d = SyntheticSurvey.dictionary()
        let first = (1...30).map { SyntheticSurvey.makeCase($0) }
        _ = try sqliteEngine(SnapshotFeed(dictionary: d, cases: first, fingerprint: "one", description: "file"), path: path).run(
            RunOptions(chunkSize: 7))
        let second = (11...25).map { SyntheticSurvey.makeCase($0, edit: 1) }
        let e = try sqliteEngine(SnapshotFeed(dictionary: d, cases: second, fingerprint: "two", description: "file"), path: path)
        let summary = try e.run(RunOptions(chunkSize: 7))
        #expect(summary.newCases == 15)
        let c = try Databases.connect(ConnectionConfig(engine: .sqlite, database: path))
        defer { c.close() }
        let expected = expectedDump(
            second.enumerated().map { i, c in
                ExpectedCase(guid: c.id!, key: c.key, label: nil, revision: 1, deleted: false, data: c)
            }, dictionary: d)
        #expect(differences(try logicalDump(c, e.schema), expected) == [])
    }

    @Test func includeAndExcludeFollowCSWebsOptions() throws {
        let d = SyntheticSurvey.dictionary()
        let only = try BreakoutSchema(
            dictionary: d, dialect: DatabaseEngine.sqlite.dialect,
            options: SchemaOptions(selection: RecordSelection(include: ["PERSON", "H02_ROOMS"])))
        #expect(only.records.map(\.recordName) == ["HOUSING", "PERSON"])
        #expect(only.records[0].columns.map(\.name) == ["h02_rooms"])
        let without = try BreakoutSchema(
            dictionary: d, dialect: DatabaseEngine.sqlite.dialect,
            options: SchemaOptions(selection: RecordSelection(exclude: ["births", "P05_PHONE"])))
        #expect(without.records.map(\.recordName) == ["HOUSING", "DEATHS", "PERSON"])
        #expect(!without.records[2].columns.map(\.name).contains("p05_phone"))
        #expect(throws: SchemaError.self) {
            try BreakoutSchema(
                dictionary: d, dialect: DatabaseEngine.sqlite.dialect,
                options: SchemaOptions(selection: RecordSelection(include: ["PERSONS"])))
        }
        do {
            _ = try BreakoutSchema(
                dictionary: d, dialect: DatabaseEngine.sqlite.dialect,
                options: SchemaOptions(selection: RecordSelection(include: ["PERSONS"])))
        } catch let error as SchemaError {
            #expect(error.message.contains("did you mean PERSON?"))
        }
    }

    @Test func sqlNamingUsesPlainIdentifiers() throws {
        let schema = try BreakoutSchema(
            dictionary: SyntheticSurvey.dictionary(), dialect: DatabaseEngine.postgresql.dialect, options: SchemaOptions(naming: .sql))
        #expect(schema.levels[1].table.columns.map(\.name) == ["level_2_id", "level_1_id", "occ", "line"])
        #expect(schema.records[0].columns.map(\.name).contains("h04_assets_5"))
        #expect(schema.levels[0].table.columns[1].name == "case_id")
    }
}

/// Two runs never write one destination's tables at once (issue 17): the second waits for the
/// session lock the first holds, and does not start when it is not released in time.
@Suite struct DestinationLockTests {
    @Test(arguments: [Destination.sqlite] + Destination.servers)
    func secondRunWaitsThenDoesNotStart(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 30)
        let config = try destination.config()
        let engine = try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(), namespace: uniqueNamespace(),
            connect: { try Databases.connect(config) })
        defer { dropNamespace(engine.schema, config) }
        let holder = try Databases.connect(config)
        #expect(try holder.lockSession(engine.destinationLock, timeout: 0))
        let started = Date()
        let error = #expect(throws: DestinationBusy.self) { try engine.run(RunOptions(destinationWait: 1)) }
        #expect(error?.description.hasPrefix("destination busy: another run is writing") == true, "\(String(describing: error))")
        #expect(Date().timeIntervalSince(started) >= 0.9)
        holder.close()  // the first run ends: its lock goes with its connection
        #expect(try engine.run(RunOptions(destinationWait: 5)).cases == 30)
    }
}

/// CSWeb in production keeps its cases in MySQL/MariaDB: `binary(16)` guids, `longblob` blobs.
@Suite struct MySQLSourceTests {
    /// A generated CSWeb source in a new MariaDB database (CSWeb's schema), dropped afterwards.
    static func withCSWebInMariaDB(cases: Int, _ body: (ConnectionConfig, SyntheticCSWebSource.Contents) throws -> Void) throws {
        let admin = try Destination.mysql.config()
        let name = "bt_csweb_\(UInt32.random(in: 0...UInt32.max))"
        let c = try Databases.connect(admin)
        try c.execute("CREATE DATABASE `\(name)`")
        defer { _ = try? c.execute("DROP DATABASE `\(name)`"); c.close() }
        var sourceConfig = admin
        sourceConfig.database = name
        let writer = CSWebDatabaseWriter(connection: try Databases.connect(sourceConfig))
        let contents = try SyntheticCSWebSource.write(writer, cases: cases)
        writer.connection.close()
        try body(sourceConfig, contents)
    }

    @Test(.enabled(if: Destination.servers.contains(.mysql)))
    func cswebInMariaDBBreaksOutExactly() throws {
        try Self.withCSWebInMariaDB(cases: 150) { sourceConfig, contents in
            let destination = ConnectionConfig(engine: .sqlite, database: temporaryPath("dest.db"))
            let feed = try CSWebFeed(source: CSWebSource(connection: try Databases.connect(sourceConfig)), dictionary: SyntheticSurvey.name)
            let engine = try BreakoutEngine(
                feed: feed, dialect: destination.engine.dialect, options: SchemaOptions(), connect: { try Databases.connect(destination) })
            let summary = try engine.run(RunOptions(chunkSize: 40))
            #expect(summary.failedCases == contents.corrupt.count)
            let d = try Databases.connect(destination)
            defer { d.close() }
            #expect(differences(try logicalDump(d, engine.schema), contents.expected) == [])
        }
    }

    /// Issue 16: a first load reads CSWeb's InnoDB table in its stored (`guid`) order, one range of
    /// the primary key a chunk, and stays exactly once: interrupted in the middle, with cases
    /// re-synced before it resumes (some loaded already, some not), it ends with exactly the
    /// source's cases, and a later run loads nothing.
    @Test(.enabled(if: Destination.servers.contains(.mysql)))
    func storedOrderFirstLoadIsExactlyOnce() throws {
        try Self.withCSWebInMariaDB(cases: 300) { sourceConfig, written in
            var contents = written
            let destination = ConnectionConfig(engine: .sqlite, database: temporaryPath("dest.db"))
            let sourceConnection = try Databases.connect(sourceConfig)
            defer { sourceConnection.close() }
            let feed = try CSWebFeed(source: CSWebSource(connection: sourceConnection), dictionary: SyntheticSurvey.name)
            let engine = try BreakoutEngine(
                feed: feed, dialect: destination.engine.dialect, options: SchemaOptions(), connect: { try Databases.connect(destination) })
            var options = RunOptions(chunkSize: 40)
            options.storedOrderFrom = 1

            // The plan says so, and its scan is a range of the primary key, with no sort.
            let report = try engine.dryRun(connection: nil, chunkSize: 40, storedOrderFrom: 1)
            #expect(report.text.contains("read in the source's stored order"), "\(report.text)")
            let snapshot = try #require(try feed.storedOrderSnapshot())
            let scan = CSWebSource(connection: sourceConnection).scanQuery(
                SyntheticSurvey.name, through: snapshot.revision, afterGUID: .blob(Array(repeating: 0x80, count: 16)), limit: 40)
            let sql = try SQLRenderer(sourceConnection.dialect, inlineValues: true).render(.select(scan))[0].sql
            let plan = try sourceConnection.query("EXPLAIN " + sql)
            #expect(plan.count == 1 && plan[0]["key"]?.string == "PRIMARY" && plan[0]["type"]?.string == "range", "\(plan)")
            #expect(plan[0]["Extra"]?.string?.contains("filesort") != true, "\(plan)")

            options.maxChunks = 3
            let first = try engine.run(options)
            #expect(first.newCases == 120)
            let d = try Databases.connect(destination)
            defer { d.close() }
            // Stopped inside the scan: the mark stays at the start; the rows loaded stay.
            #expect(try engine.readState(d)?.mark == .start)

            // Re-synced before the next run: all of them (loaded or not) move past the snapshot.
            let writer = CSWebDatabaseWriter(connection: try Databases.connect(sourceConfig))
            try SyntheticCSWebSource.resync(writer, &contents, cases: Array(stride(from: 3, through: 300, by: 7)))
            writer.connection.close()

            options.maxChunks = nil
            let second = try engine.run(options)
            #expect(second.failedCases == contents.corrupt.count)
            #expect(differences(try logicalDump(d, engine.schema), contents.expected) == [])
            let mark = try #require(try engine.readState(d)?.mark)
            #expect(mark.revision == contents.lastRevision)

            let third = try engine.run(options)
            #expect(third.newCases == 0 && third.updatedCases == 0)
            #expect(differences(try logicalDump(d, engine.schema), contents.expected) == [])
            // The row ledger followed the interrupted scan and the cases it replaced.
            #expect(try engine.drift(on: d) == [])
        }
    }

    /// Issue 16: a first load in stored order into new PostgreSQL or MariaDB tables creates them
    /// with their primary keys only and builds the other keys after the rows. The plan shows it;
    /// stopped before the keys are in, the next run starts over (or, when it does not defer, adds
    /// them first); either way the destination is exact, its keys are those of tables created with
    /// them, and they work: re-synced cases replace their rows through the cascades.
    @Test(.enabled(if: Destination.servers.contains(.mysql)), arguments: Destination.servers)
    func deferredKeysFirstLoadIsExactlyOnce(_ destination: Destination) throws {
        try Self.withCSWebInMariaDB(cases: 300) { sourceConfig, written in
            var contents = written
            let config = try destination.config()
            let sourceConnection = try Databases.connect(sourceConfig)
            defer { sourceConnection.close() }
            func engine(_ namespace: String) throws -> BreakoutEngine {
                try BreakoutEngine(
                    feed: try CSWebFeed(source: CSWebSource(connection: sourceConnection), dictionary: SyntheticSurvey.name),
                    dialect: config.engine.dialect, options: SchemaOptions(), namespace: namespace,
                    connect: { try Databases.connect(config) })
            }
            let e = try engine(uniqueNamespace()), reference = try engine(uniqueNamespace())
            defer {
                dropNamespace(e.schema, config)
                dropNamespace(reference.schema, config)
            }
            let d = try Databases.connect(config)
            defer { d.close() }
            /// Every key the catalog lists for each data table, by kind and (for indexes) name, with
            /// the namespace (a table prefix on MySQL) written NS.
            func keys(_ engine: BreakoutEngine) throws -> [String] {
                try engine.schema.dataTables.flatMap { table in
                    try d.query(engine.schema.dialect.keysQuery(table.name)!).map {
                        "\(table.name.name): \($0[0].string!)" + ($0[0].string == "index" ? " \($0[1].string!)" : "")
                    }
                }.map { $0.replacingOccurrences(of: engine.schema.namespace, with: "NS") }.sorted()
            }
            var options = RunOptions(threads: 2, chunkSize: 40)
            options.storedOrderFrom = 1

            let plan = try e.dryRun(connection: nil, chunkSize: 40, storedOrderFrom: 1).text
            #expect(plan.contains("primary key") && plan.contains("keys, built and validated"), "\(plan)")
            if destination == .mysql { #expect(plan.contains("ADD PRIMARY KEY"), "\(plan)") }
            #expect(plan.contains("ALTER TABLE") && plan.contains("FOREIGN KEY"), "\(plan)")

            // Stopped inside the scan: no keys yet, the mark at the start.
            options.maxChunks = 3
            _ = try e.run(options)
            #expect(try e.readState(d)?.mark == .start)
            #expect(try e.missingKeys(d).count == e.schema.dataTables.filter { e.schema.firstLoadTable($0) != $0 }.count)
            let replan = try e.dryRun(connection: d, chunkSize: 40, storedOrderFrom: 1).text
            #expect(replan.contains("starts over"), "\(replan)")

            // Re-synced meanwhile, then the whole first load: it starts over and ends exact, with its keys.
            let writer = CSWebDatabaseWriter(connection: try Databases.connect(sourceConfig))
            defer { writer.connection.close() }
            try SyntheticCSWebSource.resync(writer, &contents, cases: Array(stride(from: 3, through: 300, by: 7)))
            options.maxChunks = nil
            let second = try e.run(options)
            #expect(second.failedCases == contents.corrupt.count)
            #expect(differences(try logicalDump(d, e.schema), contents.expected) == [])
            #expect(try e.missingKeys(d).isEmpty)
            #expect(try e.readState(d)?.mark.revision == contents.lastRevision)

            // The same keys as tables created with them.
            var withKeys = options
            withKeys.deferKeys = false
            _ = try reference.run(withKeys)
            let deferred = try keys(e), created = try keys(reference)
            #expect(deferred.count > 5)
            #expect(deferred == created, "\(deferred) against \(created)")

            // The cascades work: re-synced cases replace their rows.
            try SyntheticCSWebSource.resync(writer, &contents, cases: Array(stride(from: 5, through: 300, by: 11)))
            let third = try e.run(options)
            #expect(third.updatedCases > 0)
            #expect(differences(try logicalDump(d, e.schema), contents.expected) == [])
            #expect(try e.drift(on: d) == [])

            // Stopped again on a new first load, then a run that does not defer: it adds the keys first.
            let f = try engine(uniqueNamespace())
            defer { dropNamespace(f.schema, config) }
            options.maxChunks = 2
            _ = try f.run(options)
            #expect(try !f.missingKeys(d).isEmpty)
            options.maxChunks = nil
            options.deferKeys = false
            _ = try f.run(options)
            #expect(try f.missingKeys(d).isEmpty)
            #expect(differences(try logicalDump(d, f.schema), contents.expected) == [])
            #expect(try f.drift(on: d) == [])
        }
    }

    /// Issue 16: on CSWeb's own schema (`guid` primary key, `id` unique, an index on `revision`
    /// alone) a chunk's read costs the same at the first chunk and the last. Rows the server reads
    /// are counted with its handler counters (deterministic, unlike time), and the plans are
    /// checked with EXPLAIN. The plain keyset query is measured alongside, so the test fails if the
    /// bounded read stops being bounded.
    @Test(.enabled(if: Destination.servers.contains(.mysql)))
    func chunkReadsAreBoundedOnCSWebSchema() throws {
        let cases = 4_000
        try Self.withCSWebInMariaDB(cases: cases) { sourceConfig, _ in try Self.checkChunkReads(sourceConfig, cases: cases) }
    }

    static func checkChunkReads(_ sourceConfig: ConnectionConfig, cases: Int) throws {
        let connection = try Databases.connect(sourceConfig)
        defer { connection.close() }
        _ = try connection.execute("ANALYZE TABLE `\(SyntheticSurvey.name)`")
        let source = CSWebSource(connection: connection)
        let table = SyntheticSurvey.name
        let expectedOrder = try connection.query("SELECT id FROM `\(table)` ORDER BY revision, id").map { $0[0].int64 ?? 0 }

        /// Rows the server's storage engine handed over for `body` (index and table reads).
        func rowsRead(_ body: () throws -> Void) throws -> Int {
            func counters() throws -> Int {
                try connection.query("SHOW SESSION STATUS LIKE 'Handler_read%'").reduce(0) { $0 + Int($1[1].string ?? "0")! }
            }
            let overhead = try {
                let a = try counters(); return try counters() - a
            }()
            let before = try counters()
            try body()
            return try counters() - before - overhead
        }

        let limit = 50
        var mark = (revision: Int64(0), id: Int64(0))
        var seen: [Int64] = []
        var reads: [Int] = []
        for _ in 0..<(cases / limit + 10) {
            var chunk: [CSWebSource.StoredCase] = []
            reads.append(
                try rowsRead { chunk = try source.storedCases(dictionary: table, after: mark.revision, id: mark.id, limit: limit) })
            guard let last = chunk.last else { break }
            seen += chunk.map(\.rowID)
            mark = (last.revision, last.rowID)
        }
        // Exactly the cases, in exactly the order, of the plain keyset query.
        #expect(seen == expectedOrder)
        // Every chunk reads at most: the bound's index entries and its later cases with the rest of
        // the bound's sync batch (at most 120 cases in the generated source), twice (the sort reads
        // rows again); inside a revision, its own cases by id. Entering the generated source's two
        // large revisions (re-syncs: one case in 19, deletions: one in 43) reads their ids once.
        let largest = try connection.query("SELECT COUNT(*) FROM `\(table)` GROUP BY revision ORDER BY 1 DESC LIMIT 1")[0][0].int64!
        let bound = 2 * (limit + 120) + 2 * Int(largest) + 20
        #expect(reads.max()! <= bound, "rows read per chunk: \(reads)")

        // The plain keyset query at the start reads every remaining row: the defect this replaces.
        let plain = try rowsRead {
            _ = try connection.query(.select(source.chunkQuery(table, where: CSWebSource.after(0, 0), limit: limit)))
        }
        #expect(plain >= cases, "the plain keyset query read \(plain) rows")
        print(
            "rows read per chunk of \(limit): first \(reads.first!), max \(reads.max()!), last \(reads.dropLast().last!); plain keyset query: \(plain)"
        )

        // The plans: both statements are ranges of the `revision` index; the bound reads the index alone.
        let renderer = SQLRenderer(connection.dialect, inlineValues: true)
        let middle = expectedOrder[expectedOrder.count / 2]
        let middleRevision = try connection.query("SELECT revision FROM `\(table)` WHERE id = \(middle)")[0][0].int64!
        let lastRevision = try connection.query("SELECT MAX(revision) FROM `\(table)`")[0][0].int64!
        let resynced = try connection.query("SELECT MIN(id) FROM `\(table)` WHERE revision = \(lastRevision - 1)")[0][0].int64!
        for (statement, key) in [
            (source.revisionBoundQuery(table, after: middleRevision, rows: limit), "revision"),
            (
                source.chunkQuery(table, where: try source.laterPredicate(table, after: middleRevision, limit: limit), limit: limit),
                "revision"
            ),
            (try #require(try source.restOfRevisionQuery(table, revision: lastRevision - 1, after: resynced, limit: limit)).select, "id"),
        ] {
            let sql = try renderer.render(.select(statement))[0].sql
            let plan = try connection.query("EXPLAIN " + sql)
            #expect(plan.count == 1, "\(sql): \(plan)")
            let row = plan[0]
            #expect(row["type"]?.string == "range" && row["key"]?.string == key, "\(sql): \(row)")
            if statement.columns == ["revision"] {
                // EXPLAIN's estimate ignores LIMIT; what matters is that no row is read (the
                // handler counts above bound what the index scan touches).
                #expect(row["Extra"]?.string?.contains("Using index") == true, "\(row)")
            } else {
                #expect(Int(row["rows"]?.int64 ?? .max) <= (key == "id" ? limit : bound), "\(sql): \(row)")
            }
        }
        // The pending count agrees with the cases left.
        let position = expectedOrder.count / 2
        #expect(
            try source.countCases(dictionary: table, after: middleRevision, id: middle)
                == expectedOrder.count - 1 - position)
    }

    /// A dry run against a server destination creates nothing there.
    @Test(.enabled(if: Destination.servers.contains(.postgresql)))
    func dryRunOnPostgreSQLCreatesNothing() throws {
        let source = try GeneratedSource(cases: 30)
        let config = try Destination.postgresql.config()
        let namespace = uniqueNamespace()
        let engine = try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(), namespace: namespace,
            connect: { try Databases.connect(config) })
        let c = try Databases.connect(config)
        defer { c.close() }
        let report = try engine.dryRun(connection: c, chunkSize: 10)
        #expect(report.schema == "created" && report.pendingCases == 30)
        let schemas = try c.query("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '\(namespace)'")
        #expect(schemas.first?[0].int64 == 0)
    }
}
