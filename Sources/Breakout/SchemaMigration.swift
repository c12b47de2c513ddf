import CSPro
import DatabaseDriver
import Foundation
import SQL

// The destination's stored state (breakout_state) and what its tables need before loading:
// nothing, creation, an in-place migration, or a rebuild in a shadow namespace.

/// What the next run does to the destination's tables, for a plan to gate on.
package enum SchemaAction: String, Sendable, Codable {
    /// Nothing (or only breakout's own bookkeeping).
    case none
    /// New tables in a destination that has none for the dictionary.
    case create
    /// Columns added or widened, tables added, in place.
    case migrate
    /// Loaded again into a shadow namespace and swapped in.
    case rebuild

    /// Whether existing tables change: what `plan --detailed-exitcode` reports as 2.
    package var altersExistingTables: Bool { self == .migrate || self == .rebuild }
}

extension BreakoutEngine {
    // MARK: - Stored state

    struct StoredState {
        var digest: String
        var model: String
        var options: String
        var fingerprint: String
        var mark: Mark
    }

    func readState(_ connection: any DatabaseConnection) throws -> StoredState? {
        let rows: [Row]
        do {
            rows = try connection.query(.select(Select(from: schema.state.name, where: .equals("dictionary", .text(feed.dictionary.name)))))
        } catch {
            // Only when the catalog says the bookkeeping table is not there is this a new
            // destination; a lost connection or a refused query is the error it is. (Asked after
            // a failure only, so a run's folds pay nothing for it.)
            guard (try? connection.tableExists(schema.state.name)) == false else { throw error }
            return nil
        }
        guard let row = rows.first else { return nil }
        return StoredState(
            digest: row["dictionary_digest"]?.string ?? "", model: row["dictionary_model"]?.string ?? "",
            options: row["schema_options"]?.string ?? "", fingerprint: row["source_fingerprint"]?.string ?? "",
            mark: Mark(revision: row["mark_revision"]?.int64 ?? 0, id: row["mark_id"]?.int64 ?? 0))
    }

