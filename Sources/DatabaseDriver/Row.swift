import SQL

/// One row of a query result: values in column order, addressable by column name.
public struct Row: Sendable, Hashable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(index: Int) -> SQLValue { values[index] }

    /// The value of the first column with this name (case-insensitive), or `nil` if there is none.
    public subscript(name: String) -> SQLValue? {
        if let i = columns.firstIndex(of: name) { return values[i] }
        let lower = name.lowercased()
        return columns.firstIndex { $0.lowercased() == lower }.map { values[$0] }
    }
}
