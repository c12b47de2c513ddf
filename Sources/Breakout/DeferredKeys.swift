import DatabaseDriver
import Foundation
import SQL

// A first load's keys, built after its rows.
//
// Maintaining a secondary index or checking a foreign key row by row costs more than loading the
// row: at 2,000,000 census cases a raw COPY into PostgreSQL tables with their keys takes 185.5 s,
// into tables with their primary keys only, keys added afterwards, 64.3 s (docs/performance.md).
// So a first load read in the source's stored order (StoredOrder.swift) into tables it creates
// makes the data tables with their primary keys only, and adds their unique keys, foreign keys
// and indexes once the last chunk of the snapshot is in, before the progress mark moves.
//
// The guarantees stay the same. Such a load reads every case up to the snapshot exactly once and
// never deletes a row (a chunk that finds one of its cases loaded already stops the run), so
// nothing needs a cascade or an index while it runs. Every key is validated when added:
// PostgreSQL checks each foreign key as it adds it, in one transaction with the rest; InnoDB would
// copy the table to check one, so the checks are off while the keys are added and every foreign
// key is then checked by a query. A run stopped before the keys are in leaves the mark at the
// start and tables without their keys, which the next run sees in the catalog: it starts the
// first load over (drops and creates the keyless tables again), or, when it does not load in
// stored order, adds the keys first.

extension BreakoutEngine {
    /// Whether this engine's destination can take its keys after its rows (PostgreSQL, MySQL/MariaDB).
    var addsKeysLater: Bool { schema.dialect.keysQuery(schema.cases.name) != nil }

    /// The pending cases and stored-order scan of a first load into the tables this run creates
    /// (no state yet), when it builds their keys after the rows; nil otherwise.
    func keylessFirstLoad(
        state: StoredState?, storedOrderFrom: Int?
    ) throws -> (pending: Int, scan: (through: Mark, cursor: SQLValue?))? {
        guard state == nil, addsKeysLater else { return nil }
        let pending = try feed.pendingCount(after: .start)
        return try storedOrderScan(mark: .start, pending: pending, from: storedOrderFrom).map { (pending, $0) }
    }

    /// `table` with its primary key only.
    package static func keyless(_ table: TableDefinition) -> TableDefinition {
        var bare = table
        bare.uniqueKeys = []
        bare.foreignKeys = []
        bare.indexes = []
        return bare
    }

    /// `statements` with the data tables created as a first load with deferred keys creates them.
    func keylessCreates(_ statements: [SQLStatement]) -> [SQLStatement] {
        let data = Set(schema.dataTables.map(\.name))
        return statements.map { statement in
            if case .createTable(let table) = statement, data.contains(table.name) { return .createTable(schema.firstLoadTable(table)) }
            return statement
        }
    }

    /// The keys of the data tables the catalog does not list: per table, a definition holding only
    /// what is missing (empty when every table has its keys).
    func missingKeys(_ connection: any DatabaseConnection) throws -> [TableDefinition] {
        var out: [TableDefinition] = []
        for table in schema.dataTables {
            guard let query = schema.dialect.keysQuery(table.name) else { return [] }
            var indexes = Set<String>()
            var primary = false
            var unique = 0
            var foreign = 0
            for row in try connection.query(query) {
                switch TableKeyKind(rawValue: row[0].string ?? "") {
                case .primary: primary = true
                case .unique: unique += 1
                case .foreign: foreign += 1
                case .index: indexes.insert(row[1].string ?? "")
                case nil: break
                }
            }
            var missing = Self.keyless(table)
            missing.primaryKey = schema.defersPrimaryKey(table) && !primary ? table.primaryKey : []
            missing.indexes = table.indexes.filter { !indexes.contains($0.name) }
            if unique < table.uniqueKeys.count { missing.uniqueKeys = table.uniqueKeys }
            if foreign < table.foreignKeys.count { missing.foreignKeys = table.foreignKeys }
            if missing.hasKeys { out.append(missing) }
        }
        return out
    }

    /// The statements that add `tables`' keys, validated, as ``addKeys(_:on:)`` runs them (the dry
    /// run prints them).
    func addKeysStatements(_ tables: [TableDefinition]) -> [SQLStatement] {
        guard !tables.isEmpty else { return [] }
        let adds = tables.map(SQLStatement.addKeys)
        guard let checks = schema.dialect.foreignKeyChecks else { return [.begin] + adds + [.commit] }
        return [.raw(checks.off, [])] + adds + [.raw(checks.on, [])]
            + tables.flatMap { t in t.foreignKeys.map { SQLStatement.countOrphans(t.name, $0) } }
    }

