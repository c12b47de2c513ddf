import SQL

/// One row of a query result: values in column order, addressable by column name.
package struct Row: Sendable, Hashable {
    package let columns: [String]
    package let values: [SQLValue]

    package init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    package subscript(index: Int) -> SQLValue { values[index] }

    /// The value of the first column with this name (case-insensitive), or `nil` if there is none.
    package subscript(name: String) -> SQLValue? {
        if let i = columns.firstIndex(of: name) { return values[i] }
        let lower = name.lowercased()
        return columns.firstIndex { $0.lowercased() == lower }.map { values[$0] }
    }
}
