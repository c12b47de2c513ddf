import Foundation

/// One variable of an SPSS system file.
package struct SPSSVariable: Sendable {
    package enum Measure: Int32, Sendable { case nominal = 1, ordinal = 2, scale = 3 }

    package var name: String
    /// 0 for a number; else the string's width in bytes (1…32,767; beyond 255 a "very long string",
    /// stored as segments).
    package var width: Int
    package var label: String
    /// Display: total digits and decimals of the `F` format (numbers).
    package var digits: Int
    package var decimals: Int
    package var measure: Measure
    /// Value labels (numbers only).
    package var valueLabels: [(value: Double, label: String)]
    /// Up to three values that mean "missing" to SPSS (numbers only).
    package var missingValues: [Double]

    package init(
        name: String, width: Int, label: String, digits: Int = 8, decimals: Int = 0, measure: Measure,
        valueLabels: [(value: Double, label: String)] = [], missingValues: [Double] = []
    ) {
        self.name = name
        self.width = width
        self.label = label
        self.digits = digits
        self.decimals = decimals
        self.measure = measure
        self.valueLabels = valueLabels
        self.missingValues = missingValues
    }
}

/// A cell of an SPSS case: a number, system missing, or text.
package enum SPSSCell: Sendable {
    case missing
    case number(Double)
    case text(String)
}

