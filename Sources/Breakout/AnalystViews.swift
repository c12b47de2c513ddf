import CSPro
import Foundation
import SQL

// The views analysts query (docs/breakout.md, "Views for analysts"): one per record, with plain
// names, the case and every ancestor level's ids on each row, a text label next to each coded
// item, and only the current cases. They hold no rows: they are created after the tables, and
// dropped and created again whenever the tables or the labels change.

extension BreakoutSchema {
    /// Words some engine reserves (PostgreSQL, MySQL/MariaDB, SQL Server, SQLite, SQL:2016): a view
    /// column named like one gets a trailing `_`, so no name in a view ever needs quoting.
    static let reservedWords: Set<String> = [
        "abort", "absolute", "accessible", "action", "add", "after", "all", "alter", "always", "analyse", "analyze", "and",
        "any", "array", "as", "asc", "asensitive", "attach", "authorization", "autoincrement", "backup", "before", "begin",
        "between", "bigint", "binary", "blob", "both", "break", "browse", "bulk", "by", "call", "cascade", "case", "cast",
        "change", "char", "character", "check", "checkpoint", "close", "clustered", "coalesce", "collate", "column",
        "commit", "compute", "condition", "conflict", "constraint", "contains", "containstable", "continue", "convert",
        "create", "cross", "cube", "current", "current_date", "current_role", "current_time", "current_timestamp",
        "current_user", "cursor", "database", "databases", "date", "day_hour", "day_microsecond", "day_minute",
        "day_second", "dbcc", "deallocate", "dec", "decimal", "declare", "default", "deferrable", "deferred", "delayed",
        "delete", "deny", "desc", "describe", "detach", "deterministic", "disk", "distinct", "distinctrow", "distributed",
        "div", "do", "double", "drop", "dual", "dump", "each", "else", "elseif", "enclosed", "end", "errlvl", "escape",
        "escaped", "except", "exclusive", "exec", "execute", "exists", "exit", "explain", "external", "false", "fetch",
        "file", "fillfactor", "filter", "first", "float", "float4", "float8", "following", "for", "force", "foreign",
        "freetext", "freetexttable", "freeze", "from", "full", "fulltext", "function", "generated", "get", "glob", "goto",
        "grant", "group", "grouping", "groups", "having", "high_priority", "holdlock", "hour_microsecond", "hour_minute",
        "hour_second", "identity", "identity_insert", "identitycol", "if", "ignore", "ilike", "immediate", "in", "index",
        "indexed", "infile", "initially", "inner", "inout", "insensitive", "insert", "instead", "int", "int1", "int2",
        "int3", "int4", "int8", "integer", "intersect", "interval", "into", "io_after_gtids", "io_before_gtids", "is",
        "isnull", "iterate", "join", "json_table", "key", "keys", "kill", "lateral", "lead", "leading", "leave", "left",
        "like", "limit", "linear", "lineno", "lines", "load", "localtime", "localtimestamp", "lock", "long", "longblob",
        "longtext", "loop", "low_priority", "master_bind", "match", "maxvalue", "mediumblob", "mediumint", "mediumtext",
        "merge", "middleint", "minute_microsecond", "minute_second", "mod", "modifies", "national", "natural", "no",
        "nocheck", "nonclustered", "not", "nothing", "notnull", "null", "nullif", "numeric", "of", "off", "offset",
        "offsets", "on", "only", "open", "opendatasource", "openquery", "openrowset", "openxml", "optimize", "option",
        "optionally", "or", "order", "others", "out", "outer", "outfile", "over", "overlaps", "partition", "percent",
        "pivot", "placing", "plan", "pragma", "preceding", "precision", "primary", "print", "proc", "procedure", "public",
        "purge", "raise", "raiserror", "range", "rank", "read", "reads", "readtext", "real", "reconfigure", "recursive",
        "references", "regexp", "reindex", "release", "rename", "repeat", "replace", "replication", "require", "restore",
        "restrict", "resignal", "return", "returning", "revert", "revoke", "right", "rlike", "rollback", "row", "row_number",
        "rowcount", "rowguidcol", "rows", "rule", "save", "savepoint", "schema", "schemas", "second_microsecond", "securityaudit",
        "select", "semantickeyphrasetable", "semanticsimilaritydetailstable", "semanticsimilaritytable", "sensitive",
        "separator", "session_user", "set", "setuser", "show", "shutdown", "signal", "similar", "smallint", "some",
        "spatial", "specific", "sql", "sql_big_result", "sql_calc_found_rows", "sql_small_result", "sqlexception",
        "sqlstate", "sqlwarning", "ssl", "starting", "statistics", "stored", "straight_join", "symmetric", "system",
        "system_user", "table", "tablesample", "temp", "temporary", "terminated", "textsize", "then", "ties", "tinyblob",
        "tinyint", "tinytext", "to", "top", "trailing", "tran", "transaction", "trigger", "true", "truncate", "try_convert",
        "tsequal", "unbounded", "undo", "union", "unique", "unlock", "unpivot", "unsigned", "update", "updatetext", "usage",
        "use", "user", "using", "utc_date", "utc_time", "utc_timestamp", "vacuum", "values", "varbinary", "varchar",
        "varcharacter", "variadic", "varying", "verbose", "view", "virtual", "waitfor", "when", "where", "while", "window",
        "with", "within", "without", "write", "writetext", "xor", "year_month", "zerofill",
    ]

