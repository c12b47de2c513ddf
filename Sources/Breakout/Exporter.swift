import CSPro
import Foundation
import SQL
import StatFiles

/// The file formats an export writes (a job's `formats:`).
package enum ExportFormat: String, Sendable, CaseIterable, Codable {
    /// One CSV per table, as the breakout's tables, and `value_labels.csv`.
    case csv
    /// One Stata `.dta` (format 118) per record: the analyst view's rows, labelled.
    case stata
    /// One SPSS `.sav` per record: the same rows, labelled, special values' codes user-missing.
    case spss
    /// One Parquet file per record: the same rows with logical types, the labels in its metadata.
    case parquet

    var fileExtension: String {
        switch self {
        case .csv: "csv"
        case .stata: "dta"
        case .spss: "sav"
        case .parquet: "parquet"
        }
    }

    var mediaType: String {
        switch self {
        case .csv: "text/csv"
        case .stata: "application/x-stata-dta"
        case .spss: "application/x-spss-sav"
        case .parquet: "application/vnd.apache.parquet"
        }
    }

    /// How datapackage.json describes a file of this format.
    var resourceDescription: String {
        switch self {
        case .csv: "a table of the breakout"
        case .stata: "Stata 14+ (.dta format 118): the record's current cases with the ancestors' ids, variable and value labels"
        case .spss: "SPSS system file: the record's current cases with the ancestors' ids, variable and value labels"
        case .parquet: "Parquet: the record's current cases with the ancestors' ids; labels in the key-value metadata breakout.labels"
        }
    }
}

/// One file of an export per record and statistical format (Stata, SPSS, Parquet), written from
/// the record's flat rows.
protocol RecordFile {
    var url: URL { get }
    /// `row`: the flat row; `recordRow`: the record-table row it comes from (its `<item>_special` cells).
    func append(_ row: [SQLValue], recordRow: [SQLValue]) throws
    func finish() throws
    /// Stops without finishing; the partial file is removed.
    func abandon()
}

