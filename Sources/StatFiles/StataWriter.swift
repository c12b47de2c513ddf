import Foundation

/// One variable of a Stata dataset.
package struct StataVariable: Sendable {
    package enum Storage: Sendable, Hashable {
        /// -127…100; 101… are the missing values.
        case byte
        /// -32,767…32,740.
        case int
        /// -2,147,483,647…2,147,483,620.
        case long
        case double
        /// Fixed width in bytes (1…2,045), UTF-8, NUL-padded.
        case str(Int)
        /// Any length, stored once after the data.
        case strL
    }

    package var name: String
    package var storage: Storage
    package var label: String
    /// The value label set attached (its name), if any.
    package var valueLabels: String?
    /// Decimals to display (`%12.2f`); nil for the general format.
    package var decimals: Int?

    package init(name: String, storage: Storage, label: String, valueLabels: String? = nil, decimals: Int? = nil) {
        self.name = name
        self.storage = storage
        self.label = label
        self.valueLabels = valueLabels
        self.decimals = decimals
    }
}

/// A value label set: integer values (and Stata's extended missing values `.a`…`.z`) and their labels.
package struct StataValueLabels: Sendable {
    package var name: String
    package var labels: [(value: StataNumber, label: String)]

    package init(name: String, labels: [(value: StataNumber, label: String)]) {
        self.name = name
        self.labels = labels
    }
}

/// A labelled value: a whole number, or an extended missing value (`.a` is 1, `.z` 26).
package enum StataNumber: Sendable, Hashable {
    case value(Int32)
    case extendedMissing(Int)
}

/// A cell: a value, system missing (`.`), or an extended missing value.
package enum StataCell: Sendable {
    case missing
    /// `.a` (1) … `.z` (26).
    case extendedMissing(Int)
    case number(Double)
    case integer(Int64)
    case text(String)
}