    /// A name no engine needs quoted: lowercase letters, digits and `_`, starting with a letter,
    /// not a reserved word.
    static func plainName(_ name: String) -> String {
        // `p05(1)` → `p05_1`, `level-1-id` → `level_1_id`.
        let base = name.lowercased().replacingOccurrences(of: "(", with: "_").replacingOccurrences(of: ")", with: "")
        var out = String(base.unicodeScalars.map { ("a"..."z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_" })
        if out.first.map({ !("a"..."z").contains($0) }) ?? true { out = "v_" + out }
        if reservedWords.contains(out) { out += "_" }
        return out
    }

    /// The values of an item's first value set with their labels in the schema's language, for the
    /// statistical exports: single values, and ranges of fewer than 1,000 whole values spelled out;
    /// a value takes the first label that covers it (as in CSPro).
    func labelledValues(_ item: Item) -> [(value: Double, label: String, special: Special?)] {
        var out: [(value: Double, label: String, special: Special?)] = []
        var seen = Set<Double>()
        for value in item.valueSets.first?.values ?? [] {
            let text = Self.text(value.labels, in: language)
            for piece in value.pieces {
                guard let from = Double(piece.from.trimmingCharacters(in: .whitespaces)) else { continue }
                let to = piece.to.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? from
                guard to >= from, to - from < 1000, from == from.rounded() || to == from else { continue }
                var v = from
                while v <= to {
                    if seen.insert(v).inserted { out.append((v, text, value.special)) }
                    v += 1
                }
            }
        }
        return out
    }

    /// The dictionary's labels of a kept record.
    func labels(of record: RecordTable) -> [Label] {
        dictionary.levels[record.level].records.first { $0.name == record.recordName }?.labels ?? []
    }

    /// The text of `labels` in `language` (nil: the first label), else the first one.
    static func text(_ labels: [Label], in language: String?) -> String {
        (labels.first { $0.language == language } ?? labels.first)?.text ?? ""
    }

    /// The label cases of an item's first value set, typed like its column.
    /// A value as a value set writes it, typed like a column of `type`; nil when it is not one.
    static func typed(_ s: String, _ type: SQLType) -> SQLValue? {
        switch type {
        case .varchar:
            var t = Substring(s)
            while t.last == " " { t.removeLast() }
            return .text(String(t))
        case .integer, .bigint: return Int64(s.trimmingSpaces).map { .integer($0) }
        case .decimal: return SQLDecimal(s.trimmingSpaces).map { .decimal($0) }
        default: return nil
        }
    }

    static func labelCases(_ item: Item, type: SQLType, language: String?) -> [LabelCase] {
        guard let set = item.valueSets.first else { return [] }
        func typed(_ s: String) -> SQLValue? { Self.typed(s, type) }
        var cases: [LabelCase] = []
        for value in set.values {
            let label = text(value.labels, in: language)
            for piece in value.pieces {
                guard let from = typed(piece.from) else { continue }
                if let to = piece.to, !to.isEmpty {
                    guard let upper = typed(to) else { continue }
                    cases.append(LabelCase(from: from, to: upper, label: label))
                } else {
                    cases.append(LabelCase(from: from, label: label))
                }
            }
        }
        return cases
    }

    /// The analyst view of each record (``BreakoutSchema/views``).
    static func analystViews(
        records: [RecordTable], levels: [LevelTable], cases: TableDefinition, namespace: String, dialect: any SQLDialect,
        language: String?, taken: Set<String>
    ) throws -> [ViewDefinition] {
        try records.map { record in
            let viewName = "\(record.recordName.lowercased())_view"
            if taken.contains(viewName) {
                throw SchemaError(
                    "dictionary record \(record.recordName): its analyst view would be named \"\(viewName)\", which is already a table; "
                        + "rename or exclude the record named \(viewName.uppercased())")
            }
            var names = Set<String>()
            var columns: [ViewColumn] = []
            func add(_ name: String, _ value: ViewValue) {
                var n = name
                while !names.insert(n).inserted { n += "_" }
                columns.append(ViewColumn(n, value))
            }
            func addItem(_ name: String, _ item: Item, _ type: SQLType, _ ref: ViewColumnReference, special: Bool = false) {
                let plain = plainName(name)
                add(plain, .column(ref))
                if !special, !item.valueSets.isEmpty {
                    add(plainName(plain + "_label"), .label(ref, labelCases(item, type: type, language: language)))
                }
            }
            add("case_id", .column(ViewColumnReference("c", "id")))
            add("case_key", .column(ViewColumnReference("c", "key")))
            add("partial_save", .isSet(ViewColumnReference("c", "partial_save_mode")))
            var joins: [ViewJoin] = []
            for level in levels.prefix(record.level + 1) {
                let alias = "l\(level.level + 1)"
                add("level_\(level.level + 1)_id", .column(ViewColumnReference(alias, level.idColumn)))
                for id in level.ids { addItem(id.name, id.item, id.type, ViewColumnReference(alias, id.name)) }
            }
            add(plainName(record.recordName + "_id"), .column(ViewColumnReference("r", record.idColumn)))
            if record.hasOccurrence { add("occ", .column(ViewColumnReference("r", "occ"))) }
            for column in record.columns {
                addItem(column.name, column.item, column.type, ViewColumnReference("r", column.name), special: column.holdsSpecial)
            }
            // From the record up: its level, each ancestor level, the case.
            var child = ViewColumnReference("r", record.parentColumn)
            for level in levels.prefix(record.level + 1).reversed() {
                let alias = "l\(level.level + 1)"
                joins.append(ViewJoin(ViewTable(level.table.name, as: alias), on: level.idColumn, equals: child))
                child = ViewColumnReference(alias, level.parentColumn ?? level.table.columns[1].name)
            }
            joins.append(ViewJoin(ViewTable(cases.name, as: "c"), on: "id", equals: child))
            return ViewDefinition(
                name: dialect.namespaced(viewName, in: namespace), from: ViewTable(record.table.name, as: "r"), joins: joins,
                columns: columns, filter: [ViewCondition(ViewColumnReference("c", "deleted"), equals: .integer(0))])
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var t = Substring(self)
        while t.first == " " { t.removeFirst() }
        while t.last == " " { t.removeLast() }
        return String(t)
    }
}

extension BreakoutSchema {
    /// Rows of the `variables` table: each id item of each level, then each kept item of each kept
    /// record, once per language of the dictionary (once with language "" when it has one).
    package func variableRows() -> [[SQLValue]] {
        // The view column of each table column, by table and column name.
        var viewColumn: [QualifiedName: [String: String]] = [:]
        for (record, view) in zip(records, views) {
            let aliases = Dictionary(uniqueKeysWithValues: [("r", record.table.name)] + levels.map { ("l\($0.level + 1)", $0.table.name) })
            for column in view.columns {
                guard case .column(let ref) = column.value, let table = aliases[ref.alias] else { continue }
                viewColumn[table, default: [:]][ref.column] = viewColumn[table]?[ref.column] ?? column.name
            }
        }
        let languages: [String?] = dictionary.labelLanguages.isEmpty ? [nil] : dictionary.labelLanguages
        var rows: [[SQLValue]] = []
        func add(level: Int, record: String?, item: Item, table: QualifiedName, columns: [String]) {
            let inView = columns.compactMap { viewColumn[table]?[$0] }
            for language in languages {
                rows.append([
                    .integer(Int64(level + 1)), record.map { .text($0) } ?? .null, .text(item.name), .text(language ?? ""),
                    .text(Self.text(item.labels, in: language)), .text(item.contentType.rawValue), .integer(Int64(item.start)),
                    .integer(Int64(item.length)), .integer(Int64(item.decimals)), .integer(Int64(item.occurrences)),
                    item.parent.map { .text($0) } ?? .null, item.valueSets.first.map { .text($0.name) } ?? .null,
                    .text(columns.joined(separator: ",")), .text(inView.joined(separator: ",")),
                ])
            }
        }
        for level in levels {
            for id in level.ids { add(level: level.level, record: nil, item: id.item, table: level.table.name, columns: [id.name]) }
            for record in records where record.level == level.level {
                var order: [String] = []
                var columns: [String: [String]] = [:]
                var items: [String: Item] = [:]
                for column in record.columns {
                    if columns[column.item.name] == nil { order.append(column.item.name) }
                    columns[column.item.name, default: []].append(column.name)
                    items[column.item.name] = column.item
                }
                for name in order {
                    add(
                        level: level.level, record: record.recordName, item: items[name]!, table: record.table.name, columns: columns[name]!
                    )
                }
            }
        }
        return rows
    }
}

extension BreakoutSchema {
    /// The dictionary's labels as catalog comments (docs/breakout.md, "Labels in the catalog"):
    /// each level and record table labelled, each item column with its item's label (and its
    /// occurrence); with `views`, the analyst views and their item columns as well.
    package func commentStatements(views withViews: Bool) -> [SQLStatement] {
        func label(_ labels: [Label]) -> String { Self.text(labels, in: language) }
        func columnText(_ item: Item, _ occurrence: Int, of count: Int) -> String {
            let text = label(item.labels)
            return count > 1 ? "\(text) (\(occurrence + 1))" : text
        }
        func definitions(_ table: TableDefinition) -> [String: ColumnDefinition] {
            Dictionary(table.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        }
        var out: [SQLStatement] = []
        var itemText: [QualifiedName: [String: String]] = [:]
        for level in levels {
            let defs = definitions(level.table)
            let columns = level.ids.compactMap { id in defs[id.name].map { ($0, label(id.item.labels)) } }
            itemText[level.table.name] = Dictionary(columns.map { ($0.0.name, $0.1) }, uniquingKeysWith: { a, _ in a })
            out.append(
                .comments(TableComments(table: level.table.name, text: label(dictionary.levels[level.level].labels), columns: columns)))
        }
        for record in records {
            let defs = definitions(record.table)
            let counts = Dictionary(record.columns.filter { !$0.holdsSpecial }.map { ($0.item.name, 1) }, uniquingKeysWith: +)
            let columns = record.columns.compactMap { c in
                defs[c.name].map {
                    let text = columnText(c.item, c.occurrence, of: counts[c.item.name] ?? 1)
                    return ($0, c.holdsSpecial ? "\(text): MISSING, REFUSED, DEFAULT, NOTAPPL" : text)
                }
            }
            itemText[record.table.name] = Dictionary(columns.map { ($0.0.name, $0.1) }, uniquingKeysWith: { a, _ in a })
            let recordLabels = labels(of: record)
            out.append(.comments(TableComments(table: record.table.name, text: label(recordLabels), columns: columns)))
        }
        guard withViews else { return out }
        for (record, view) in zip(records, views) {
            let aliases = Dictionary(uniqueKeysWithValues: [("r", record.table.name)] + levels.map { ("l\($0.level + 1)", $0.table.name) })
            let columns: [(ColumnDefinition, String)] = view.columns.compactMap { column in
                guard case .column(let ref) = column.value, let table = aliases[ref.alias], let text = itemText[table]?[ref.column] else {
                    return nil
                }
                return (ColumnDefinition(column.name, .text), text)
            }
            let recordLabels = labels(of: record)
            out.append(.comments(TableComments(table: view.name, isView: true, text: label(recordLabels), columns: columns)))
        }
        return out
    }
}
