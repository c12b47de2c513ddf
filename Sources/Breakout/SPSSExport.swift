import CSPro
import Foundation
import SQL
import StatFiles

/// An SPSS file per record (docs/runner.md, "Export jobs"): the same rows as the Stata file, with
/// SPSS's own ways of saying the same things: value labels, measurement levels, and the special
/// values' codes declared as user-missing values.
struct SPSSExport: RecordFile {
    let flat: FlatRecord
    let writer: SPSSWriter
    let kinds: [Kind]

    enum Kind {
        case number
        case text
        /// A numeric item with `specials: codes|columns`: a special value is written as its code
        /// (declared missing); with `columns` the code comes from the `<item>_special` cell.
        case special(BreakoutSchema.SpecialMap, flag: Int?)
    }

    init(_ flat: FlatRecord, schema: BreakoutSchema, url: URL, date: Date) throws {
        self.flat = flat
        var taken = Set<String>()
        var variables: [SPSSVariable] = []
        var kinds: [Kind] = []
        for column in flat.columns {
            let name = SPSSWriter.variableName(column.name, taken: &taken)
            var kind = Kind.number
            var variable: SPSSVariable
            let longNumber: Bool
            switch column.type {
            case .decimal(let p, _): longNumber = p > 15
            case .integer, .bigint: longNumber = (column.item?.length ?? 0) > 15
            default: longNumber = false
            }
            switch column.type {
            case _ where longNumber:
                // More digits than a double holds exactly: kept as text.
                variable = SPSSVariable(name: name, width: 20, label: column.label, measure: .scale)
                kind = .text
            case .varchar(let n):
                let chars = column.characters ?? column.item?.length ?? n
                let ascii = column.name == "case_id" || StataExport.numericKey(column)
                let width = min(max(1, chars * (ascii ? 1 : 4)), 32_767)
                variable = SPSSVariable(name: name, width: width, label: column.label, measure: .nominal)
                kind = .text
            case .decimal(let p, let s):
                variable = SPSSVariable(name: name, width: 0, label: column.label, digits: p + 1, decimals: s, measure: .scale)
            default:
                let digits = column.item?.length ?? 20
                let coded = column.item.map { !$0.valueSets.isEmpty } ?? true
                variable = SPSSVariable(name: name, width: 0, label: column.label, digits: digits, measure: coded ? .nominal : .scale)
            }
            if let item = column.item, item.contentType == .numeric, variable.width == 0 {
                variable.valueLabels = schema.labelledValues(item).map { ($0.value, $0.label) }
            }
            if let map = column.specials, map.mode != .null, case .record(_, let flag) = column.source, variable.width == 0 {
                kind = .special(map, flag: flag)
                variable.missingValues = [Special.missing, .refused, .default].compactMap { map.code[$0].flatMap(\.number) }
            }
            variables.append(variable)
            kinds.append(kind)
        }
        self.kinds = kinds
        let recordLabels = schema.labels(of: flat.record)
        writer = try SPSSWriter(url: url, label: BreakoutSchema.text(recordLabels, in: schema.language), variables: variables, date: date)
    }

    var url: URL { writer.url }
    func finish() throws { try writer.finish() }
    func abandon() { writer.abandon() }

    func append(_ row: [SQLValue], recordRow: [SQLValue]) throws {
        var cells: [SPSSCell] = []
        cells.reserveCapacity(row.count)
        for (value, kind) in zip(row, kinds) {
            switch kind {
            case .text: cells.append(value.isNull ? .missing : .text(value.string ?? ""))
            case .number: cells.append(value.number.map { .number($0) } ?? .missing)
            case .special(let map, let flag):
                if value.isNull, map.mode == .columns, let flag, let name = recordRow[flag].string, let s = Special(rawValue: name),
                    let code = map.code[s].flatMap(\.number)
                {
                    cells.append(.number(code))
                } else {
                    cells.append(value.number.map { .number($0) } ?? .missing)
                }
            }
        }
        try writer.append(cells)
    }

}