package struct StatFileError: Error, CustomStringConvertible, Sendable {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// Writes a Stata 14+ dataset (`.dta` format 118, little-endian) one observation at a time: the
/// header is written with a placeholder count and offsets, the observations follow, the long strings
/// and value labels after them, then the count and offsets are written in place. Memory stays flat;
/// long strings (strL) wait in a temporary file next to the output.
package final class StataWriter {
    package let url: URL
    let variables: [StataVariable]
    let valueLabels: [StataValueLabels]
    private let handle: FileHandle
    private let strlURL: URL
    private let strls: FileHandle
    private var observations: Int64 = 0
    private var buffer: [UInt8] = []
    private var offsets: [Int64] = Array(repeating: 0, count: 14)
    private var position: Int64 = 0
    private let widths: [Int]

    /// Stata's words that cannot be variable names.
    static let reserved: Set<String> = [
        "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n", "_N", "_pi", "_pred", "_rc",
        "_skip", "strL", "using", "with",
    ]

    /// A valid, unique variable name from `name`: letters, digits and `_`, at most 32 characters.
    package static func variableName(_ name: String, taken: inout Set<String>) -> String {
        var base = String(
            name.unicodeScalars.map { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) ? Character($0) : "_" })
        if base.isEmpty || base.first!.isNumber { base = "_" + base }
        if reserved.contains(base) || base.hasPrefix("str") && Int(base.dropFirst(3)) != nil { base += "_" }
        base = String(base.prefix(32))
        var candidate = base
        var n = 2
        while !taken.insert(candidate).inserted {
            let suffix = "_\(n)"
            candidate = String(base.prefix(32 - suffix.count)) + suffix
            n += 1
        }
        return candidate
    }

    package init(url: URL, label: String, variables: [StataVariable], valueLabels: [StataValueLabels], date: Date = Date()) throws {
        guard variables.count <= 32_767 else {
            throw StatFileError("a Stata 118 dataset holds at most 32,767 variables, not \(variables.count)")
        }
        self.url = url
        self.variables = variables
        self.valueLabels = valueLabels
        widths = variables.map {
            switch $0.storage {
            case .byte: 1
            case .int: 2
            case .long: 4
            case .double, .strL: 8
            case .str(let n): n
            }
        }
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StatFileError("cannot create \(url.path) (a full disk, or no permission there)")
        }
        handle = try FileHandle(forWritingTo: url)
        strlURL = url.appendingPathExtension("strls")
        guard FileManager.default.createFile(atPath: strlURL.path, contents: nil) else {
            throw StatFileError("cannot create \(strlURL.path) (a full disk, or no permission there)")
        }
        strls = try FileHandle(forWritingTo: strlURL)
        try writeHead(label: label, date: date)
    }

    // MARK: - Bytes

    private func tag(_ s: String) { buffer += Array(s.utf8) }
    private func u8(_ v: UInt8) { buffer.append(v) }
    private func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    private func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    private func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    /// `s` as UTF-8 in exactly `size` bytes, NUL-padded; cut at a character boundary, leaving a NUL.
    private func fixed(_ s: String, _ size: Int, terminated: Bool = true) {
        let bytes = Self.prefix(s, bytes: terminated ? size - 1 : size)
        buffer += bytes
        buffer += Array(repeating: 0, count: size - bytes.count)
    }

    /// The longest prefix of `s` whose UTF-8 fits in `bytes` bytes, without splitting a character.
    static func prefix(_ s: String, bytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        for ch in s {
            let b = Array(String(ch).utf8)
            if out.count + b.count > bytes { break }
            out += b
        }
        return out
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: Data(buffer)) } catch {
            throw StatFileError("cannot write \(url.path): \(error.localizedDescription) (a full disk?)")
        }
        position += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    private func mark(_ index: Int) { offsets[index] = position + Int64(buffer.count) }

    // MARK: - Sections

    private var countOffset: Int64 = 0
    private var mapOffset: Int64 = 0

    private func writeHead(label: String, date: Date) throws {
        tag("<stata_dta><header><release>118</release><byteorder>LSF</byteorder><K>")
        u16(UInt16(variables.count))
        tag("</K><N>")
        countOffset = Int64(buffer.count)
        u64(0)
        tag("</N><label>")
        let labelBytes = Self.prefix(String(label.prefix(80)), bytes: 320)
        u16(UInt16(labelBytes.count))
        buffer += labelBytes
        tag("</label><timestamp>")
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "dd MMM yyyy HH:mm"
        let stamp = Array(f.string(from: date).utf8)
        u8(UInt8(stamp.count))
        buffer += stamp
        tag("</timestamp></header>")
        mark(1)
        mapOffset = Int64(buffer.count) + 5
        tag("<map>")
        for _ in 0..<14 { u64(0) }
        tag("</map>")
        mark(2)
        tag("<variable_types>")
        for v in variables {
            switch v.storage {
            case .byte: u16(65530)
            case .int: u16(65529)
            case .long: u16(65528)
            case .double: u16(65526)
            case .strL: u16(32768)
            case .str(let n): u16(UInt16(n))
            }
        }
        tag("</variable_types>")
        mark(3)
        tag("<varnames>")
        for v in variables { fixed(v.name, 129) }
        tag("</varnames>")
        mark(4)
        tag("<sortlist>")
        for _ in 0...variables.count { u16(0) }
        tag("</sortlist>")
        mark(5)
        tag("<formats>")
        for v in variables {
            let format: String
            switch v.storage {
            case .byte: format = "%8.0g"
            case .int: format = "%8.0g"
            case .long: format = "%12.0g"
            case .double: format = v.decimals.map { "%20.\($0)f" } ?? "%10.0g"
            case .str(let n): format = "%\(min(n, 244))s"
            case .strL: format = "%9s"
            }
            fixed(format, 57)
        }
        tag("</formats>")
        mark(6)
        tag("<value_label_names>")
        for v in variables { fixed(v.valueLabels ?? "", 129) }
        tag("</value_label_names>")
        mark(7)
        tag("<variable_labels>")
        for v in variables { fixed(String(v.label.prefix(80)), 321) }
        tag("</variable_labels>")
        mark(8)
        tag("<characteristics></characteristics>")
        mark(9)
        tag("<data>")
        try flush()
    }

    // MARK: - Observations

    /// Appends one observation, a cell per variable in order.
    package func append(_ cells: [StataCell]) throws {
        precondition(cells.count == variables.count, "one cell per variable")
        observations += 1
        for (j, v) in variables.enumerated() {
            let cell = cells[j]
            switch v.storage {
            case .byte: u8(UInt8(truncatingIfNeeded: Self.whole(cell, missing: 101, range: -127...100)))
            case .int: u16(UInt16(truncatingIfNeeded: Self.whole(cell, missing: 32_741, range: -32_767...32_740)))
            case .long: u32(UInt32(truncatingIfNeeded: Self.whole(cell, missing: 2_147_483_621, range: -2_147_483_647...2_147_483_620)))
            case .double: u64(Self.double(cell).bitPattern)
            case .str(let n):
                if case .text(let s) = cell {
                    let bytes = Self.prefix(s, bytes: n)
                    buffer += bytes
                    buffer += Array(repeating: 0, count: n - bytes.count)
                } else {
                    buffer += Array(repeating: 0, count: n)
                }
            case .strL:
                // (v, o) = (variable, observation), both 1-based; (0, 0) is the empty string.
                guard case .text(let s) = cell, !s.isEmpty else {
                    u64(0)
                    continue
                }
                let v = UInt64(j + 1), o = UInt64(observations)
                u64(v | (o << 16))
                try writeStrL(s, v: UInt32(j + 1), o: o)
            }
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// A whole-number cell for a type whose missing values start at `missing` (`.`), `.a` next.
    static func whole(_ cell: StataCell, missing: Int64, range: ClosedRange<Int64>) -> Int64 {
        switch cell {
        case .integer(let i): return range.contains(i) ? i : missing
        case .number(let d):
            return d == d.rounded() && d >= Double(range.lowerBound) && d <= Double(range.upperBound) ? Int64(d) : missing
        case .extendedMissing(let k): return missing + Int64(min(max(k, 1), 26))
        case .missing, .text: return missing
        }
    }

    /// `.` is 2^1023; `.a` … `.z` follow it in steps of 2^1011.
    static func double(_ cell: StataCell) -> Double {
        switch cell {
        case .number(let d): return d.isFinite && d < 8.988465674311579e307 ? d : Double(bitPattern: 0x7FE0_0000_0000_0000)
        case .integer(let i): return Double(i)
        case .extendedMissing(let k): return Double(bitPattern: 0x7FE0_0000_0000_0000 + UInt64(min(max(k, 1), 26)) << 40)
        case .missing, .text: return Double(bitPattern: 0x7FE0_0000_0000_0000)
        }
    }

    private var strlBuffer: [UInt8] = []

    private func writeStrL(_ s: String, v: UInt32, o: UInt64) throws {
        let bytes = Array(s.utf8)
        strlBuffer += Array("GSO".utf8)
        withUnsafeBytes(of: v.littleEndian) { strlBuffer += $0 }
        withUnsafeBytes(of: o.littleEndian) { strlBuffer += $0 }
        strlBuffer.append(130)  // text, stored with its terminating NUL
        withUnsafeBytes(of: UInt32(bytes.count + 1).littleEndian) { strlBuffer += $0 }
        strlBuffer += bytes
        strlBuffer.append(0)
        if strlBuffer.count >= 1 << 20 { try flushStrLs() }
    }

    private func flushStrLs() throws {
        guard !strlBuffer.isEmpty else { return }
        do { try strls.write(contentsOf: Data(strlBuffer)) } catch {
            throw StatFileError("cannot write \(strlURL.path): \(error.localizedDescription) (a full disk?)")
        }
        strlBuffer.removeAll(keepingCapacity: true)
    }

    // MARK: - End

    /// Writes the long strings and value labels after the observations, then their count and the
    /// map in place; the file is complete (and synchronized) when this returns.
    package func finish() throws {
        tag("</data>")
        mark(10)
        tag("<strls>")
        try flush()
        try flushStrLs()
        try strls.close()
        // The long strings, copied from their temporary file in pieces.
        let reader = try FileHandle(forReadingFrom: strlURL)
        while let piece = try reader.read(upToCount: 1 << 20), !piece.isEmpty {
            do { try handle.write(contentsOf: piece) } catch {
                throw StatFileError("cannot write \(url.path): \(error.localizedDescription) (a full disk?)")
            }
            position += Int64(piece.count)
        }
        try reader.close()
        try? FileManager.default.removeItem(at: strlURL)
        tag("</strls>")
        mark(11)
        tag("<value_labels>")
        for set in valueLabels {
            var text: [UInt8] = []
            var entries: [(offset: UInt32, value: Int32)] = []
            // Values strictly ascending; an extended missing value is labelled by its `long` code.
            var byValue: [Int32: String] = [:]
            for (value, label) in set.labels {
                let code: Int32
                switch value {
                case .value(let v): code = v
                case .extendedMissing(let k): code = Int32(2_147_483_621 + min(max(k, 1), 26))
                }
                if byValue[code] == nil { byValue[code] = label }
            }
            for (code, label) in byValue.sorted(by: { $0.key < $1.key }) {
                entries.append((UInt32(text.count), code))
                text += Self.prefix(label, bytes: 32_000)
                text.append(0)
            }
            tag("<lbl>")
            u32(UInt32(8 + 8 * entries.count + text.count))
            fixed(set.name, 129)
            buffer += [0, 0, 0]
            u32(UInt32(entries.count))
            u32(UInt32(text.count))
            for e in entries { u32(e.offset) }
            for e in entries { u32(UInt32(bitPattern: e.value)) }
            buffer += text
            tag("</lbl>")
        }
        tag("</value_labels>")
        mark(12)
        tag("</stata_dta>")
        try flush()
        offsets[13] = position
        // The count and the map, in place.
        var n: [UInt8] = []
        withUnsafeBytes(of: UInt64(observations).littleEndian) { n += $0 }
        try handle.seek(toOffset: UInt64(countOffset))
        try handle.write(contentsOf: Data(n))
        var map: [UInt8] = []
        for o in offsets { withUnsafeBytes(of: UInt64(o).littleEndian) { map += $0 } }
        try handle.seek(toOffset: UInt64(mapOffset))
        try handle.write(contentsOf: Data(map))
        try handle.synchronize()
        try handle.close()
    }

    /// Stops without finishing: the partial file and its temporary long strings are removed.
    package func abandon() {
        try? handle.close()
        try? strls.close()
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.removeItem(at: strlURL)
    }
}
