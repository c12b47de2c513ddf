import CSPro
import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import Testing
import Verification

@testable import Breakout

/// The analyst views and the `variables` table (issue 20): on every destination engine the views
/// hold exactly the current cases' rows, with labels computed here from the dictionary, under
/// names that need no quoting; `labels_language` switches the labels and a change of it rewrites
/// the views.
@Suite struct AnalystViewTests {
    static let destinations: [Destination] = [.sqlite] + Destination.servers

    func engine(
        _ source: GeneratedSource, _ config: ConnectionConfig, namespace: String, language: String? = nil
    ) throws
        -> BreakoutEngine
    {
        try BreakoutEngine(
            feed: try source.feed(), dialect: config.engine.dialect, options: SchemaOptions(labelsLanguage: language),
            namespace: namespace, connect: { try Databases.connect(config) })
    }

    /// The view's name as an analyst types it: no quotes.
    func typed(_ view: ViewDefinition, _ schema: BreakoutSchema) -> String {
        schema.dialect.namespacing == .schema ? "\(schema.namespace).\(view.name.name)" : view.name.name
    }

    /// The label CSPro shows for `value` of `item`: the first value of its first value set that
    /// covers it, read straight from the dictionary.
    static func expectedLabel(_ item: Item, _ value: SQLValue, language: String) -> String? {
        guard let number = value.int64, let set = item.valueSets.first else { return nil }
        for v in set.values {
            for piece in v.pieces {
                let from = Double(piece.from)!, to = piece.to.flatMap(Double.init) ?? from
                if Double(number) >= from && Double(number) <= to {
                    return (v.labels.first { $0.language == language } ?? v.labels.first)?.text
                }
            }
        }
        return nil
    }

    @Test(arguments: destinations)
    func viewsHoldTheCurrentCasesWithTheirLabels(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 300)
        let config = try destination.config()
        let namespace = uniqueNamespace()
        var e = try engine(source, config, namespace: namespace, language: "fr")
        defer { dropNamespace(e.schema, config) }
        _ = try e.run(RunOptions(chunkSize: 70))
        let c = try Databases.connect(config)
        defer { c.close() }

        // The person rows of the current cases, from the tables themselves.
        let schema = e.schema
        var cases: [String: (key: String, deleted: Bool, partial: Bool)] = [:]
        for row in try c.query(.select(Select(from: schema.cases.name, columns: ["id", "key", "deleted", "partial_save_mode"]))) {
            cases[row[0].string!] = (row[1].string!, row[2].int64 != 0, !row[3].isNull)
        }
        let level1 = schema.levels[0], level2 = schema.levels[1]
        var caseOfLevel1: [Int64: String] = [:]
        for row in try c.query(.select(Select(from: level1.table.name, columns: [level1.idColumn, level1.table.columns[1].name]))) {
            caseOfLevel1[row[0].int64!] = row[1].string!
        }
        var parentOfLevel2: [Int64: Int64] = [:]
        for row in try c.query(.select(Select(from: level2.table.name, columns: [level2.idColumn, level2.parentColumn!]))) {
            parentOfLevel2[row[0].int64!] = row[1].int64!
        }
        let person = try #require(schema.records.first { $0.recordName == "PERSON" })
        let sex = try #require(person.columns.first { $0.item.name == "P02_SEX" })
        var expected: [String] = []
        var deletedRows = 0, partialRows = 0
        for row in try c.query(.select(Select(from: person.table.name, columns: [person.idColumn, person.parentColumn, sex.name]))) {
            let guid = caseOfLevel1[parentOfLevel2[row[1].int64!]!]!
            let info = cases[guid]!
            if info.deleted {
                deletedRows += 1
                continue
            }
            if info.partial { partialRows += 1 }
            let label = Self.expectedLabel(sex.item, row[2], language: "FR") ?? "NULL"
            expected.append("\(info.key)|\(row[0].int64!)|\(normalized(row[2]))|\(label)|\(info.partial ? 1 : 0)")
        }
        #expect(deletedRows > 0 && partialRows > 0, "the generated source has deleted cases and partial saves")

