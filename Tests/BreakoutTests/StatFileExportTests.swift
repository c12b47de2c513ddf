import CSPro
import CaseSources
import Drivers
import Foundation
import Generators
import SQL
import StatFiles
import Testing
import Verification

@testable import Breakout

/// Stata and SPSS exports (issue 23) read back by the reference reader, pyreadstat (which `.ci/run`
/// installs): every row, value, variable label and value label of each record's file equals the
/// analyst view of the same source broken out into SQLite, in each `specials:` mode.
@Suite struct StatFileExportTests {
    /// pyreadstat's reading of a .dta: names, variable labels, value labels, rows (extended
    /// missing values as ".a", system missing as null).
    struct Read: Decodable {
        var columns: [String]
        var labels: [String?]
        var valueLabels: [String: [String: String]]
        var variableValueLabels: [String: String]
        var rows: [[Value]]
        var fileLabel: String?
        var missing: [String: [Double]]?
        var types: [String]?
    }

    enum Value: Decodable, Equatable, CustomStringConvertible {
        case null, number(Double), text(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else {
                self = .text(try c.decode(String.self))
            }
        }
        var description: String {
            switch self {
            case .null: "∅"
            case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .text(let s): s
            }
        }
    }

    static let reader = """
        import json, math, sys, decimal
        if sys.argv[1].endswith(".parquet"):
            import pyarrow.parquet as pq
            t = pq.read_table(sys.argv[1])
            doc = json.loads(pq.read_metadata(sys.argv[1]).metadata[b"breakout.labels"])
            cols = doc["columns"]
            def pcell(v):
                if isinstance(v, decimal.Decimal): return str(v)
                if isinstance(v, float) and math.isnan(v): return None
                return v
            json.dump({
                "columns": t.column_names,
                "labels": [cols[c]["label"] for c in t.column_names],
                "valueLabels": {c: cols[c]["value_labels"] for c in t.column_names if "value_labels" in cols[c]},
                "variableValueLabels": {c: c for c in t.column_names if "value_labels" in cols[c]},
                "rows": [[pcell(r[c]) for c in t.column_names] for r in t.to_pylist()],
                "fileLabel": doc["label"],
                "types": [str(f.type) for f in t.schema],
            }, sys.stdout)
            sys.exit(0)
        import pyreadstat
        reader = pyreadstat.read_sav if sys.argv[1].endswith(".sav") else pyreadstat.read_dta
        df, meta = reader(sys.argv[1], user_missing=True)
        def cell(v):
            if v is None: return None
            if isinstance(v, float):
                return None if math.isnan(v) else v
            if isinstance(v, str): return v
            try: return float(v)
            except Exception: return str(v)
        missing = {}
        for col, ranges in (meta.missing_user_values or {}).items():
            missing[col] = ranges
        out = {
            "columns": list(meta.column_names),
            "labels": list(meta.column_labels),
            "valueLabels": {k: {str(int(a) if isinstance(a, float) and a == int(a) else a): b for a, b in v.items()} for k, v in meta.value_labels.items()},
            "variableValueLabels": meta.variable_to_label,
            "rows": [[cell(v) for v in row] for row in df.itertuples(index=False, name=None)],
            "fileLabel": meta.file_label,
            "missing": {k: [float(r["lo"]) for r in v if r["lo"] == r["hi"]] for k, v in (getattr(meta, "missing_ranges", None) or {}).items()},
        }
        json.dump(out, sys.stdout)
        """

