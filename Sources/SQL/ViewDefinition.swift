/// A read-only view over a chain of tables joined on their keys: the analyst views of
/// docs/breakout.md ("Views for analysts"). Rendered as `CREATE VIEW … AS SELECT … FROM … JOIN …
/// WHERE …` in every dialect; the values in it (value labels, the filter) are literals.
package struct ViewDefinition: Sendable, Hashable {
    package var name: QualifiedName
    /// The first table, with its alias.
    package var from: ViewTable
    /// Inner joins, each on one column of a table already in the view.
    package var joins: [ViewJoin]
    package var columns: [ViewColumn]
    /// Conditions every row meets (ANDed).
    package var filter: [ViewCondition]

    package init(name: QualifiedName, from: ViewTable, joins: [ViewJoin], columns: [ViewColumn], filter: [ViewCondition]) {
        self.name = name
        self.from = from
        self.joins = joins
        self.columns = columns
        self.filter = filter
    }
}

/// A table in a view, and the alias its columns are qualified with.
package struct ViewTable: Sendable, Hashable {
    package var table: QualifiedName
    package var alias: String

    package init(_ table: QualifiedName, as alias: String) {
        self.table = table
        self.alias = alias
    }
}

/// `JOIN table alias ON alias.column = other.otherColumn`.
package struct ViewJoin: Sendable, Hashable {
    package var table: ViewTable
    package var column: String
    package var other: ViewColumnReference

    package init(_ table: ViewTable, on column: String, equals other: ViewColumnReference) {
        self.table = table
        self.column = column
        self.other = other
    }
}

/// `alias.column`.
package struct ViewColumnReference: Sendable, Hashable {
    package var alias: String
    package var column: String

    package init(_ alias: String, _ column: String) {
        self.alias = alias
        self.column = column
    }
}

/// One output column of a view.
package struct ViewColumn: Sendable, Hashable {
    package var name: String
    package var value: ViewValue

    package init(_ name: String, _ value: ViewValue) {
        self.name = name
        self.value = value
    }
}

package enum ViewValue: Sendable, Hashable {
    /// A column as it is.
    case column(ViewColumnReference)
    /// The label of the column's value: the first case that matches, NULL when none does.
    case label(ViewColumnReference, [LabelCase])
    /// 1 when the column is not NULL, else 0.
    case isSet(ViewColumnReference)
}

/// A value (or the range `from…to`, both included) and its label.
package struct LabelCase: Sendable, Hashable {
    package var from: SQLValue
    package var to: SQLValue?
    package var label: String

    package init(from: SQLValue, to: SQLValue? = nil, label: String) {
        self.from = from
        self.to = to
        self.label = label
    }
}

/// `alias.column = value`.
package struct ViewCondition: Sendable, Hashable {
    package var column: ViewColumnReference
    package var value: SQLValue

    package init(_ column: ViewColumnReference, equals value: SQLValue) {
        self.column = column
        self.value = value
    }
}

extension SQLRenderer {
    func renderCreateView(_ view: ViewDefinition) throws -> RenderedSQL {
        func ref(_ r: ViewColumnReference) throws -> String { "\(try dialect.quote(r.alias)).\(try dialect.quote(r.column))" }
        let columns = try view.columns.map { column -> String in
            let value: String
            switch column.value {
            case .column(let r): value = try ref(r)
            case .isSet(let r): value = "CASE WHEN \(try ref(r)) IS NULL THEN 0 ELSE 1 END"
            case .label(let r, let cases):
                let c = try ref(r)
                let whens = cases.map { l in
                    let test =
                        l.to.map { "\(c) BETWEEN \(dialect.literal(l.from)) AND \(dialect.literal($0))" }
                        ?? "\(c) = \(dialect.literal(l.from))"
                    return "WHEN \(test) THEN \(dialect.literal(.text(l.label)))"
                }
                // A value set with no usable value still gives the column (always NULL), typed as text.
                value = whens.isEmpty ? "CAST(NULL AS \(dialect.typeName(.varchar(1))))" : "CASE \(whens.joined(separator: " ")) END"
            }
            return "\(value) AS \(try dialect.quote(column.name))"
        }
        var sql = "CREATE VIEW \(try dialect.quote(view.name)) AS SELECT " + columns.joined(separator: ", ")
        sql += " FROM \(try dialect.quote(view.from.table)) \(try dialect.quote(view.from.alias))"
        for join in view.joins {
            sql +=
                " JOIN \(try dialect.quote(join.table.table)) \(try dialect.quote(join.table.alias)) ON "
                + "\(try ref(ViewColumnReference(join.table.alias, join.column))) = \(try ref(join.other))"
        }
        if !view.filter.isEmpty {
            sql += " WHERE " + (try view.filter.map { "\(try ref($0.column)) = \(dialect.literal($0.value))" }.joined(separator: " AND "))
        }
        return RenderedSQL(sql)
    }
}