        let view = try #require(schema.views.first { $0.name.name.hasSuffix("person_view") })
        let actual = try c.query("SELECT case_key, person_id, p02_sex, p02_sex_label, partial_save FROM \(typed(view, schema))").map {
            "\($0[0].string!)|\($0[1].int64!)|\(normalized($0[2]))|\($0[3].string ?? "NULL")|\($0[4].int64!)"
        }
        #expect(actual.sorted() == expected.sorted())
        #expect(expected.contains { $0.contains("|Féminin|") })

        // The issue's query, as typed, with its counts.
        let counts = try c.query("select p02_sex_label, count(*) from \(typed(view, schema)) group by p02_sex_label").map {
            "\($0[0].string ?? "NULL")=\($0[1].int64!)"
        }
        let expectedCounts = Dictionary(grouping: expected, by: { $0.split(separator: "|")[3] }).map { "\($0.key)=\($0.value.count)" }
        #expect(counts.sorted() == expectedCounts.sorted())

        // Every record's view answers, with a household's ids on each row of a level-2 record.
        for view in schema.views {
            _ = try c.query("SELECT case_id, case_key, level_1_id, province FROM \(typed(view, schema)) WHERE partial_save = 0")
        }

        // The variables table: one row per kept item and language, labelled as in the dictionary.
        let dictionary = SyntheticSurvey.dictionary()
        let items = dictionary.levels.flatMap { $0.ids + $0.records.flatMap(\.items) }
        let variables = try c.query(
            .select(Select(from: schema.variables.name, columns: ["item", "language", "label", "view_columns", "value_set"])))
        #expect(variables.count == items.count * 2)
        for item in items {
            let fr = variables.first { $0[0].string == item.name && $0[1].string == "FR" }
            #expect(fr?[2].string == item.labels.first { $0.language == "FR" }?.text, "\(item.name)")
            #expect(fr?[4].string == item.valueSets.first?.name, "\(item.name)")
        }
        #expect(
            variables.first { $0[0].string == "H04_ASSETS" }?[3].string
                == "h04_assets_1,h04_assets_2,h04_assets_3,h04_assets_4,h04_assets_5")

        // The labels in the catalog: tables, their item columns and (PostgreSQL) the views.
        let h04 = try #require(schema.records[0].columns.first { $0.item.name == "H04_ASSETS" && $0.occurrence == 2 })
        if let found = try comments(c, schema, person.table.name) {
            #expect(found.table == "Personne")
            #expect(found.columns[sex.name] == "P02_Sex")
        }
        if let found = try comments(c, schema, schema.records[0].table.name) {
            #expect(found.table == "Logement")
            #expect(found.columns[h04.name] == "H04_Assets (3)")
        }
        if destination == .postgresql, let found = try comments(c, schema, view.name) {
            #expect(found.table == "Personne")
            #expect(found.columns["p02_sex"] == "P02_Sex" && found.columns["province"] == "Province")
        }

        // Another language on the same destination rewrites the views (an options change).
        e = try engine(source, config, namespace: namespace, language: "EN")
        let rerun = try e.run(RunOptions(chunkSize: 70))
        #expect(rerun.cases == 0)
        let english = try c.query("select distinct p02_sex_label from \(typed(view, schema)) where p02_sex_label is not null").map {
            $0[0].string!
        }
        #expect(Set(english) == ["Male", "Female"])
        if let found = try comments(c, schema, person.table.name) { #expect(found.table == "Person") }
    }

    /// The comments of a table or view as the catalog has them; nil on SQLite, which keeps none.
    func comments(
        _ c: any DatabaseConnection, _ schema: BreakoutSchema, _ table: QualifiedName
    ) throws -> (
        table: String?, columns: [String: String]
    )? {
        switch schema.dialect.engine {
        case .postgresql:
            let regclass = try schema.dialect.quote(table)
            let own = try c.query("SELECT obj_description('\(regclass)'::regclass, 'pg_class')").first?[0].string
            let columns = try c.query(
                "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute WHERE attrelid = '\(regclass)'::regclass AND attnum > 0"
            )
            return (own, Dictionary(columns.compactMap { r in r[1].string.map { (r[0].string!, $0) } }, uniquingKeysWith: { a, _ in a }))
        case .mysql:
            let own = try c.query(
                "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
                [.text(table.name)])
            let columns = try c.query(
                "SELECT column_name, column_comment FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
                [.text(table.name)])
            return (
                own.first?[0].string,
                Dictionary(
                    columns.compactMap { r in r[1].string.flatMap { $0.isEmpty ? nil : (r[0].string!, $0) } },
                    uniquingKeysWith: { a, _ in a })
            )
        default: return nil
        }
    }

    /// A destination an older version loaded (no `variables` table, no views, stored options
    /// without them) gets both on its next run, as a migration in place; nothing is reloaded.
    @Test(arguments: destinations)
    func anOlderDestinationGetsTheViewsOnItsNextRun(_ destination: Destination) throws {
        let source = try GeneratedSource(cases: 60)
        let config = try destination.config()
        let e = try engine(source, config, namespace: uniqueNamespace())
        defer { dropNamespace(e.schema, config) }
        _ = try e.run(RunOptions(chunkSize: 25))
        let c = try Databases.connect(config)
        defer { c.close() }
        for view in e.schema.views { try c.execute(.dropView(view.name)) }
        try c.execute(.dropTable(e.schema.variables.name, ifExists: false))
        let old = try #require(try c.query(.select(Select(from: e.schema.state.name, columns: ["schema_options"]))).first?[0].string)
        let older = old.replacingOccurrences(of: "\"analyst\":\"1\",", with: "")
        #expect(older != old)
        try c.execute(.update(Update(e.schema.state.name, set: [Assignment("schema_options", .text(older))])))

        let summary = try e.run(RunOptions(chunkSize: 25))
        #expect(summary.schema == "migrated in place: new table \(e.schema.variables.name.name)", "\(summary.schema)")
        #expect(summary.cases == 0)
        for view in e.schema.views {
            #expect((try c.query(.select(.count(from: view.name))).first?[0].int64 ?? 0) > 0, "\(view.name)")
        }
        #expect((try c.query(.select(.count(from: e.schema.variables.name))).first?[0].int64 ?? 0) > 0)
    }

    /// Every name in every view is plain: lowercase letters, digits and `_`, not a reserved word,
    /// unique in its view; for the real dictionaries of the fixtures and every engine.
    @Test func viewNamesNeedNoQuoting() throws {
        var dictionaries = [SyntheticSurvey.dictionary()]
        let root = Fixtures.root
        let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".dcf") } ?? []
        for file in files.sorted() {
            if let d = try? CSProDictionary.load(path: root.appendingPathComponent(file).path) { dictionaries.append(d) }
        }
        #expect(dictionaries.count > 10)
        var views = 0
        for dictionary in dictionaries {
            for engine in [DatabaseEngine.postgresql, .mysql, .sqlserver, .sqlite] {
                guard let schema = try? BreakoutSchema(dictionary: dictionary, dialect: engine.dialect) else { continue }
                for view in schema.views {
                    views += 1
                    let names = view.columns.map(\.name)
                    #expect(Set(names).count == names.count, "\(dictionary.name) \(view.name)")
                    for name in names + [view.name.name] {
                        #expect(name.wholeMatch(of: /[a-z][a-z0-9_]*/) != nil, "\(name)")
                        #expect(!BreakoutSchema.reservedWords.contains(name), "\(name)")
                    }
                }
            }
        }
        #expect(views > 100)
    }

    @Test func plainNames() {
        #expect(BreakoutSchema.plainName("P05(1)") == "p05_1")
        #expect(BreakoutSchema.plainName("level-1-id") == "level_1_id")
        #expect(BreakoutSchema.plainName("KEY") == "key_")
        #expect(BreakoutSchema.plainName("ORDER") == "order_")
        #expect(BreakoutSchema.plainName("9TH") == "v_9th")
        #expect(BreakoutSchema.plainName("ÂGE") == "v__ge")
    }

    @Test func anUnknownLabelsLanguageIsRefusedWithTheKnownOnes() {
        #expect {
            try BreakoutSchema(
                dictionary: SyntheticSurvey.dictionary(), dialect: SQLiteDialect(), options: SchemaOptions(labelsLanguage: "wo"))
        } throws: { error in
            "\(error)".contains("has no language \"wo\"; it has EN, FR")
        }
    }
}
