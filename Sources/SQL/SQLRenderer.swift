/// SQL text and the values bound to its placeholders, ready to execute or to print.
package struct RenderedSQL: Sendable, Hashable, CustomStringConvertible {
    package var sql: String
    package var binds: [SQLValue]

    package init(_ sql: String, _ binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    package var description: String { sql }
}

/// Turns ``SQLStatement`` values into a dialect's SQL text.
///
/// Identifiers are quoted only through ``SQLDialect/quote(_:)-swift.method``. With `inlineValues` (or a dialect
/// whose ``BindStyle`` is `.inline`) values are rendered as literals, which is what a dry run prints.
package struct SQLRenderer: Sendable {
    package let dialect: any SQLDialect
    package let inlineValues: Bool

    package init(_ dialect: any SQLDialect, inlineValues: Bool = false) {
        self.dialect = dialect
        self.inlineValues = inlineValues || dialect.bindStyle == .inline
    }

    /// Renders one statement. Some statements become several (a table with separate indexes, an
    /// insert larger than one statement may carry).
    ///
    /// - Throws: ``SQLError`` when a name or construct cannot be expressed in the dialect.
    package func render(_ statement: SQLStatement) throws -> [RenderedSQL] {
        switch statement {
        case .createSchema(let name, let ifNotExists):
            return [RenderedSQL(try dialect.createSchema(try dialect.quote(name), rawName: name, ifNotExists: ifNotExists))]
        case .createTable(let table):
            return try renderCreateTable(table)
        case .createIndex(let index, let ifNotExists):
            return [try renderIndex(index, ifNotExists: ifNotExists)]
        case .addColumn(let table, let column):
            return [RenderedSQL("ALTER TABLE \(try dialect.quote(table)) ADD \(try renderColumn(column))")]
        case .alterColumnType(let table, let column):
            guard
                let sql = dialect.alterColumnType(
                    try dialect.quote(table), column: try dialect.quote(column.name),
                    type: dialect.typeName(column.type), nullable: column.nullable)
            else { return [] }
            return [RenderedSQL(sql)]
        case .swapTables(let swap):
            return try dialect.swapTables(swap, renderer: self).map { RenderedSQL($0) }
        case .dropTable(let table, let ifExists):
            return [RenderedSQL("DROP TABLE \(ifExists ? "IF EXISTS " : "")\(try dialect.quote(table))")]
        case .createView(let view):
            return [try renderCreateView(view)]
        case .comments(let comments):
            return try renderComments(comments)
        case .dropView(let name):
            return [RenderedSQL("DROP VIEW IF EXISTS \(try dialect.quote(name))")]
        case .insert(let insert):
            return try renderRows(insert.table, insert.columns, insert.rows) { table, columns, values in
                "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(values)"
            }
        case .upsert(let upsert):
            let keys = try upsert.keyColumns.map { try dialect.quote($0) }
            guard !keys.isEmpty else { throw SQLError(dialect: dialect.name, "an upsert needs at least one key column") }
            return try renderRows(upsert.table, upsert.columns, upsert.rows) { table, columns, values in
                dialect.upsert(table: table, columns: columns, keyColumns: keys, values: values)
            }
        case .select(let select):
            var binds = Binds(renderer: self)
            let columns =
                select.countOnly
                ? "COUNT(*)" : select.columns.isEmpty ? "*" : try select.columns.map { try dialect.quote($0) }.joined(separator: ", ")
            var sql = "SELECT \(columns) FROM \(try dialect.quote(select.table))"
            if let predicate = select.predicate { sql += " WHERE " + (try renderPredicate(predicate, &binds)) }
            var orderBy = ""
            if !select.orderBy.isEmpty {
                orderBy =
                    " ORDER BY "
                    + (try select.orderBy.map { try dialect.quote($0.column) + ($0.descending ? " DESC" : "") }.joined(separator: ", "))
            }
            sql += orderBy + dialect.paging(limit: select.limit, offset: select.offset, orderBy: orderBy)
            return [RenderedSQL(sql, binds.values)]
        case .update(let update):
            guard !update.assignments.isEmpty else { throw SQLError(dialect: dialect.name, "an update needs at least one assignment") }
            var binds = Binds(renderer: self)
            let sets = try update.assignments.map { try dialect.quote($0.column) + " = " + binds.add($0.value) }
            var sql = "UPDATE \(try dialect.quote(update.table)) SET \(sets.joined(separator: ", "))"
            if let predicate = update.predicate { sql += " WHERE " + (try renderPredicate(predicate, &binds)) }
            return [RenderedSQL(sql, binds.values)]
        case .delete(let delete):
            var binds = Binds(renderer: self)
            var sql = "DELETE FROM \(try dialect.quote(delete.table))"
            if let predicate = delete.predicate { sql += " WHERE " + (try renderPredicate(predicate, &binds)) }
            return [RenderedSQL(sql, binds.values)]
        case .raw(let sql, let binds):
            return [RenderedSQL(sql, binds)]
        case .begin:
            return [RenderedSQL(dialect.beginTransaction)]
        case .commit:
            return [RenderedSQL(dialect.commitTransaction)]
        case .addKeys(let table):
            return try renderAddKeys(table)
        case .countOrphans(let table, let key):
            let child = try key.columns.map { "c." + (try dialect.quote($0)) }
            let parent = try key.referencedColumns.map { "p." + (try dialect.quote($0)) }
            guard !child.isEmpty, child.count == parent.count else {
                throw SQLError(dialect: dialect.name, "a foreign key of \"\(table)\" has \(child.count) columns for \(parent.count)")
            }
            return [
                RenderedSQL(
                    "SELECT COUNT(*) FROM \(try dialect.quote(table)) c LEFT JOIN \(try dialect.quote(key.references)) p ON "
                        + zip(child, parent).map { "\($0) = \($1)" }.joined(separator: " AND ") + " WHERE \(parent[0]) IS NULL")
            ]
        case .bulkLoad(let load):
            guard !load.columns.isEmpty else {
                throw SQLError(dialect: dialect.name, "a bulk load into \"\(load.table)\" names no columns")
            }
            return [
                RenderedSQL(
                    dialect.bulkLoadStatement(
                        try dialect.quote(load.table), columns: try load.columns.map { try dialect.quote($0) },
                        rows: 1, stream: BulkLoad.printedStream))
            ]
        }
    }

    /// Renders several statements in order.
    package func render(_ statements: [SQLStatement]) throws -> [RenderedSQL] {
        try statements.flatMap { try render($0) }
    }

    // MARK: - Pieces

    func renderColumn(_ column: ColumnDefinition) throws -> String {
        let name = try dialect.quote(column.name)
        if column.autoIncrement { return dialect.autoIncrementColumn(name, column.type) }
        var out = "\(name) \(dialect.typeName(column.type))"
        if !column.nullable { out += " NOT NULL" }
        if let value = column.defaultValue { out += " DEFAULT \(dialect.literal(value))" }
        return out
    }

    func renderCreateTable(_ table: TableDefinition) throws -> [RenderedSQL] {
        guard !table.columns.isEmpty else { throw SQLError(dialect: dialect.name, "table \"\(table.name)\" has no columns") }
        var seen = Set<String>()
        for column in table.columns where !seen.insert(column.name.lowercased()).inserted {
            throw SQLError(dialect: dialect.name, "table \"\(table.name)\" has two columns named \"\(column.name)\"")
        }
        let quotedTable = try dialect.quote(table.name)
        var parts = try table.columns.map(renderColumn)
        let hasIdentity = table.columns.contains(where: \.autoIncrement)
        if !table.primaryKey.isEmpty && !hasIdentity {
            parts.append("PRIMARY KEY (\(try quoteList(table.primaryKey)))")
        }
        parts += try keyClauses(table)
        var out = [
            RenderedSQL(
                dialect.createTable(
                    quotedTable, rawTable: table.name, body: parts.joined(separator: ", "),
                    ifNotExists: table.ifNotExists))
        ]
        if !dialect.indexesInline {
            out += try table.indexes.map { try renderIndex($0, ifNotExists: table.ifNotExists) }
        }
        return out
    }

    /// A table's unique keys, foreign keys and (where they are inline) indexes as table clauses:
    /// the same text in `CREATE TABLE` and, after `ADD`, in `ALTER TABLE`.
    func keyClauses(_ table: TableDefinition) throws -> [String] {
        var clauses = try table.uniqueKeys.map { "UNIQUE (\(try quoteList($0)))" }
        for fk in table.foreignKeys {
            clauses.append(
                "FOREIGN KEY (\(try quoteList(fk.columns))) REFERENCES \(try dialect.quote(fk.references)) (\(try quoteList(fk.referencedColumns)))"
                    + (fk.onDeleteCascade ? " ON DELETE CASCADE" : ""))
        }
        if dialect.indexesInline {
            for index in table.indexes {
                clauses.append("\(index.unique ? "UNIQUE " : "")INDEX \(try dialect.quote(index.name)) (\(try quoteList(index.columns)))")
            }
        }
        return clauses
    }

    /// `CREATE INDEX` for each index, then one `ALTER TABLE` adding the primary key (when the
    /// definition has one: a table created without it), the unique and foreign keys;
    /// one `ALTER TABLE` with everything where indexes are inline (MySQL: one rebuild, not three).
    func renderAddKeys(_ table: TableDefinition) throws -> [RenderedSQL] {
        var out = dialect.indexesInline ? [] : try table.indexes.map { try renderIndex($0, ifNotExists: false) }
        var clauses = try keyClauses(table)
        if !table.primaryKey.isEmpty { clauses.insert("PRIMARY KEY (\(try quoteList(table.primaryKey)))", at: 0) }
        if !clauses.isEmpty {
            out.append(RenderedSQL("ALTER TABLE \(try dialect.quote(table.name)) " + clauses.map { "ADD " + $0 }.joined(separator: ", ")))
        }
        return out
    }

    func renderIndex(_ index: IndexDefinition, ifNotExists: Bool) throws -> RenderedSQL {
        RenderedSQL(
            dialect.createIndex(
                try dialect.quote(index.name), rawIndex: index.name, on: try dialect.quote(index.table),
                rawTable: index.table, columns: try quoteList(index.columns), unique: index.unique,
                ifNotExists: ifNotExists))
    }

    func quoteList(_ names: [String]) throws -> String {
        try names.map { try dialect.quote($0) }.joined(separator: ", ")
    }

    /// Splits rows into as many statements as the dialect's bind and row limits need.
    func renderRows(
        _ table: QualifiedName, _ columns: [String], _ rows: [[SQLValue]],
        _ make: (String, [String], String) -> String
    ) throws -> [RenderedSQL] {
        guard !columns.isEmpty else { throw SQLError(dialect: dialect.name, "an insert into \"\(table)\" names no columns") }
        for (i, row) in rows.enumerated() where row.count != columns.count {
            throw SQLError(dialect: dialect.name, "row \(i + 1) for \"\(table)\" has \(row.count) values for \(columns.count) columns")
        }
        let quotedTable = try dialect.quote(table)
        let quotedColumns = try columns.map { try dialect.quote($0) }
        let rowsPerStatement = inlineValues ? (dialect.maxRowsPerValues ?? .max) : dialect.rowsPerInsert(columns: columns.count)
        var out: [RenderedSQL] = []
        var start = 0
        repeat {
            let end = min(rows.count, start + rowsPerStatement)
            var binds = Binds(renderer: self)
            var tuples: [String] = []
            tuples.reserveCapacity(end - start)
            for row in rows[start..<end] {
                tuples.append("(" + row.map { binds.add($0) }.joined(separator: ", ") + ")")
            }
            out.append(RenderedSQL(make(quotedTable, quotedColumns, tuples.joined(separator: ", ")), binds.values))
            start = end
        } while start < rows.count
        return out
    }

    func renderPredicate(_ predicate: SQLPredicate, _ binds: inout Binds) throws -> String {
        switch predicate {
        case .compare(let column, let op, let value):
            return "\(try dialect.quote(column)) \(op.rawValue) \(binds.add(value))"
        case .isNull(let column):
            return "\(try dialect.quote(column)) IS NULL"
        case .isNotNull(let column):
            return "\(try dialect.quote(column)) IS NOT NULL"
        case .isIn(let column, let values):
            if values.isEmpty { return "1 = 0" }
            return "\(try dialect.quote(column)) IN (\(values.map { binds.add($0) }.joined(separator: ", ")))"
        case .and(let parts):
            if parts.isEmpty { return "1 = 1" }
            return try parts.map { "(" + (try renderPredicate($0, &binds)) + ")" }.joined(separator: " AND ")
        case .or(let parts):
            if parts.isEmpty { return "1 = 0" }
            return try parts.map { "(" + (try renderPredicate($0, &binds)) + ")" }.joined(separator: " OR ")
        case .not(let inner):
            return "NOT (\(try renderPredicate(inner, &binds)))"
        }
    }

    /// Collects bound values and hands out the dialect's placeholders (or literals when inlining).
    struct Binds {
        let renderer: SQLRenderer
        var values: [SQLValue] = []

        mutating func add(_ value: SQLValue) -> String {
            if renderer.inlineValues { return renderer.dialect.literal(value) }
            values.append(value)
            switch renderer.dialect.bindStyle {
            case .dollarNumbered: return "$\(values.count)"
            case .questionMark, .inline: return "?"
            }
        }
    }
}