    var modelJSON: String { Self.json(feed.dictionary) }
    var optionsJSON: String {
        var options = [
            "naming": schema.options.naming.rawValue, "include": schema.options.selection.include.joined(separator: ","),
            "exclude": schema.options.selection.exclude.joined(separator: ","), "analyst": "1",
        ]
        if let language = schema.language { options["labels_language"] = language }
        if schema.options.specials != .null { options["specials"] = schema.options.specials.rawValue }
        return Self.json(options)
    }
    package var digest: String {
        var h = FNV64()
        h.combine(modelJSON.utf8)
        return h.hex
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encodes dictionaries and string maps only; encoding cannot fail.
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    // MARK: - Schema

    /// What the destination needs before loading: nothing, creation, or an in-place migration.
    package struct SchemaChange: Sendable {
        package var action: SchemaAction
        /// For a migration, the changes made (`new column census_person.p99`); for a rebuild, why.
        package var changes: [String] = []
        package var description: String
        package var statements: [SQLStatement]
        /// Whether the value labels are rewritten.
        package var reloadLabels: Bool
        /// Why the tables cannot migrate in place (empty when they can): they are rebuilt in a
        /// shadow namespace and swapped in.
        package var rebuildReasons: [String] = []
        /// The schema the destination holds now (nil when new).
        var old: BreakoutSchema?
    }

    /// Whether a column can go from `a` to `b` in place without losing anything.
    static func widens(_ a: SQLType, to b: SQLType) -> Bool {
        switch (a, b) {
        case (.varchar(let x), .varchar(let y)): return y >= x
        case (.integer, .bigint): return true
        case (.integer, .decimal(let p, 0)): return p >= 10
        case (.bigint, .decimal(let p, 0)): return p >= 19
        case (.decimal(let p1, let s1), .decimal(let p2, let s2)): return s1 == s2 && p2 >= p1
        default: return a == b
        }
    }

    func schemaChange(_ state: StoredState?) throws -> SchemaChange {
        guard let state else {
            return SchemaChange(action: .create, description: "created", statements: schema.createStatements(), reloadLabels: true)
        }
        if state.model == modelJSON, state.options == optionsJSON {
            return SchemaChange(action: .none, description: "unchanged", statements: [], reloadLabels: false)
        }
        // A stored model that does not decode (written by hand, or truncated) means the tables are rebuilt, which is
        // safe.
        guard let oldDictionary = try? JSONDecoder().decode(CSProDictionary.self, from: Data(state.model.utf8)) else {
            throw BreakoutError("the destination's breakout_state for \(feed.dictionary.name) holds a dictionary this version cannot read")
        }
        let old = try BreakoutSchema(
            dictionary: oldDictionary, dialect: schema.dialect, options: Self.options(state.options) ?? schema.options,
            namespace: schema.namespace)
        var statements: [SQLStatement] = []
        var changes: [String] = []
        var incompatible: [String] = []
        if old.options.specials != schema.options.specials {
            // Cells change value, not only shape: every case is loaded again.
            incompatible.append("specials changes from \(old.options.specials.rawValue) to \(schema.options.specials.rawValue)")
        }
        let oldTables = Dictionary(old.allTables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for table in schema.allTables {
            guard let before = oldTables[table.name] else {
                statements.append(.createTable(table))
                changes.append("new table \(table.name.name)")
                continue
            }
            let beforeColumns = Dictionary(before.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for column in table.columns {
                guard let was = beforeColumns[column.name] else {
                    var added = column
                    added.nullable = true
                    statements.append(.addColumn(table.name, added))
                    changes.append("new column \(table.name.name).\(column.name)")
                    continue
                }
                if was.type != column.type {
                    if Self.widens(was.type, to: column.type) {
                        statements.append(.alterColumnType(table.name, column))
                        changes.append("\(table.name.name).\(column.name) widened to \(schema.dialect.typeName(column.type))")
                    } else {
                        incompatible.append(
                            "\(table.name.name).\(column.name) changes type from \(schema.dialect.typeName(was.type)) to \(schema.dialect.typeName(column.type))"
                        )
                    }
                }
            }
            let now = Set(table.columns.map(\.name))
            for column in before.columns where !now.contains(column.name) {
                incompatible.append("\(table.name.name).\(column.name) is no longer in the dictionary")
            }
        }
        let newNames = Set(schema.allTables.map(\.name))
        for table in old.allTables where !newNames.contains(table.name) {
            incompatible.append("table \(table.name.name) is no longer in the dictionary")
        }
        if !incompatible.isEmpty {
            return SchemaChange(
                action: .rebuild, changes: incompatible,
                description: "rebuilt in \(shadowNamespace) and swapped in (" + incompatible.prefix(5).joined(separator: "; ")
                    + (incompatible.count > 5 ? "; …" : "") + ")",
                statements: [], reloadLabels: true, rebuildReasons: incompatible, old: old)
        }
        let description = changes.isEmpty ? "options changed (no table change)" : "migrated in place: " + changes.joined(separator: ", ")
        return SchemaChange(
            action: changes.isEmpty ? .none : .migrate, changes: changes, description: description, statements: statements,
            reloadLabels: true,
            old: old)
    }

    static func options(_ json: String) -> SchemaOptions? {
        // As above: unreadable stored options mean a rebuild.
        guard let d = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)),
            let naming = Naming(rawValue: d["naming"] ?? "")
        else { return nil }
        func list(_ s: String?) -> [String] { (s ?? "").split(separator: ",").map(String.init) }
        var options = SchemaOptions(
            naming: naming, selection: RecordSelection(include: list(d["include"]), exclude: list(d["exclude"])),
            labelsLanguage: d["labels_language"], specials: SpecialValues(rawValue: d["specials"] ?? "null") ?? .null)
        options.analystObjects = d["analyst"] == "1"
        return options
    }

    /// Rows of the value labels table: every value of every value set of every kept item.
    func labelRows() -> [[SQLValue]] { BreakoutEngineLabels(schema: schema, dictionary: feed.dictionary).rows() }

    /// The analyst views dropped (before the tables change: PostgreSQL refuses to change a column
    /// a view reads, SQLite to rename a table one names) and created again after. None in a
    /// rebuild's shadow namespace: the views are created once its tables carry the live names.
    func viewStatements(replacing old: BreakoutSchema?) -> (drop: [SQLStatement], create: [SQLStatement]) {
        guard createsViews else { return ([], []) }
        var names: [QualifiedName] = []
        for view in (old?.views ?? []) + schema.views where !names.contains(view.name) { names.append(view.name) }
        return (names.map { .dropView($0) }, schema.views.map { .createView($0) })
    }

    func statementsForSchema(_ change: SchemaChange, state: StoredState?, mark: Mark) -> [SQLStatement] {
        var out = change.statements
        if change.reloadLabels {
            out.append(.delete(Delete(from: schema.valueLabels.name)))
            let rows = labelRows()
            if !rows.isEmpty {
                out.append(.insert(Insert(into: schema.valueLabels.name, columns: schema.valueLabels.columns.map(\.name), rows: rows)))
            }
            if schema.options.analystObjects {
                out.append(.delete(Delete(from: schema.variables.name)))
                let variables = schema.variableRows()
                if !variables.isEmpty {
                    out.append(.insert(Insert(into: schema.variables.name, columns: schema.variables.columns.map(\.name), rows: variables)))
                }
            }
            let views = viewStatements(replacing: change.old ?? schema)
            // Views go before the tables change, except on a new destination, where the schema the
            // drops name may not exist yet: there they go just before the creates (a first run
            // stopped after MySQL's DDL committed the views, but not the state, leaves them behind).
            out = state == nil ? out + views.drop + views.create : views.drop + out + views.create
            if schema.options.analystObjects { out += schema.commentStatements(views: createsViews) }
        }
        let now = SQLValue.timestamp(Date())
        if state == nil {
            out.append(
                .insert(
                    Insert(
                        into: schema.state.name, columns: schema.state.columns.map(\.name),
                        rows: [
                            [
                                .text(feed.dictionary.name), .text(digest), .text(modelJSON), .text(optionsJSON), .text(""), .integer(0),
                                .integer(0), now,
                            ]
                        ])))
        } else if !change.statements.isEmpty || change.reloadLabels {
            out.append(
                .update(
                    Update(
                        schema.state.name,
                        set: [
                            Assignment("dictionary_digest", .text(digest)), Assignment("dictionary_model", .text(modelJSON)),
                            Assignment("schema_options", .text(optionsJSON)), Assignment("updated_at", now),
                        ], where: .equals("dictionary", .text(feed.dictionary.name)))))
        }
        return out
    }
}