    /// Adds `tables`' keys and validates them; the error names the table whose rows break one.
    func addKeys(_ tables: [TableDefinition], on connection: any DatabaseConnection) throws {
        guard !tables.isEmpty else { return }
        guard let checks = schema.dialect.foreignKeyChecks else {
            try connection.transaction { for table in tables { try connection.execute(.addKeys(table)) } }
            return
        }
        try connection.execute(checks.off)
        do {
            for table in tables { try connection.execute(.addKeys(table)) }
        } catch {
            // The connection goes back to checking; if even that fails, it is closed with the run.
            _ = try? connection.execute(checks.on)
            throw error
        }
        try connection.execute(checks.on)
        for table in tables {
            for key in table.foreignKeys {
                let orphans = try connection.query(.countOrphans(table.name, key)).first?[0].int64 ?? 0
                guard orphans == 0 else {
                    // Added unchecked over rows that break it: the first load starts over on the next run.
                    try startKeylessLoadOver(on: connection)
                    throw BreakoutError(
                        "\(table.name.name): \(orphans) row(s) whose \(key.columns.joined(separator: ", ")) has no row in "
                            + "\(key.references.name) after the first load; the tables were emptied and the next run loads them again. "
                            + "Please report this: it is a defect in breakout")
                }
            }
        }
    }

    /// The statements that drop the data tables and create them keyless, and forget the errors and
    /// chunks recorded: a first load with its keys deferred starting over.
    func startOverStatements() -> [SQLStatement] {
        let views = viewStatements(replacing: schema)
        return views.drop + schema.dataTables.reversed().map { SQLStatement.dropTable($0.name, ifExists: true) }
            + schema.dataTables.map { SQLStatement.createTable(schema.firstLoadTable($0)) } + views.create
            + [
                .delete(Delete(from: schema.errors.name)), .delete(Delete(from: schema.chunks.name)),
                .delete(Delete(from: schema.counts.name)),
            ]
    }

    func startKeylessLoadOver(on connection: any DatabaseConnection) throws {
        // DDL commits implicitly on MySQL: a crash in the middle leaves some tables keyless, empty
        // or missing, which the next run finds in the catalog (``completeKeys(on:)``) and repairs.
        try connection.transaction { for statement in startOverStatements() { try connection.execute(statement) } }
    }

    /// The data tables made whole before a run that does not defer its keys: any table missing
    /// (a start-over interrupted between its drop and its create) created, then the keys added.
    func completeKeys(_ missing: [TableDefinition], on connection: any DatabaseConnection) throws {
        guard !missing.isEmpty else { return }
        try connection.transaction {
            for table in schema.dataTables { try connection.execute(.createTable(schema.firstLoadTable(table))) }
        }
        try addKeys(missing, on: connection)
    }
}

extension BreakoutSchema {
    /// Whether a first load with deferred keys leaves this table's primary key out too, and adds it
    /// with the others: on InnoDB, where rows are stored in primary-key order and a load in the
    /// source's stored order would put each level and record row at a random place of its table
    /// (their ids follow CSWeb's `id`). `cases` keeps its own: each chunk looks its cases up in it.
    package func defersPrimaryKey(_ table: TableDefinition) -> Bool {
        dialect.defersPrimaryKeys && table.name != cases.name && !table.primaryKey.isEmpty
    }

    /// `table` as such a first load creates it: its primary key only, or no key at all.
    package func firstLoadTable(_ table: TableDefinition) -> TableDefinition {
        var bare = BreakoutEngine.keyless(table)
        if defersPrimaryKey(table) { bare.primaryKey = [] }
        return bare
    }

    /// The keys such a load adds after its rows (``SQLStatement/addKeys(_:)``): what
    /// ``firstLoadTable(_:)`` left out.
    package func deferredKeys(_ table: TableDefinition) -> TableDefinition {
        var keys = table
        if !defersPrimaryKey(table) { keys.primaryKey = [] }
        return keys
    }
}

extension TableDefinition {
    /// Whether the definition holds any key or index (``SQLStatement/addKeys(_:)`` has work).
    package var hasKeys: Bool { !primaryKey.isEmpty || !uniqueKeys.isEmpty || !foreignKeys.isEmpty || !indexes.isEmpty }
}
