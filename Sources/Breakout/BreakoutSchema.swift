import CSPro
import Diagnostics
import SQL

/// Which records and items a breakout keeps, with CSWeb's `processCasesOptions` semantics: an empty
/// `include` keeps everything; a record named in `include` keeps all its items; an item named in
/// `include` keeps its record with only the named items (ids always stay); `exclude` removes
/// records or items after that. Names are compared without case.
package struct RecordSelection: Sendable, Hashable, Codable {
    package var include: [String]
    package var exclude: [String]

    package init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }

    package static let everything = RecordSelection()
}

/// Options that shape a dictionary's destination tables.
package struct SchemaOptions: Sendable, Hashable {
    package var naming: Naming
    package var selection: RecordSelection
    /// The language of the labels in the analyst views and comments (a connection's
    /// `labels_language:`); nil for the dictionary's first.
    package var labelsLanguage: String?
    /// Whether the destination has the `variables` table and the analyst views: always for this
    /// version; false for the stored options of a destination an older version created, so that
    /// its next run creates them as a migration (``BreakoutEngine/schemaChange(_:)``).
    package var analystObjects = true
    /// What cells hold for special values (`specials:`).
    package var specials: SpecialValues

    package init(
        naming: Naming = .csweb, selection: RecordSelection = .everything, labelsLanguage: String? = nil,
        specials: SpecialValues = .null
    ) {
        self.naming = naming
        self.selection = selection
        self.labelsLanguage = labelsLanguage
        self.specials = specials
    }
}

/// A selection naming a record or item the dictionary does not have.
package struct SchemaError: UserFacingError, Sendable {
    package var message: String
    package var hint: String?
    package init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    package var description: String { message }
}