/// `export` jobs: every table of a dictionary's breakout as CSV, plus a `datapackage.json`
/// (Frictionless Data: field types, the value labels as a resource), in a folder named after the
/// export time. Written into a hidden temporary folder next to it and renamed at the end, so a
/// reader never sees a half-written export.
package struct Exporter {
    package let feed: any CaseFeed
    package let schema: BreakoutSchema
    let layout: CaseLayout

    package init(feed: any CaseFeed, options: SchemaOptions) throws {
        self.feed = feed
        schema = try BreakoutSchema(dictionary: feed.dictionary, dialect: SQLiteDialect(), options: options, namespace: "export")
        layout = CaseLayout(feed.dictionary)
    }

    package struct Result: Sendable {
        package var folder: URL
        package var cases: Int
        package var rows: [String: Int]
        package var failed: Int
        /// Cases flagged deleted, left out (the default) or kept with `deleted` = 1.
        package var deleted = 0
        /// Text values longer than an SPSS string holds (32,767 bytes), cut at a character boundary.
        package var truncatedValues = 0
    }

    /// Writes `<directory>/<DICT>/<yyyy-MM-ddTHHmmssZ>/`.
    package func export(
        to directory: URL, at date: Date = Date(), chunkSize: Int = 1000, formats: [ExportFormat] = [.csv],
        includeDeleted: Bool = false, stop: @Sendable () -> Bool = { false }
    ) throws -> Result {
        let csv = formats.contains(.csv)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HHmmss'Z'"
        let parent = directory.appendingPathComponent(feed.dictionary.name)
        let final = parent.appendingPathComponent(f.string(from: date))
        let temporary = parent.appendingPathComponent(".\(f.string(from: date)).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        var completed = false
        // A failed export leaves no partial folder; if even that fails, the hidden temporary folder stays.
        defer { if !completed { try? FileManager.default.removeItem(at: temporary) } }

        let tables = schema.dataTables
        let names = tables.map { Self.fileName($0.name.name) }
        var handles: [FileHandle] = []
        for (table, name) in zip(tables, names) where csv {
            let url = temporary.appendingPathComponent(name)
            guard
                FileManager.default.createFile(
                    atPath: url.path, contents: Data((table.columns.map { Self.csv($0.name) }.joined(separator: ",") + "\r\n").utf8))
            else {
                throw BreakoutError(
                    "the export of \(feed.dictionary.name) cannot create \(url.path) (a full disk, or no permission there); nothing was published"
                )
            }
            handles.append(try FileHandle(forWritingTo: url))
            try handles.last!.seekToEnd()
        }
        // Closing after the last write: the writes themselves reported any failure.
        defer { for h in handles { try? h.close() } }
        // A file per record and statistical format, fed the same flat rows (RecordFile).
        let records = FlatRecord.all(schema, deleted: includeDeleted)
        var files: [[any RecordFile]] = Array(repeating: [], count: records.count)
        var filesDone = false
        defer { if !filesDone { for f in files.joined() { f.abandon() } } }
        func failure(_ file: URL, _ error: StatFileError) -> BreakoutError {
            BreakoutError(
                "the export of \(feed.dictionary.name) could not write \(file.lastPathComponent): \(error); nothing was published")
        }
        for format in [ExportFormat.stata, .spss, .parquet] where formats.contains(format) {
            for (r, flat) in records.enumerated() {
                let url = temporary.appendingPathComponent(flat.record.recordName.lowercased() + "." + format.fileExtension)
                do {
                    switch format {
                    case .stata: files[r].append(try StataExport(flat, schema: schema, url: url, date: date))
                    case .spss: files[r].append(try SPSSExport(flat, schema: schema, url: url, date: date))
                    case .parquet: files[r].append(try ParquetExport(flat, schema: schema, url: url))
                    case .csv: break
                    }
                } catch let error as StatFileError { throw failure(url, error) }
            }
        }
        var rowsPerTable = Array(repeating: 0, count: tables.count)
        let builder = RowBuilder(schema: schema, layout: layout)
        let inflater = try ZlibInflater()
        var mark = Mark.start
        var cases = 0, failed = 0, deleted = 0
        while !stop() {
            let chunk = try feed.cases(after: mark, limit: chunkSize)
            guard let last = chunk.last else { break }
            mark = last.position
            var rows = ChunkRows(tableCount: builder.tableCount)
            for source in chunk {
                do {
                    try builder.appendCase(source, inflater: inflater, to: &rows)
                    cases += 1
                } catch {
                    failed += 1
                }
            }
            // Only current cases, as the analyst views have them, unless asked otherwise.
            deleted += rows.tables[0].reduce(0) { $0 + ($1[4].int64 == 1 ? 1 : 0) }
            if !includeDeleted { rows.removeDeletedCases(schema) }
            if !files.joined().isEmpty {
                let index = ChunkIndex(rows, schema)
                for (flat, record) in zip(records, files) where !record.isEmpty {
                    // The record's flat rows, once for all its files.
                    for (row, recordRow) in flat.rows(rows, schema, index: index) {
                        for file in record {
                            do { try file.append(row, recordRow: recordRow) } catch let error as StatFileError {
                                throw failure(file.url, error)
                            }
                        }
                    }
                }
            }
            for t in rows.tables.indices { rowsPerTable[t] += rows.tables[t].count }
            for t in rows.tables.indices where csv && !rows.tables[t].isEmpty {
                var text = ""
                for row in rows.tables[t] { text += row.map(Self.csv).joined(separator: ",") + "\r\n" }
                // `write(contentsOf:)` throws on a full disk where `write(_:)` would trap.
                do { try handles[t].write(contentsOf: Data(text.utf8)) } catch {
                    throw BreakoutError(
                        "the export of \(feed.dictionary.name) could not write \(names[t]) in \(temporary.path): "
                            + "\(error.localizedDescription) (a full disk?); nothing was published")
                }
            }
        }
        if stop() { throw BreakoutError("the export of \(feed.dictionary.name) was stopped before the end; nothing was published") }
        for file in files.joined() {
            do { try file.finish() } catch let error as StatFileError { throw failure(file.url, error) }
        }
        filesDone = true
        if csv {
            let labels = temporary.appendingPathComponent("value_labels.csv")
            var text = schema.valueLabels.columns.map { Self.csv($0.name) }.joined(separator: ",") + "\r\n"
            let engine = BreakoutEngineLabels(schema: schema, dictionary: feed.dictionary)
            for row in engine.rows() { text += row.map(Self.csv).joined(separator: ",") + "\r\n" }
            try Data(text.utf8).write(to: labels)
        }
        try datapackage(
            tables: csv ? tables : [], names: csv ? names : [], files: files.joined().map(\.url.lastPathComponent)
        )
        .write(to: temporary.appendingPathComponent("datapackage.json"))
        for h in handles { try h.synchronize() }
        try FileManager.default.moveItem(at: temporary, to: final)
        completed = true
        var perTable: [String: Int] = [:]
        for (t, table) in tables.enumerated() { perTable[table.name.name] = rowsPerTable[t] }
        var result = Result(folder: final, cases: includeDeleted ? cases : cases - deleted, rows: perTable, failed: failed)
        result.deleted = deleted
        result.truncatedValues = files.joined().reduce(0) { $0 + (($1 as? SPSSExport)?.writer.truncated ?? 0) }
        return result
    }

    static func fileName(_ table: String) -> String {
        String(table.dropFirst("export_".count)) + ".csv"
    }

    /// RFC 4180: quoted when needed; NULL is an empty field.
    static func csv(_ value: SQLValue) -> String {
        switch value {
        case .null: return ""
        case .text(let s): return csv(s)
        default: return value.string ?? ""
        }
    }

    static func csv(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") else {
            return s
        }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func datapackage(
        tables: [TableDefinition], names: [String], files: [String] = []
    ) throws -> Data {
        func type(_ t: SQLType) -> String {
            switch t {
            case .integer, .bigint: "integer"
            case .decimal, .double: "number"
            case .timestamp: "datetime"
            default: "string"
            }
        }
        var labelsByColumn: [String: String] = [:]
        for record in schema.records {
            for column in record.columns where !column.item.valueSets.isEmpty {
                labelsByColumn["\(record.table.name.name).\(column.name)"] = column.item.name
            }
        }
        var resources: [[String: Any]] = []
        for (table, name) in zip(tables, names) {
            resources.append([
                "name": String(name.dropLast(4)).lowercased().replacingOccurrences(of: "(", with: "_").replacingOccurrences(
                    of: ")", with: ""),
                "path": name, "profile": "tabular-data-resource", "format": "csv", "encoding": "utf-8",
                "schema": [
                    "fields": table.columns.map { c -> [String: Any] in
                        var field: [String: Any] = ["name": c.name, "type": type(c.type)]
                        if let item = labelsByColumn["\(table.name.name).\(c.name)"] {
                            field["description"] = "labels: value_labels.csv where item = \(item)"
                        }
                        return field
                    }, "primaryKey": table.primaryKey,
                ] as [String: Any],
            ])
        }
        for file in files {
            guard let format = ExportFormat.allCases.first(where: { file.hasSuffix("." + $0.fileExtension) }) else { continue }
            resources.append([
                "name": String(file.dropLast(format.fileExtension.count + 1)) + "-" + format.rawValue, "path": file,
                "format": format.fileExtension, "mediatype": format.mediaType, "description": format.resourceDescription,
            ])
        }
        if !tables.isEmpty {
            resources.append([
                "name": "value_labels", "path": "value_labels.csv", "profile": "tabular-data-resource", "format": "csv",
                "encoding": "utf-8",
                "schema": ["fields": schema.valueLabels.columns.map { ["name": $0.name, "type": "string"] }],
            ])
        }
        let package: [String: Any] = [
            "name": feed.dictionary.name.lowercased().replacingOccurrences(of: "_", with: "-"),
            "title": feed.dictionary.labels.first?.text ?? feed.dictionary.name,
            "profile": "tabular-data-package", "created": ISO8601DateFormatter().string(from: Date()),
            "source": feed.description, "resources": resources,
        ]
        return try JSONSerialization.data(withJSONObject: package, options: [.prettyPrinted, .sortedKeys])
    }
}

/// The value-label rows, shared with the breakout's `value_labels` table.
struct BreakoutEngineLabels {
    let schema: BreakoutSchema
    let dictionary: CSProDictionary

    func rows() -> [[SQLValue]] {
        var items: [Item] = dictionary.levels.flatMap(\.ids)
        for record in schema.records {
            var seen = Set<String>()
            for column in record.columns where seen.insert(column.item.name).inserted { items.append(column.item) }
        }
        var rows: [[SQLValue]] = []
        for item in items {
            for set in item.valueSets {
                for value in set.values {
                    guard let piece = value.pieces.first else { continue }
                    for label in value.labels.isEmpty ? [Label("")] : value.labels {
                        rows.append([
                            .text(item.name), .text(set.name), .text(piece.from), piece.to.map { .text($0) } ?? .null,
                            value.special.map { .text($0.rawValue) } ?? .null, .text(label.language ?? ""), .text(label.text),
                        ])
                    }
                }
            }
        }
        return rows
    }
}