/// Writes an SPSS system file (`.sav`, uncompressed, UTF-8, little-endian) one case at a time, as
/// PSPP's "System File Format" describes it: the dictionary records, then the cases; the case
/// count is written in place at the end. A string wider than 255 bytes is a "very long string":
/// segments of 255 bytes (one for every 252 of its width, as SPSS counts them), each its own
/// variable record, joined again by every reader (subtype 14).
/// A value longer than its variable's width is cut at a character boundary and counted in ``truncated``.
package final class SPSSWriter {
    package let url: URL
    let variables: [SPSSVariable]
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var cases: Int64 = 0
    /// Text values cut to their variable's width.
    package private(set) var truncated = 0

    static let sysmis = -Double.greatestFiniteMagnitude
    /// Words SPSS reserves, which cannot be variable names.
    static let reserved: Set<String> = ["all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"]

    /// A valid, unique long variable name from `name`: a letter first, then letters, digits and `_`,
    /// at most 64 bytes, not a reserved word (compared without case).
    package static func variableName(_ name: String, taken: inout Set<String>) -> String {
        var base = String(
            name.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) ? Character($0) : "_" })
        if base.first.map({ !$0.isLetter }) ?? true { base = "v" + base }
        if reserved.contains(base.lowercased()) { base += "_" }
        base = String(base.prefix(64))
        var candidate = base
        var n = 2
        while !taken.insert(candidate.lowercased()).inserted {
            let suffix = "_\(n)"
            candidate = String(base.prefix(64 - suffix.count)) + suffix
            n += 1
        }
        return candidate
    }

    package init(url: URL, label: String, variables: [SPSSVariable], date: Date = Date()) throws {
        self.url = url
        self.variables = variables.map { v in
            var v = v
            if v.width > 32_767 { v.width = 32_767 }
            return v
        }
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StatFileError("cannot create \(url.path) (a full disk, or no permission there)")
        }
        handle = try FileHandle(forWritingTo: url)
        writeDictionary(label: label, date: date)
        try flush()
    }

    // MARK: - Bytes

    private func i32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    private func f64(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { buffer += $0 } }
    /// `s` in exactly `size` bytes, space-padded, cut at a character boundary.
    private func padded(_ s: String, _ size: Int) {
        let bytes = StataWriter.prefix(s, bytes: size)
        buffer += bytes
        buffer += Array(repeating: 0x20, count: size - bytes.count)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: Data(buffer)) } catch {
            throw StatFileError("cannot write \(url.path): \(error.localizedDescription) (a full disk?)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// The widths of a variable's segments: one for a number or a string of up to 255 bytes; for a
    /// very long string, 255 for each segment but the last, which holds the rest (252 bytes a segment).
    static func segments(_ v: SPSSVariable) -> [Int] {
        guard v.width > 255 else { return [v.width] }
        let n = (v.width + 251) / 252
        return Array(repeating: 255, count: n - 1) + [v.width - (n - 1) * 252]
    }

    /// 8-byte units a segment of this width takes in a case (and type-2 records in the dictionary).
    static func units(width: Int) -> Int { width == 0 ? 1 : (width + 7) / 8 }

    /// 8-byte units a variable takes in a case.
    static func units(_ v: SPSSVariable) -> Int { segments(v).reduce(0) { $0 + units(width: $1) } }

    /// `(type << 16) | (width << 8) | decimals`: F for numbers, A for strings.
    static func format(_ v: SPSSVariable, width segment: Int? = nil) -> Int32 {
        if v.width > 0 { return Int32(1 << 16 | min(segment ?? v.width, 255) << 8) }
        let width = min(max(v.digits, 1), 40)
        let decimals = min(v.decimals, max(0, width - 1), 16)
        return Int32(5 << 16 | width << 8 | decimals)
    }

    private func writeDictionary(label: String, date: Date) {
        let totalUnits = variables.reduce(0) { $0 + Self.units($1) }  // every type-2 record
        // File header.
        buffer += Array("$FL2".utf8)
        padded("@(#) SPSS DATA FILE breakout", 60)
        i32(2)
        i32(Int32(totalUnits))
        i32(0)  // not compressed
        i32(0)  // no weight
        i32(-1)  // case count: written in place at the end
        f64(100)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "dd MMM yy"
        padded(f.string(from: date), 9)
        f.dateFormat = "HH:mm:ss"
        padded(f.string(from: date), 8)
        padded(label, 64)
        buffer += [0, 0, 0]

        // Variable records, one per segment; short names V1, V2, … in record order (the long names
        // follow in subtype 13, keyed by each variable's first segment).
        var index = 1
        var indexes: [Int] = []
        var shortNames: [String] = []
        var veryLong: [(String, Int)] = []
        var segmentCount = 0
        for v in variables {
            indexes.append(index)
            for (k, width) in Self.segments(v).enumerated() {
                segmentCount += 1
                let short = "V\(segmentCount)"
                if k == 0 {
                    shortNames.append(short)
                    if v.width > 255 { veryLong.append((short, v.width)) }
                }
                i32(2)
                i32(Int32(width))
                let labelBytes = k == 0 ? StataWriter.prefix(v.label, bytes: 255) : []
                i32(labelBytes.isEmpty ? 0 : 1)
                let missing = v.width == 0 ? Array(v.missingValues.prefix(3)) : []
                i32(Int32(missing.count))
                i32(Self.format(v, width: width))
                i32(Self.format(v, width: width))
                padded(short, 8)
                if !labelBytes.isEmpty {
                    i32(Int32(labelBytes.count))
                    buffer += labelBytes
                    buffer += Array(repeating: 0x20, count: (4 - labelBytes.count % 4) % 4)
                }
                for m in missing { f64(m) }
                for _ in 1..<Self.units(width: width) {
                    i32(2)
                    i32(-1)
                    i32(0)
                    i32(0)
                    i32(0)
                    i32(0)
                    padded("", 8)
                }
                index += Self.units(width: width)
            }
        }

        // Value labels: one record pair per variable that has them.
        for (n, v) in variables.enumerated() where v.width == 0 && !v.valueLabels.isEmpty {
            i32(3)
            i32(Int32(v.valueLabels.count))
            for (value, text) in v.valueLabels {
                f64(value)
                let bytes = StataWriter.prefix(text, bytes: 120)
                buffer.append(UInt8(bytes.count))
                buffer += bytes
                buffer += Array(repeating: 0x20, count: (8 - (1 + bytes.count) % 8) % 8)
            }
            i32(4)
            i32(1)
            i32(Int32(indexes[n]))
        }

        // Machine integer info: IEEE, little-endian, UTF-8 (code page 65001).
        for v: Int32 in [7, 3, 4, 8, 1, 0, 0, -1, 1, 1, 2, 65001] { i32(v) }
        // Machine floating point info: system missing, highest, lowest.
        for v: Int32 in [7, 4, 8, 3] { i32(v) }
        f64(Self.sysmis)
        f64(Double.greatestFiniteMagnitude)
        f64(-Double.greatestFiniteMagnitude.nextDown)
        // Display parameters: measure, width, alignment per segment (not per continuation).
        if segmentCount > 0 {
            for v: Int32 in [7, 11, 4, Int32(segmentCount * 3)] { i32(v) }
            for v in variables {
                for _ in Self.segments(v) {
                    i32(v.measure.rawValue)
                    i32(Int32(v.width == 0 ? 8 : min(v.width, 32)))
                    i32(v.width == 0 ? 1 : 0)
                }
            }
        }
        // Long variable names.
        let names = Array(zip(shortNames, variables).map { "\($0)=\($1.name)" }.joined(separator: "\t").utf8)
        if !names.isEmpty {
            for v: Int32 in [7, 13, 1, Int32(names.count)] { i32(v) }
            buffer += names
        }
        // Very long strings: each one's first segment and its whole width.
        if !veryLong.isEmpty {
            var text: [UInt8] = []
            for (short, width) in veryLong {
                text += Array("\(short)=\(String(repeating: "0", count: max(0, 5 - String(width).count)))\(width)".utf8)
                text += [0, 9]
            }
            for v: Int32 in [7, 14, 1, Int32(text.count)] { i32(v) }
            buffer += text
        }
        // Character encoding.
        for v: Int32 in [7, 20, 1, 5] { i32(v) }
        buffer += Array("UTF-8".utf8)
        // End of the dictionary.
        i32(999)
        i32(0)
    }

    // MARK: - Cases

    package func append(_ cells: [SPSSCell]) throws {
        precondition(cells.count == variables.count, "one cell per variable")
        cases += 1
        for (cell, v) in zip(cells, variables) {
            if v.width == 0 {
                switch cell {
                case .number(let d) where d.isFinite: f64(d)
                default: f64(Self.sysmis)
                }
            } else {
                var bytes: [UInt8] = []
                if case .text(let s) = cell {
                    bytes = StataWriter.prefix(s, bytes: v.width)
                    if bytes.count < s.utf8.count { truncated += 1 }
                }
                // Each segment holds the next 255 bytes (its width), its 256th is padding; readers
                // join the segments' bytes (checked with pyreadstat).
                var offset = 0
                for width in Self.segments(v) {
                    let used = width
                    let piece = offset < bytes.count ? bytes[offset..<min(bytes.count, offset + used)] : []
                    buffer += piece
                    buffer += Array(repeating: 0x20, count: Self.units(width: width) * 8 - piece.count)
                    offset += used
                }
            }
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes what remains and the case count; the file is complete when this returns.
    package func finish() throws {
        try flush()
        if cases <= Int64(Int32.max) {
            var n: [UInt8] = []
            withUnsafeBytes(of: Int32(cases).littleEndian) { n += $0 }
            try handle.seek(toOffset: 80)
            try handle.write(contentsOf: Data(n))
        }
        try handle.synchronize()
        try handle.close()
    }

    package func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(at: url)
    }
}
