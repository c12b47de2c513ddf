/// A SQL statement as a value. Rendering it for a dialect is a separate, throwing step
/// (``SQLRenderer``), so a dry run can print exactly what a real run executes.
package enum SQLStatement: Sendable, Hashable {
    case createSchema(String, ifNotExists: Bool)
    case createTable(TableDefinition)
    case createIndex(IndexDefinition, ifNotExists: Bool)
    case addColumn(QualifiedName, ColumnDefinition)
    /// Widens a column's type in place (longer text, more digits); nothing where the engine does not enforce lengths.
    case alterColumnType(QualifiedName, ColumnDefinition)
    /// Replaces a set of tables by shadow copies in one step, dropping the old ones (see ``SQLDialect/swapTables(_:)``).
    case swapTables(TableSwap)
    case dropTable(QualifiedName, ifExists: Bool)
    /// A view over tables (``ViewDefinition``); created after the tables it reads.
    case createView(ViewDefinition)
    /// `DROP VIEW IF EXISTS`.
    case dropView(QualifiedName)
    /// Labels as catalog comments on a table or view and its columns (nothing on SQLite).
    case comments(TableComments)
    case insert(Insert)
    case upsert(Upsert)
    case select(Select)
    case update(Update)
    case delete(Delete)
    /// Engine-specific text, passed through with its binds (placeholders already in the engine's style).
    case raw(String, [SQLValue])
    /// Opens a transaction (``SQLDialect/beginTransaction``).
    case begin
    /// Commits it (``SQLDialect/commitTransaction``).
    case commit
    /// Rows loaded by the dialect's bulk path (``SQLDialect/bulkLoadStatement(_:columns:rows:stream:)``).
    /// A connection runs it through its bulk loader; the renderer gives the statement that starts it.
    case bulkLoad(BulkLoad)
    /// Adds the unique keys, foreign keys and secondary indexes of a table created with its
    /// primary key only (a first load's keys, built after its rows: docs/performance.md).
    case addKeys(TableDefinition)
    /// A one-row count of the rows of `table` whose foreign key `key` finds no parent row.
    case countOrphans(QualifiedName, ForeignKey)
}

/// Rows for one table, loaded by the engine's fastest path (COPY, LOAD DATA, bcp, prepared batches).
package struct BulkLoad: Sendable, Hashable {
    package var table: QualifiedName
    package var columns: [String]
    package var rows: [[SQLValue]]

    package init(into table: QualifiedName, columns: [String], rows: [[SQLValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }

    /// The name a rendered `LOAD DATA LOCAL INFILE` reads in a dry run; a real load uses its own.
    package static let printedStream = "breakout-bulk-stream"
}

/// Shadow tables that take the place of live ones. `live` and `shadow` are in creation order
/// (parents first); `shadow[i]` takes the name of `target[i]`. Schema-namespaced engines move the
/// whole shadow schema; prefix-namespaced ones rename tables.
package struct TableSwap: Sendable, Hashable {
    /// The tables that exist now and are dropped.
    package var live: [QualifiedName]
    /// The new tables, with their definitions (indexes are recreated under their final names where the engine needs it).
    package var shadow: [TableDefinition]
    /// The final definitions (same order as `shadow`).
    package var target: [TableDefinition]
    package var liveNamespace: String
    package var shadowNamespace: String

    package init(
        live: [QualifiedName], shadow: [TableDefinition], target: [TableDefinition], liveNamespace: String, shadowNamespace: String
    ) {
        self.live = live
        self.shadow = shadow
        self.target = target
        self.liveNamespace = liveNamespace
        self.shadowNamespace = shadowNamespace
    }
}

/// `INSERT INTO table (columns) VALUES (…), (…)`.
package struct Insert: Sendable, Hashable {
    package var table: QualifiedName
    package var columns: [String]
    package var rows: [[SQLValue]]

    package init(into table: QualifiedName, columns: [String], rows: [[SQLValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }
}

/// Insert, or update the non-key columns of the row with the same key.
package struct Upsert: Sendable, Hashable {
    package var table: QualifiedName
    package var columns: [String]
    package var keyColumns: [String]
    package var rows: [[SQLValue]]

    package init(into table: QualifiedName, columns: [String], keyColumns: [String], rows: [[SQLValue]]) {
        self.table = table
        self.columns = columns
        self.keyColumns = keyColumns
        self.rows = rows
    }
}

/// A single-table `SELECT`.
package struct Select: Sendable, Hashable {
    package var table: QualifiedName
    /// Empty means every column (`*`).
    package var columns: [String]
    /// `SELECT COUNT(*)` of the matching rows instead of the columns.
    package var countOnly = false
    package var predicate: SQLPredicate?
    package var orderBy: [SortKey]
    package var limit: Int?
    package var offset: Int?

    package init(
        from table: QualifiedName, columns: [String] = [], where predicate: SQLPredicate? = nil,
        orderBy: [SortKey] = [], limit: Int? = nil, offset: Int? = nil
    ) {
        self.table = table
        self.columns = columns
        self.predicate = predicate
        self.orderBy = orderBy
        self.limit = limit
        self.offset = offset
    }

    /// `SELECT COUNT(*) FROM table WHERE …`.
    package static func count(from table: QualifiedName, where predicate: SQLPredicate? = nil) -> Select {
        var s = Select(from: table, where: predicate)
        s.countOnly = true
        return s
    }
}

package struct SortKey: Sendable, Hashable {
    package var column: String
    package var descending: Bool
    package init(_ column: String, descending: Bool = false) {
        self.column = column
        self.descending = descending
    }
}

/// `UPDATE table SET … WHERE …`.
package struct Update: Sendable, Hashable {
    package var table: QualifiedName
    package var assignments: [Assignment]
    package var predicate: SQLPredicate?

    package init(_ table: QualifiedName, set assignments: [Assignment], where predicate: SQLPredicate? = nil) {
        self.table = table
        self.assignments = assignments
        self.predicate = predicate
    }
}

package struct Assignment: Sendable, Hashable {
    package var column: String
    package var value: SQLValue
    package init(_ column: String, _ value: SQLValue) {
        self.column = column
        self.value = value
    }
}

/// `DELETE FROM table WHERE …`.
package struct Delete: Sendable, Hashable {
    package var table: QualifiedName
    package var predicate: SQLPredicate?

    package init(from table: QualifiedName, where predicate: SQLPredicate? = nil) {
        self.table = table
        self.predicate = predicate
    }
}

/// A `WHERE` condition over columns and bound values.
package indirect enum SQLPredicate: Sendable, Hashable {
    case compare(String, ComparisonOperator, SQLValue)
    case isNull(String)
    case isNotNull(String)
    case isIn(String, [SQLValue])
    case and([SQLPredicate])
    case or([SQLPredicate])
    case not(SQLPredicate)

    package static func equals(_ column: String, _ value: SQLValue) -> SQLPredicate { .compare(column, .equal, value) }
}

package enum ComparisonOperator: String, Sendable, Hashable {
    case equal = "="
    case notEqual = "<>"
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}
