import CSPro
import Foundation
import SQL
import StatFiles

/// A Parquet file per record (docs/runner.md, "Export jobs"): the analyst view's rows as they are
/// (special values as the connection's `specials:` gives them), with logical types, and the
/// labels in the file's key-value metadata under `breakout.labels` (JSON).
struct ParquetExport: RecordFile {
    let flat: FlatRecord
    let writer: ParquetWriter
    let columns: [ParquetColumn]

    init(_ flat: FlatRecord, schema: BreakoutSchema, url: URL) throws {
        self.flat = flat
        var columns: [ParquetColumn] = []
        var labels: [String: Any] = [:]
        for column in flat.columns {
            let kind: ParquetColumn.Kind
            switch column.type {
            case .integer: kind = .int32
            case .bigint: kind = .int64
            case .decimal(let p, let s) where p <= 18: kind = .decimal(precision: p, scale: s)
            default: kind = .string  // text, and decimals of more than 18 digits as their digits
            }
            columns.append(ParquetColumn(name: column.name, kind: kind))
            var entry: [String: Any] = ["label": column.label]
            if let item = column.item, let set = item.valueSets.first {
                var values: [String: String] = [:]
                for value in set.values {
                    let text = BreakoutSchema.text(value.labels, in: schema.language)
                    for piece in value.pieces {
                        let key = piece.to.map { "\(piece.from)-\($0)" } ?? piece.from
                        if values[key] == nil { values[key] = text }
                    }
                    if let s = value.special, let piece = value.pieces.first { entry["special_\(s.rawValue.lowercased())"] = piece.from }
                }
                entry["value_labels"] = values
                entry["value_set"] = set.name
            }
            if let item = column.item { entry["item"] = item.name }
            labels[column.name] = entry
        }
        self.columns = columns
        let recordLabels = schema.labels(of: flat.record)
        let document: [String: Any] = [
            "dictionary": schema.dictionary.name, "record": flat.record.recordName,
            "label": BreakoutSchema.text(recordLabels, in: schema.language), "language": schema.language ?? "",
            "specials": schema.options.specials.rawValue, "columns": labels,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self)
        writer = try ParquetWriter(url: url, columns: columns, metadata: [("breakout.labels", json)])
    }

    var url: URL { writer.url }
    func finish() throws { try writer.finish() }
    func abandon() { writer.abandon() }

    /// The row as it is (Parquet keeps NULL and codes as the view has them): `recordRow` is not needed.
    func append(_ row: [SQLValue], recordRow: [SQLValue]) throws {
        var cells: [ParquetCell] = []
        cells.reserveCapacity(row.count)
        for (value, column) in zip(row, columns) {
            switch (column.kind, value) {
            case (_, .null): cells.append(.null)
            case (.string, _): cells.append(.text(value.string ?? ""))
            case (.decimal(_, let scale), .decimal(let d)): cells.append(Self.unscaled(d, scale: scale).map { .integer($0) } ?? .null)
            case (.decimal(_, let scale), .integer(let i)): cells.append(.integer(i * Int64(pow(10, Double(scale)))))
            case (_, .integer(let i)): cells.append(.integer(i))
            case (_, .double(let d)): cells.append(.double(d))
            default: cells.append(.null)
            }
        }
        try writer.append(cells)
    }

    /// `d` × 10^scale as a whole number (`123.4`, scale 2 → 12340); nil when it does not fit.
    static func unscaled(_ d: SQLDecimal, scale: Int) -> Int64? {
        let text = d.description
        let negative = text.hasPrefix("-")
        let body = negative ? text.dropFirst() : Substring(text)
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= scale else { return nil }
        fraction += String(repeating: "0", count: scale - fraction.count)
        guard let units = Int64(String(parts[0]) + fraction) else { return nil }
        return negative ? -units : units
    }
}
