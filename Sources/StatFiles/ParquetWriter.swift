import Foundation

/// One column of a Parquet file (every column is optional: NULL is a value).
package struct ParquetColumn: Sendable {
    package enum Kind: Sendable, Hashable {
        /// INT32, logical type INTEGER(32, signed).
        case int32
        /// INT64, logical type INTEGER(64, signed).
        case int64
        case double
        /// BYTE_ARRAY, logical type STRING (UTF-8).
        case string
        /// INT64 holding the unscaled value, logical type DECIMAL(precision, scale); precision ≤ 18.
        case decimal(precision: Int, scale: Int)
    }

    package var name: String
    package var kind: Kind

    package init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

/// A cell: NULL, a whole number (for int32, int64 and, unscaled, decimal), a double, or text.
package enum ParquetCell: Sendable {
    case null
    case integer(Int64)
    case double(Double)
    case text(String)
}

/// Writes a Parquet file from its specification (apache/parquet-format): flat optional columns,
/// PLAIN values, RLE/bit-packed definition levels, no compression, one data page per column
/// chunk, a row group every `rowsPerGroup` rows, the footer (Thrift compact protocol) at the end
/// with `metadata` as its key-value metadata. Memory holds one row group.
package final class ParquetWriter {
    package let url: URL
    let columns: [ParquetColumn]
    let metadata: [(String, String)]
    let rowsPerGroup: Int
    private let handle: FileHandle
    private var position: Int64 = 0
    private var values: [[UInt8]]
    private var defined: [[Bool]]
    private var groupRows = 0
    private var totalRows: Int64 = 0
    private var groups: [[UInt8]] = []

    package init(url: URL, columns: [ParquetColumn], metadata: [(String, String)], rowsPerGroup: Int = 65_536) throws {
        self.url = url
        self.columns = columns
        self.metadata = metadata
        self.rowsPerGroup = max(1, rowsPerGroup)
        values = Array(repeating: [], count: columns.count)
        defined = Array(repeating: [], count: columns.count)
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StatFileError("cannot create \(url.path) (a full disk, or no permission there)")
        }
        handle = try FileHandle(forWritingTo: url)
        try write(Array("PAR1".utf8))
    }

    private func write(_ bytes: [UInt8]) throws {
        do { try handle.write(contentsOf: Data(bytes)) } catch {
            throw StatFileError("cannot write \(url.path): \(error.localizedDescription) (a full disk?)")
        }
        position += Int64(bytes.count)
    }

    package func append(_ cells: [ParquetCell]) throws {
        precondition(cells.count == columns.count, "one cell per column")
        for (j, cell) in cells.enumerated() {
            switch (columns[j].kind, cell) {
            case (_, .null):
                defined[j].append(false)
            case (.int32, .integer(let i)) where i >= Int64(Int32.min) && i <= Int64(Int32.max):
                defined[j].append(true)
                withUnsafeBytes(of: Int32(i).littleEndian) { values[j] += $0 }
            case (.int64, .integer(let i)), (.decimal, .integer(let i)):
                defined[j].append(true)
                withUnsafeBytes(of: i.littleEndian) { values[j] += $0 }
            case (.double, .double(let d)):
                defined[j].append(true)
                withUnsafeBytes(of: d.bitPattern.littleEndian) { values[j] += $0 }
            case (.double, .integer(let i)):
                defined[j].append(true)
                withUnsafeBytes(of: Double(i).bitPattern.littleEndian) { values[j] += $0 }
            case (.string, .text(let s)):
                defined[j].append(true)
                let bytes = Array(s.utf8)
                withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { values[j] += $0 }
                values[j] += bytes
            default:
                // A value of the wrong kind (a caller's mistake) is written as NULL rather than corrupting the column.
                defined[j].append(false)
            }
        }
        groupRows += 1
        if groupRows >= rowsPerGroup { try flushGroup() }
    }

    /// Writes the buffered rows as a row group: per column one PLAIN data page.
    private func flushGroup() throws {
        guard groupRows > 0 else { return }
        var chunks = Thrift()
        var total: Int64 = 0
        chunks.listHeader(count: columns.count, type: .structure)
        for (j, column) in columns.enumerated() {
            // Definition levels (bit width 1): one bit-packed run, 4-byte length first.
            let groupsOf8 = (defined[j].count + 7) / 8
            var levels: [UInt8] = Thrift.varint(UInt64(groupsOf8) << 1 | 1)
            for g in 0..<groupsOf8 {
                var byte: UInt8 = 0
                for b in 0..<8 where g * 8 + b < defined[j].count && defined[j][g * 8 + b] { byte |= 1 << b }
                levels.append(byte)
            }
            var page: [UInt8] = []
            withUnsafeBytes(of: UInt32(levels.count).littleEndian) { page += $0 }
            page += levels
            page += values[j]
            var header = Thrift()
            header.i32(1, 0)  // DATA_PAGE
            header.i32(2, Int32(page.count))
            header.i32(3, Int32(page.count))
            header.beginStruct(5)
            header.i32(1, Int32(defined[j].count))
            header.i32(2, 0)  // PLAIN
            header.i32(3, 3)  // RLE definition levels
            header.i32(4, 3)  // RLE repetition levels (none: the columns are flat)
            header.endStruct()
            header.stop()
            let offset = position
            try write(header.bytes + page)
            let size = Int64(header.bytes.count + page.count)
            total += size
            // ColumnChunk { file_offset, meta_data }
            chunks.structElement {
                $0.i64(2, offset)
                $0.beginStruct(3)
                $0.i32(1, column.kind.physical)
                $0.listField(2, count: 2, type: .i32) {
                    $0.rawI32(0); $0.rawI32(3)
                }
                $0.listField(3, count: 1, type: .binary) { $0.rawString(column.name) }
                $0.i32(4, 0)  // UNCOMPRESSED
                $0.i64(5, Int64(defined[j].count))
                $0.i64(6, size)
                $0.i64(7, size)
                $0.i64(9, offset)
                $0.endStruct()
            }
            values[j].removeAll(keepingCapacity: true)
            defined[j].removeAll(keepingCapacity: true)
        }
        // RowGroup { columns, total_byte_size, num_rows }
        var group = Thrift()
        group.fieldHeader(1, .list)
        group.bytes += chunks.bytes
        group.i64(2, total)
        group.i64(3, Int64(groupRows))
        group.stop()
        groups.append(group.bytes)
        totalRows += Int64(groupRows)
        groupRows = 0
    }

    /// Writes the last row group and the footer; the file is complete when this returns.
    package func finish() throws {
        try flushGroup()
        var meta = Thrift()
        meta.i32(1, 1)
        // The schema: a root with the columns as its children.
        meta.listField(2, count: columns.count + 1, type: .structure) { list in
            list.structElement {
                $0.string(4, "schema")
                $0.i32(5, Int32(columns.count))
            }
            for column in columns {
                list.structElement {
                    $0.i32(1, column.kind.physical)
                    $0.i32(3, 1)  // OPTIONAL
                    $0.string(4, column.name)
                    switch column.kind {
                    case .string:
                        $0.i32(6, 0)  // UTF8
                        $0.beginStruct(10)
                        $0.beginStruct(1)  // STRING
                        $0.endStruct()
                        $0.endStruct()
                    case .decimal(let p, let s):
                        $0.i32(6, 5)  // DECIMAL
                        $0.i32(7, Int32(s))
                        $0.i32(8, Int32(p))
                        $0.beginStruct(10)
                        $0.beginStruct(5)
                        $0.i32(1, Int32(s))
                        $0.i32(2, Int32(p))
                        $0.endStruct()
                        $0.endStruct()
                    case .int32, .int64:
                        $0.i32(6, column.kind == .int32 ? 17 : 18)  // INT_32, INT_64
                        $0.beginStruct(10)
                        $0.beginStruct(10)  // INTEGER
                        $0.byte(1, column.kind == .int32 ? 32 : 64)
                        $0.bool(2, true)
                        $0.endStruct()
                        $0.endStruct()
                    case .double: break
                    }
                }
            }
        }
        meta.i64(3, totalRows)
        meta.listField(4, count: groups.count, type: .structure) { list in
            for g in groups { list.bytes += g }
        }
        if !metadata.isEmpty {
            meta.listField(5, count: metadata.count, type: .structure) { list in
                for (key, value) in metadata {
                    list.structElement {
                        $0.string(1, key)
                        $0.string(2, value)
                    }
                }
            }
        }
        meta.string(6, "breakout")
        meta.stop()
        var tail = meta.bytes
        withUnsafeBytes(of: UInt32(meta.bytes.count).littleEndian) { tail += $0 }
        tail += Array("PAR1".utf8)
        try write(tail)
        try handle.synchronize()
        try handle.close()
    }

    package func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(at: url)
    }
}