/// The destination tables of one dictionary in one dialect, and where every value goes.
///
/// Tables (CSWeb naming; `naming: sql` replaces `-` and `(n)` by `_`): `cases` (one row per case,
/// flags and partial save), `notes`, `level-1` … `level-N` (one row per level node; `level-1` has
/// `case-id`, deeper levels the parent's id and `occ`), one table per record (`<record>-id`, the
/// level's id, `occ` when the record repeats, one column per item occurrence), `value_labels`, and
/// four bookkeeping tables: `breakout_state` (dictionary, digest, progress mark),
/// `breakout_chunks` (committed chunks not yet folded into the mark), `breakout_errors` and
/// `breakout_counts` (the row ledger).
/// On PostgreSQL and SQL Server the tables live in a schema named after the dictionary; on MySQL
/// and SQLite their names carry the dictionary as a prefix.
package struct BreakoutSchema: Sendable {
    package let dictionary: CSProDictionary
    package let namespace: String
    package let dialect: any SQLDialect
    package let options: SchemaOptions
    package let cases: TableDefinition
    package let notes: TableDefinition
    package let levels: [LevelTable]
    package let records: [RecordTable]
    package let valueLabels: TableDefinition
    /// The codebook as a table: one row per item and language (AnalystViews.swift).
    package let variables: TableDefinition
    /// One analyst view per record (AnalystViews.swift).
    package let views: [ViewDefinition]
    /// The language labels are taken from: `labelsLanguage` as the dictionary spells it, or its
    /// first language (nil for a single-language dictionary).
    package let language: String?
    package let state: TableDefinition
    package let chunks: TableDefinition
    package let errors: TableDefinition
    /// The row ledger: rows each data table gained or lost, one row per table and committed chunk
    /// (folded into one per table at the end of a run); drift is a count that differs (RowLedger.swift).
    package let counts: TableDefinition

    /// One level's node table.
    package struct LevelTable: Sendable {
        package var level: Int
        package var table: TableDefinition
        package var idColumn: String
        /// The parent level's id column (nil for level 1, which has `case-id`).
        package var parentColumn: String?
        /// Id items in column order.
        package var ids: [Column]
    }

    /// One record's table.
    package struct RecordTable: Sendable {
        package var level: Int
        /// Index of the record in ``CaseLayout/records``.
        package var recordIndex: Int
        package var recordName: String
        package var table: TableDefinition
        package var idColumn: String
        package var parentColumn: String
        package var hasOccurrence: Bool
        package var columns: [Column]
    }

    /// A column holding one occurrence of one item.
    package struct Column: Sendable {
        package var name: String
        package var item: Item
        package var occurrence: Int
        /// Index of the value in the record's slots (``RecordLayout/shape``); -1 for id items.
        package var slot: Int
        package var type: SQLType
        /// With `specials: codes|columns`, how this column treats special values (nil: NULL).
        package var specials: SpecialMap? = nil
        /// The `<item>_special` column of `specials: columns`: the special value's name, else NULL.
        package var holdsSpecial = false
    }

    /// An item's special values and the codes its first value set gives them.
    package struct SpecialMap: Sendable {
        package var mode: SpecialValues
        /// The code of each special value, typed like the item's column (`codes`).
        package var code: [Special: SQLValue]
        /// The special value of each code (`columns`: such a code is not a value).
        package var special: [Double: Special]

        init(_ item: Item, type: SQLType, mode: SpecialValues) {
            self.mode = mode
            var code: [Special: SQLValue] = [:]
            var special: [Double: Special] = [:]
            for value in item.valueSets.first?.values ?? [] {
                guard let s = value.special, let piece = value.pieces.first, let typed = BreakoutSchema.typed(piece.from, type) else {
                    continue
                }
                if code[s] == nil { code[s] = typed }
                if let d = Double(piece.from.trimmingCharacters(in: .whitespaces)), special[d] == nil { special[d] = s }
            }
            self.code = code
            self.special = special
        }
    }

    package init(
        dictionary: CSProDictionary, dialect: any SQLDialect, options: SchemaOptions = SchemaOptions(),
        namespace: String? = nil
    ) throws {
        self.dictionary = dictionary
        self.dialect = dialect
        self.options = options
        let ns = namespace ?? dictionary.name.lowercased()
        self.namespace = ns
        let naming = options.naming
        func table(_ name: String) -> QualifiedName { dialect.namespaced(name, in: ns) }
        func levelName(_ l: Int) -> String { naming == .csweb ? "level-\(l + 1)" : "level_\(l + 1)" }
        func idName(_ base: String) -> String { naming == .csweb ? "\(base)-id" : "\(base)_id" }
        let caseID = naming == .csweb ? "case-id" : "case_id"
        func indexName(_ t: QualifiedName, _ column: String) -> String {
            let base = t.name + (naming == .csweb ? "-" : "_") + column
            return base
        }

        let casesName = table("cases")
        cases = TableDefinition(
            casesName,
            columns: [
                ColumnDefinition("id", .varchar(64), nullable: false),
                ColumnDefinition("key", .varchar(191), nullable: false),
                ColumnDefinition("label", .varchar(255)),
                ColumnDefinition("last_modified_revision", .bigint, nullable: false),
                ColumnDefinition("deleted", .integer, nullable: false),
                ColumnDefinition("verified", .integer, nullable: false),
                ColumnDefinition("partial_save_mode", .varchar(16)),
                ColumnDefinition("partial_save_field_name", .varchar(191)),
                ColumnDefinition("partial_save_level_key", .varchar(191)),
                ColumnDefinition("partial_save_record_occurrence", .integer),
                ColumnDefinition("partial_save_item_occurrence", .integer),
                ColumnDefinition("partial_save_subitem_occurrence", .integer),
            ], primaryKey: ["id"], indexes: [IndexDefinition(indexName(casesName, "key"), on: casesName, ["key"])])
        let notesName = table("notes")
        notes = TableDefinition(
            notesName,
            columns: [
                ColumnDefinition("case_id", .varchar(64), nullable: false),
                ColumnDefinition("field_name", .varchar(191), nullable: false),
                ColumnDefinition("level_key", .varchar(191), nullable: false),
                ColumnDefinition("record_occurrence", .integer, nullable: false),
                ColumnDefinition("item_occurrence", .integer, nullable: false),
                ColumnDefinition("subitem_occurrence", .integer, nullable: false),
                ColumnDefinition("content", .text, nullable: false),
                ColumnDefinition("operator_id", .varchar(191), nullable: false),
                ColumnDefinition("modified_time", .varchar(32), nullable: false),
            ], foreignKeys: [ForeignKey(["case_id"], references: casesName, ["id"])],
            indexes: [IndexDefinition(indexName(notesName, "case_id"), on: notesName, ["case_id"])])

        let selected = try Self.select(dictionary, options.selection)
        let layout = CaseLayout(dictionary)
        var levels: [LevelTable] = []
        var records: [RecordTable] = []
        var usedNames: [String: String] = [
            "cases": "the cases table", "notes": "the notes table", "value_labels": "the value labels table",
            "variables": "the variables table",
            "breakout_state": "bookkeeping", "breakout_chunks": "bookkeeping", "breakout_errors": "bookkeeping",
            "breakout_counts": "bookkeeping",
        ]
        for (l, level) in dictionary.levels.enumerated() {
            let name = table(levelName(l))
            usedNames[levelName(l)] = "level \(l + 1)"
            let idColumn = idName(levelName(l))
            var columns = [ColumnDefinition(idColumn, .bigint, nullable: false)]
            var foreignKeys: [ForeignKey] = []
            var indexes: [IndexDefinition] = []
            var uniqueKeys: [[String]] = []
            var parentColumn: String?
            if l == 0 {
                columns.append(ColumnDefinition(caseID, .varchar(64), nullable: false))
                foreignKeys.append(ForeignKey([caseID], references: casesName, ["id"]))
                uniqueKeys.append([caseID])
            } else {
                let parent = idName(levelName(l - 1))
                parentColumn = parent
                columns.append(ColumnDefinition(parent, .bigint, nullable: false))
                columns.append(ColumnDefinition("occ", .integer, nullable: false))
                foreignKeys.append(ForeignKey([parent], references: levels[l - 1].table.name, [levels[l - 1].idColumn]))
                indexes.append(IndexDefinition(indexName(name, parent), on: name, [parent]))
            }
            var ids: [Column] = []
            for item in level.ids where !item.contentType.isBinary {
                let column = Column(
                    name: Self.columnName(item.name, occurrence: nil, naming), item: item, occurrence: 0, slot: -1,
                    type: Self.sqlType(item))
                ids.append(column)
                columns.append(ColumnDefinition(column.name, column.type))
            }
            levels.append(
                LevelTable(
                    level: l,
                    table: TableDefinition(
                        name, columns: columns, primaryKey: [idColumn], uniqueKeys: uniqueKeys,
                        foreignKeys: foreignKeys, indexes: indexes),
                    idColumn: idColumn, parentColumn: parentColumn, ids: ids))
            for recordLayout in layout.records where recordLayout.level == l {
                guard let keep = selected[recordLayout.record.name] else { continue }
                let base = recordLayout.record.name.lowercased()
                if let other = usedNames[base] {
                    throw SchemaError(
                        "dictionary \(dictionary.name): record \(recordLayout.record.name) would be named \"\(base)\", which is already \(other); exclude one of them (exclude: [\(recordLayout.record.name)]) or rename the record in the dictionary"
                    )
                }
                usedNames[base] = "record \(recordLayout.record.name)"
                let tableName = table(base)
                let recordID = idName(base)
                let parent = idName(levelName(l))
                var defs = [ColumnDefinition(recordID, .bigint, nullable: false), ColumnDefinition(parent, .bigint, nullable: false)]
                let repeats = recordLayout.record.maxOccurrences > 1
                if repeats { defs.append(ColumnDefinition("occ", .integer, nullable: false)) }
                var cols: [Column] = []
                var seen = Set(defs.map(\.name))
                for (slotIndex, name) in recordLayout.shape.names.enumerated() {
                    guard keep.contains(name.uppercased()),
                        let field = recordLayout.fields.first(where: { $0.item.name == name })
                    else { continue }
                    let count = recordLayout.shape.counts[slotIndex]
                    for occ in 0..<count {
                        let columnName = Self.columnName(name, occurrence: count > 1 ? occ + 1 : nil, naming)
                        guard seen.insert(columnName).inserted else {
                            throw SchemaError(
                                "dictionary \(dictionary.name): item \(name) of record \(recordLayout.record.name) would make a second column \"\(columnName)\"; exclude one of them"
                            )
                        }
                        var column = Column(
                            name: columnName, item: field.item, occurrence: occ, slot: recordLayout.shape.offsets[slotIndex] + occ,
                            type: Self.sqlType(field.item))
                        let numeric = field.item.contentType == .numeric
                        if options.specials != .null, numeric {
                            column.specials = SpecialMap(field.item, type: column.type, mode: options.specials)
                        }
                        cols.append(column)
                        if options.specials == .columns, numeric {
                            let flagName = columnName + (naming == .csweb ? "-special" : "_special")
                            guard seen.insert(flagName).inserted else {
                                throw SchemaError(
                                    "dictionary \(dictionary.name): the special-value column of item \(name) of record \(recordLayout.record.name) would be \"\(flagName)\", already a column; exclude one of them or use specials: codes"
                                )
                            }
                            var flag = column
                            flag.name = flagName
                            flag.type = .varchar(8)
                            flag.holdsSpecial = true
                            cols.append(flag)
                        }
                    }
                }
                defs += cols.map { ColumnDefinition($0.name, $0.type) }
                if defs.count > dialect.maxColumnsPerTable {
                    throw SchemaError(
                        "dictionary \(dictionary.name): record \(recordLayout.record.name) needs \(defs.count) columns (one per item occurrence), "
                            + "more than the \(dialect.maxColumnsPerTable) a \(dialect.engine.rawValue) table can have; exclude the record "
                            + "(exclude: [\(recordLayout.record.name)]) or some of its items")
                }
                records.append(
                    RecordTable(
                        level: l, recordIndex: recordLayout.index, recordName: recordLayout.record.name,
                        table: TableDefinition(
                            tableName, columns: defs, primaryKey: [recordID],
                            foreignKeys: [ForeignKey([parent], references: name, [idColumn])],
                            indexes: [IndexDefinition(indexName(tableName, parent), on: tableName, [parent])]),
                        idColumn: recordID, parentColumn: parent, hasOccurrence: repeats, columns: cols))
            }
        }
        self.levels = levels
        self.records = records
        var data = [cases, notes]
        for level in levels {
            data.append(level.table)
            data += records.filter { $0.level == level.level }.map(\.table)
        }
        dataTables = data

        if let wanted = options.labelsLanguage {
            guard let found = dictionary.labelLanguage(named: wanted) else {
                let known = dictionary.labelLanguages
                throw SchemaError(
                    "labels_language: dictionary \(dictionary.name) has no language \"\(wanted)\""
                        + (known.isEmpty ? " (it has a single, unnamed language)" : "; it has \(known.joined(separator: ", "))"),
                    hint: "name one of the dictionary's languages, or remove labels_language to use its first")
            }
            language = found
        } else {
            language = dictionary.labelLanguages.first
        }
        views =
            options.analystObjects
            ? try Self.analystViews(
                records: records, levels: levels, cases: cases, namespace: ns, dialect: dialect, language: language,
                taken: Set(usedNames.keys)) : []
        variables = TableDefinition(
            table("variables"),
            columns: [
                ColumnDefinition("level", .integer, nullable: false),
                ColumnDefinition("record", .varchar(191)),
                ColumnDefinition("item", .varchar(191), nullable: false),
                ColumnDefinition("language", .varchar(32), nullable: false),
                ColumnDefinition("label", .text, nullable: false),
                ColumnDefinition("content_type", .varchar(16), nullable: false),
                ColumnDefinition("start_position", .integer, nullable: false),
                ColumnDefinition("length", .integer, nullable: false),
                ColumnDefinition("decimals", .integer, nullable: false),
                ColumnDefinition("occurrences", .integer, nullable: false),
                ColumnDefinition("subitem_of", .varchar(191)),
                ColumnDefinition("value_set", .varchar(191)),
                ColumnDefinition("table_columns", .text, nullable: false),
                ColumnDefinition("view_columns", .text, nullable: false),
            ])
        valueLabels = TableDefinition(
            table("value_labels"),
            columns: [
                ColumnDefinition("item", .varchar(191), nullable: false),
                ColumnDefinition("value_set", .varchar(191), nullable: false),
                ColumnDefinition("value", .varchar(191), nullable: false),
                ColumnDefinition("value_to", .varchar(191)),
                ColumnDefinition("special", .varchar(16)),
                ColumnDefinition("language", .varchar(32), nullable: false),
                ColumnDefinition("label", .text, nullable: false),
            ])
        state = TableDefinition(
            table("breakout_state"),
            columns: [
                ColumnDefinition("dictionary", .varchar(191), nullable: false),
                ColumnDefinition("dictionary_digest", .varchar(64), nullable: false),
                ColumnDefinition("dictionary_model", .text, nullable: false),
                ColumnDefinition("schema_options", .text, nullable: false),
                ColumnDefinition("source_fingerprint", .varchar(191), nullable: false),
                ColumnDefinition("mark_revision", .bigint, nullable: false),
                ColumnDefinition("mark_id", .bigint, nullable: false),
                ColumnDefinition("updated_at", .timestamp, nullable: false),
            ], primaryKey: ["dictionary"])
        chunks = TableDefinition(
            table("breakout_chunks"),
            columns: [
                ColumnDefinition("after_revision", .bigint, nullable: false),
                ColumnDefinition("after_id", .bigint, nullable: false),
                ColumnDefinition("through_revision", .bigint, nullable: false),
                ColumnDefinition("through_id", .bigint, nullable: false),
                ColumnDefinition("cases", .integer, nullable: false),
                ColumnDefinition("committed_at", .timestamp, nullable: false),
            ], primaryKey: ["after_revision", "after_id"])
        errors = TableDefinition(
            table("breakout_errors"),
            columns: [
                ColumnDefinition("case_id", .varchar(64), nullable: false),
                ColumnDefinition("case_key", .varchar(191), nullable: false),
                ColumnDefinition("revision", .bigint, nullable: false),
                ColumnDefinition("reason", .text, nullable: false),
                ColumnDefinition("recorded_at", .timestamp, nullable: false),
            ], primaryKey: ["case_id"])
        counts = TableDefinition(
            table("breakout_counts"),
            columns: [
                ColumnDefinition("table_name", .varchar(191), nullable: false),
                ColumnDefinition("row_delta", .bigint, nullable: false),
                ColumnDefinition("recorded_at", .timestamp, nullable: false),
            ])
    }

    /// Every table in creation order (parents before children).
    package var allTables: [TableDefinition] {
        [state, chunks, errors, counts] + dataTables + [valueLabels] + (options.analystObjects ? [variables] : [])
    }

    /// Data tables in the order rows must be loaded (parents first).
    package let dataTables: [TableDefinition]

    /// The statements that create every table (and the schema, where the engine has one per dictionary).
    package func createStatements() -> [SQLStatement] {
        var out: [SQLStatement] = []
        if dialect.namespacing == .schema { out.append(.createSchema(namespace, ifNotExists: true)) }
        out += allTables.map { .createTable($0) }
        return out
    }

    /// The column name of an item occurrence (`occurrence` 1-based, nil for a single one).
    static func columnName(_ item: String, occurrence: Int?, _ naming: Naming) -> String {
        let base = item.lowercased()
        guard let occurrence else { return base }
        return naming == .csweb ? "\(base)(\(occurrence))" : "\(base)_\(occurrence)"
    }

    /// Column type from the item: whole numbers as integer/bigint, decimals exact, alpha as varchar.
    static func sqlType(_ item: Item) -> SQLType {
        switch item.contentType {
        case .alpha: return .varchar(max(item.length, 1))
        case .numeric:
            if item.decimals > 0 { return .decimal(precision: max(item.length, item.decimals + 1), scale: item.decimals) }
            if item.length <= 9 { return .integer }
            if item.length <= 18 { return .bigint }
            return .decimal(precision: item.length, scale: 0)
        default: return .text
        }
    }

    /// Record name → kept item names (uppercased), after include/exclude.
    static func select(_ dictionary: CSProDictionary, _ selection: RecordSelection) throws -> [String: Set<String>] {
        var recordNames: [String: String] = [:]
        var itemRecord: [String: String] = [:]
        for level in dictionary.levels {
            for record in level.records {
                recordNames[record.name.uppercased()] = record.name
                for item in record.items { itemRecord[item.name.uppercased()] = record.name }
            }
            for id in level.ids { itemRecord[id.name.uppercased()] = "" }
        }
        for name in selection.include + selection.exclude {
            let key = name.uppercased()
            if recordNames[key] == nil, itemRecord[key] == nil {
                let candidates = Array(recordNames.values) + itemRecord.keys.map { $0 }
                let hint = candidates.min { editDistance($0.uppercased(), key) < editDistance($1.uppercased(), key) }
                throw SchemaError(
                    "include/exclude names \"\(name)\", which is neither a record nor an item of dictionary \(dictionary.name)"
                        + (hint.map { "; did you mean \($0)?" } ?? ""))
            }
            if itemRecord[key] == "" {
                throw SchemaError(
                    "include/exclude names \"\(name)\", an id item of dictionary \(dictionary.name); id items are always kept")
            }
        }
        let include = Set(selection.include.map { $0.uppercased() })
        let exclude = Set(selection.exclude.map { $0.uppercased() })
        var out: [String: Set<String>] = [:]
        for level in dictionary.levels {
            for record in level.records {
                let r = record.name.uppercased()
                if exclude.contains(r) { continue }
                let all = Set(record.items.map { $0.name.uppercased() })
                var kept: Set<String>
                if include.isEmpty || include.contains(r) {
                    kept = all
                } else {
                    kept = all.intersection(include)
                    if kept.isEmpty { continue }
                }
                kept.subtract(exclude)
                out[record.name] = kept
            }
        }
        return out
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