    /// pyreadstat's reading of `path`; nil when it is not installed (outside CI only).
    static func read(_ path: String) throws -> Read? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", reader, path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            if errors.contains("No module named 'pyreadstat'"), ProcessInfo.processInfo.environment["CI"] != "true" { return nil }
            Issue.record("pyreadstat could not read \(path): \(errors)")
            return nil
        }
        return try JSONDecoder().decode(Read.self, from: data)
    }

    /// Exports `feed` in `format` and compares each record's file with the analyst view of the
    /// same feed broken out into SQLite; the export and the rows checked (nil without a reader).
    static func verify(
        _ feed: () throws -> any CaseFeed, options: SchemaOptions, format: ExportFormat
    ) throws -> (
        Exporter.Result, Int
    )? {
        let mode = options.specials
        let language = options.labelsLanguage
        // The analyst views of the same source, in SQLite: what the files must hold.
        let config = ConnectionConfig(engine: .sqlite, database: temporaryPath("views.db"))
        let engine = try BreakoutEngine(
            feed: try feed(), dialect: config.engine.dialect, options: options, namespace: "census",
            connect: { try Databases.connect(config) })
        _ = try engine.run(RunOptions(chunkSize: 64))
        let db = try Databases.connect(config)
        defer { db.close() }

        let folder = URL(fileURLWithPath: temporaryPath("exports"))
        let result = try Exporter(feed: try feed(), options: options).export(to: folder, chunkSize: 64, formats: [format])
        #expect(!FileManager.default.fileExists(atPath: result.folder.appendingPathComponent("person.csv").path))
        let schema = engine.schema
        var checkedRows = 0
        for (record, view) in zip(schema.records, schema.views) {
            let file = result.folder.appendingPathComponent(record.recordName.lowercased() + "." + Self.suffix[format]!).path
            guard let read = try Self.read(file) else { return nil }
            let kept = view.columns.filter { if case .label = $0.value { false } else { true } }
            #expect(read.columns == kept.map(\.name), "\(record.recordName)")
            #expect(
                read.fileLabel
                    == BreakoutSchema.text(
                        schema.dictionary.levels[record.level].records.first { $0.name == record.recordName }!.labels, in: schema.language))

            // Rows: the view's, in the file's order (chunk by chunk, each case's rows in order).
            let idColumn = BreakoutSchema.plainName(record.recordName + "_id")
            let rows = try db.query(
                .select(Select(from: view.name, columns: kept.map(\.name), orderBy: [SortKey(idColumn)])))
            let idIndex = read.columns.firstIndex(of: idColumn)!
            let fileRows = read.rows.sorted { ($0[idIndex].description) < ($1[idIndex].description) }
            let viewRows = rows.map(\.values).sorted { normalized($0[idIndex]) < normalized($1[idIndex]) }
            #expect(fileRows.count == viewRows.count, "\(record.recordName)")
            // Stata strings have no missing value: a NULL alpha value is "".
            var tables = ["r": record.table, "c": schema.cases]
            for level in schema.levels { tables["l\(level.level + 1)"] = level.table }
            let text = Set(
                kept.compactMap { column -> String? in
                    guard case .column(let ref) = column.value,
                        let type = tables[ref.alias]?.columns.first(where: { $0.name == ref.column })?.type,
                        case .varchar = type
                    else { return nil }
                    return column.name
                })
            for (f, v) in zip(fileRows, viewRows) {
                for (j, column) in kept.enumerated() {
                    var expected = Self.expected(v[j], column: column, record: record, row: v, kept: kept, mode: mode, format: format)
                    if expected == "∅", text.contains(column.name), format != .parquet { expected = "" }
                    // Parquet keeps a decimal's scale ("992.50"): the same number.
                    if format == .parquet, case .text(let t) = f[j], t.contains("."), let a = Double(t), a == Double(expected) {
                        expected = t
                    }
                    #expect(f[j].description == expected, "\(record.recordName).\(column.name): \(f[j]) for \(v[j])")
                }
                checkedRows += 1
            }

            // Labels: each item column's variable label, each coded item's value labels, from the dictionary.
            for (j, column) in kept.enumerated() {
                guard case .column(let ref) = column.value, ref.alias == "r",
                    let item = record.columns.first(where: { $0.name == ref.column && !$0.holdsSpecial })?.item
                else { continue }
                let label = BreakoutSchema.text(item.labels, in: schema.language)
                #expect(read.labels[j]?.hasPrefix(label) == true, "\(column.name)")
                guard item.contentType == .numeric, item.decimals == 0, let set = item.valueSets.first else { continue }
                let labels = try #require(read.variableValueLabels[column.name].flatMap { read.valueLabels[$0] }, "\(column.name)")
                var seen = Set<String>()
                for value in set.values {
                    let text = BreakoutSchema.text(value.labels, in: schema.language)
                    if mode != .null, let s = value.special, format == .stata {
                        // NOTAPPL is Stata's own `.`, unlabelled.
                        guard let letter = ["MISSING": "a", "REFUSED": "b", "DEFAULT": "c"][s.rawValue] else { continue }
                        #expect(labels[letter] == text || labels["." + letter] == text, "\(column.name) .\(letter): \(labels)")
                    } else {
                        let piece = value.pieces[0]
                        // The first value a code has wins, as in CSPro; ranges: spelled out (Parquet: "from-to").
                        let key = format == .parquet ? piece.to.map { "\(piece.from)-\($0)" } ?? piece.from : piece.from
                        // Stata and SPSS spell out ranges of up to 1,000 values only (docs/runner.md).
                        let span = piece.to.flatMap { Int($0) }.map { $0 - (Int(piece.from) ?? 0) } ?? 0
                        guard seen.insert(key).inserted, Int(piece.from) != nil || format == .parquet, span < 1000 || format == .parquet
                        else {
                            continue
                        }
                        #expect(labels[key] == text, "\(column.name) \(key): \(labels)")
                    }
                }
            }
        }
        _ = language
        return (result, checkedRows)
    }

    @Test(arguments: [ExportFormat.stata, .spss, .parquet], SpecialValues.allCases)
    func eachRecordReadsBackAsItsView(_ format: ExportFormat, _ mode: SpecialValues) throws {
        let source = try GeneratedSource(cases: 300)
        let options = SchemaOptions(labelsLanguage: "FR", specials: mode)
        guard let (result, checkedRows) = try Self.verify({ try source.feed() }, options: options, format: format) else { return }
        #expect(checkedRows > 1000)
        // Non-ASCII labels and text survive: a French label and a name with an accent.
        let person = try #require(try Self.read(result.folder.appendingPathComponent("person." + Self.suffix[format]!).path))
        #expect(person.valueLabels.values.contains { $0.values.contains("Féminin") })
        #expect(person.rows.contains { $0.contains(.text("Oumar Touré")) || $0.contains { "\($0)".contains("é") } })
        // SPSS: the special values' codes are declared missing (REFUSED is 999 for P03_AGE).
        if format == .spss, mode != .null { #expect(person.missing?["p03_age"] == [999], "\(person.missing ?? [:])") }
        // Parquet: logical types from the dictionary (decimals exact, DECIMAL(10, 2) for P04_INCOME).
        if format == .parquet {
            let types = try #require(person.types)
            #expect(types[person.columns.firstIndex(of: "p04_income")!] == "decimal128(10, 2)")
            #expect(types[person.columns.firstIndex(of: "p01_name")!] == "string")
            #expect(types[person.columns.firstIndex(of: "person_id")!] == "int64")
        }
    }

    /// `include_deleted`: the deleted cases' rows come back, with a `deleted` column after
    /// `partial_save`; without it there are none (the view's rows, checked above).
    @Test func deletedCasesOnRequest() throws {
        let source = try GeneratedSource(cases: 300)
        let folder = URL(fileURLWithPath: temporaryPath("exports"))
        let result = try Exporter(feed: try source.feed(), options: SchemaOptions()).export(
            to: folder, chunkSize: 64, formats: [.parquet, .stata], includeDeleted: true)
        #expect(result.deleted > 0)
        for suffix in ["parquet", "dta"] {
            guard let read = try Self.read(result.folder.appendingPathComponent("person.\(suffix)").path) else { return }
            let d = try #require(read.columns.firstIndex(of: "deleted"))
            #expect(read.columns[d - 1] == "partial_save")
            #expect(read.rows.contains { $0[d] == .number(1) } && read.rows.contains { $0[d] == .number(0) }, "\(suffix)")
        }
    }

    /// A real dictionary from the fixtures: CSPro's Popstan census example (households and persons,
    /// value sets with ranges and special values), its smallStan data, in every format.
    @Test(arguments: [ExportFormat.stata, .spss, .parquet])
    func aRealCensusDictionaryReadsBack(_ format: ExportFormat) throws {
        let (data, dictionaryPath) = OracleTests.datFiles[0]
        let dictionary = try CSProDictionary.load(path: Fixtures.path(dictionaryPath))
        guard
            let (_, rows) = try Self.verify(
                { try SnapshotFeed.dat(path: Fixtures.path(data), dictionary: dictionary) }, options: SchemaOptions(specials: .codes),
                format: format)
        else { return }
        #expect(rows > 50)
    }

    /// The writer alone: every storage type at its limits, a long string (strL) and one of exactly
    /// its width, 17 digits kept as text, extended missing values, labels in French.
    @Test func theWriterAtItsLimits() throws {
        let url = URL(fileURLWithPath: temporaryPath("limits.dta"))
        let long = String(repeating: "é", count: 1500) + "fin"
        let writer = try StataWriter(
            url: url, label: "Données d'essai",
            variables: [
                StataVariable(name: "b", storage: .byte, label: "octet", valueLabels: "yesno"),
                StataVariable(name: "i", storage: .int, label: "entier"),
                StataVariable(name: "l", storage: .long, label: "long"),
                StataVariable(name: "d", storage: .double, label: "décimal", decimals: 2),
                StataVariable(name: "s", storage: .str(6), label: "court"),
                StataVariable(name: "t", storage: .strL, label: "long texte"),
                StataVariable(name: "n", storage: .str(18), label: "grand nombre"),
            ],
            valueLabels: [
                StataValueLabels(name: "yesno", labels: [(.value(2), "Non"), (.value(1), "Oui"), (.extendedMissing(2), "Refus")])
            ])
        try writer.append([
            .integer(100), .integer(32_740), .integer(2_147_483_620), .number(12_345_678_901.25), .text("éàü"), .text(long),
            .text("123456789012345678"),
        ])
        try writer.append([
            .integer(-127), .integer(-32_767), .integer(-2_147_483_647), .number(-0.01), .text("abcdef"), .text(""), .text(""),
        ])
        try writer.append([.extendedMissing(2), .missing, .extendedMissing(1), .extendedMissing(3), .missing, .missing, .missing])
        try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: url.path + ".strls"))
        guard let read = try Self.read(url.path) else { return }
        #expect(read.fileLabel == "Données d'essai")
        #expect(read.labels == ["octet", "entier", "long", "décimal", "court", "long texte", "grand nombre"])
        #expect(read.valueLabels["yesno"] == ["1": "Oui", "2": "Non", "b": "Refus"], "\(read.valueLabels)")
        #expect(
            read.rows.map { $0.map(\.description) } == [
                ["100", "32740", "2147483620", "12345678901.25", "éàü", long, "123456789012345678"],
                ["-127", "-32767", "-2147483647", "-0.01", "abcdef", "", ""],
                ["b", "∅", "a", "c", "", "", ""],
            ])
    }

    /// The SPSS writer alone: a value longer than its variable is cut at a character boundary and
    /// counted; a very long string (1,000 bytes: four segments) reads back whole; labels, declared
    /// missing values and system missing read back.
    @Test func theSPSSWriterAtItsLimits() throws {
        let url = URL(fileURLWithPath: temporaryPath("limits.sav"))
        let writer = try SPSSWriter(
            url: url, label: "Données",
            variables: [
                SPSSVariable(
                    name: "sexe", width: 0, label: "Sexe", digits: 1, measure: .nominal, valueLabels: [(1, "Masculin"), (2, "Féminin")],
                    missingValues: [9]),
                SPSSVariable(name: "revenu", width: 0, label: "Revenu", digits: 10, decimals: 2, measure: .scale),
                SPSSVariable(name: "nom", width: 255, label: "Nom", measure: .nominal),
                SPSSVariable(name: "by", width: 0, label: "réservé", measure: .scale),
                SPSSVariable(name: "adresse", width: 1000, label: "Adresse (very long string)", measure: .nominal),
            ])
        let address = String(repeating: "é", count: 400) + "fin"
        try writer.append([.number(2), .number(12_345_678.91), .text(String(repeating: "é", count: 200)), .number(-1), .text(address)])
        try writer.append([.number(9), .missing, .text("court"), .missing, .missing])
        try writer.finish()
        #expect(writer.truncated == 1)
        guard let read = try Self.read(url.path) else { return }
        #expect(read.columns == ["sexe", "revenu", "nom", "by", "adresse"])
        #expect(read.labels == ["Sexe", "Revenu", "Nom", "réservé", "Adresse (very long string)"])
        #expect(read.valueLabels.values.first == ["1": "Masculin", "2": "Féminin"])
        #expect(read.missing?["sexe"] == [9])
        #expect(
            read.rows.map { $0.map(\.description) } == [
                ["2", "12345678.91", String(repeating: "é", count: 127), "-1", address], ["9", "∅", "court", "∅", ""],
            ])
    }

    static let suffix: [ExportFormat: String] = [.stata: "dta", .spss: "sav", .parquet: "parquet", .csv: "csv"]

    /// What the file holds for a view cell: the same value, except that with `specials:` a special
    /// value is Stata's extended missing value (`.a` MISSING, `.b` REFUSED, `.c` DEFAULT).
    static func expected(
        _ value: SQLValue, column: ViewColumn, record: BreakoutSchema.RecordTable, row: [SQLValue], kept: [ViewColumn], mode: SpecialValues,
        format: ExportFormat = .stata
    ) -> String {
        let letters = ["MISSING": "a", "REFUSED": "b", "DEFAULT": "c"]
        if format != .parquet, case .column(let ref) = column.value, ref.alias == "r",
            let source = record.columns.first(where: { $0.name == ref.column && !$0.holdsSpecial }), let map = source.specials
        {
            switch mode {
            case .columns:
                if let flagIndex = kept.firstIndex(where: { $0.name == column.name + "_special" }), let flag = row[flagIndex].string,
                    let letter = letters[flag]
                {
                    // SPSS: the value set's code, declared missing.
                    if format == .spss { return map.code[Special(rawValue: flag)!].map { normalized($0) } ?? "∅" }
                    return letter
                }
            case .codes:
                if format == .stata, let d = Double(normalized(value)), let s = map.special[d], let letter = letters[s.rawValue] {
                    return letter
                }
            case .null: break
            }
        }
        switch value {
        case .null: return "∅"
        case .integer(let i): return String(i)
        case .decimal(let d): return Value.number(Double(d.description)!).description
        case .double(let d): return Value.number(d).description
        default: return value.string ?? "∅"
        }
    }
}