extension ParquetColumn.Kind {
    /// The physical type (parquet-format's `Type`).
    var physical: Int32 {
        switch self {
        case .int32: 1
        case .int64, .decimal: 2
        case .double: 5
        case .string: 6
        }
    }
}

/// Thrift's compact protocol, as much of it as a Parquet footer and page header need.
struct Thrift {
    enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8, list = 9, set = 10, map = 11
        case structure = 12
    }

    var bytes: [UInt8] = []
    private var lastField: [Int] = [0]

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    mutating func fieldHeader(_ id: Int, _ type: FieldType) {
        let delta = id - lastField[lastField.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            bytes += Self.varint(Self.zigzag(Int64(id)))
        }
        lastField[lastField.count - 1] = id
    }

    mutating func i32(_ id: Int, _ v: Int32) {
        fieldHeader(id, .i32)
        bytes += Self.varint(Self.zigzag(Int64(v)))
    }

    mutating func i64(_ id: Int, _ v: Int64) {
        fieldHeader(id, .i64)
        bytes += Self.varint(Self.zigzag(v))
    }

    mutating func byte(_ id: Int, _ v: Int8) {
        fieldHeader(id, .byte)
        bytes.append(UInt8(bitPattern: v))
    }

    mutating func bool(_ id: Int, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }

    mutating func string(_ id: Int, _ s: String) {
        fieldHeader(id, .binary)
        rawString(s)
    }

    mutating func rawString(_ s: String) {
        let b = Array(s.utf8)
        bytes += Self.varint(UInt64(b.count))
        bytes += b
    }

    mutating func rawI32(_ v: Int32) { bytes += Self.varint(Self.zigzag(Int64(v))) }

    mutating func beginStruct(_ id: Int) {
        fieldHeader(id, .structure)
        lastField.append(0)
    }

    mutating func endStruct() {
        bytes.append(0)
        lastField.removeLast()
    }

    mutating func stop() { bytes.append(0) }

    mutating func listHeader(count: Int, type: FieldType) {
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            bytes += Self.varint(UInt64(count))
        }
    }

    mutating func listField(_ id: Int, count: Int, type: FieldType, _ elements: (inout Thrift) -> Void) {
        fieldHeader(id, .list)
        listHeader(count: count, type: type)
        var inner = Thrift()
        elements(&inner)
        bytes += inner.bytes
    }

    /// One struct as a list element: its fields, then STOP.
    mutating func structElement(_ fields: (inout Thrift) -> Void) {
        var inner = Thrift()
        fields(&inner)
        inner.stop()
        bytes += inner.bytes
    }
}
