import SQL

/// Encodes rows as tab-separated text with backslash escapes and `\N` for NULL: the format that
/// both PostgreSQL's `COPY … FROM STDIN` (text) and MySQL's `LOAD DATA` (default field options)
/// read.
package struct TextRowEncoder: Sendable {
    /// How bytes are written: PostgreSQL wants `\x` hex for `bytea`, MySQL the raw bytes escaped.
    package enum BlobStyle: Sendable { case postgresHex, raw }

    package let blobStyle: BlobStyle

    package init(blobStyle: BlobStyle) {
        self.blobStyle = blobStyle
    }

    /// Appends one row and its line terminator to `buffer`.
    package func encode(_ row: [SQLValue], into buffer: inout [UInt8]) {
        for (i, value) in row.enumerated() {
            if i > 0 { buffer.append(0x09) }
            switch value {
            case .null: buffer.append(0x5C); buffer.append(0x4E)
            case .integer(let v): appendInteger(v, &buffer)
            case .decimal(let d): buffer.append(contentsOf: d.description.utf8)
            case .double(let d): buffer.append(contentsOf: "\(d)".utf8)
            case .text(let s): appendEscaped(s.utf8, &buffer)
            case .timestamp(let t): buffer.append(contentsOf: SQLTimestamp.format(t).utf8)
            case .blob(let bytes):
                switch blobStyle {
                case .postgresHex:
                    let digits = Array("0123456789abcdef".utf8)
                    buffer.append(contentsOf: [0x5C, 0x5C, 0x78])  // \\x: the backslash itself is escaped in COPY text
                    for b in bytes { buffer.append(digits[Int(b >> 4)]); buffer.append(digits[Int(b & 15)]) }
                case .raw:
                    appendEscaped(bytes, &buffer)
                }
            }
        }
        buffer.append(0x0A)
    }

    private func appendInteger(_ v: Int64, _ buffer: inout [UInt8]) {
        if v == 0 { buffer.append(0x30); return }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 { d[count] = UInt8(48 + n % 10); n /= 10; count += 1 }
            if v < 0 { buffer.append(0x2D) }
            for i in stride(from: count - 1, through: 0, by: -1) { buffer.append(d[i]) }
        }
    }

    private func appendEscaped<C: Collection>(_ bytes: C, _ buffer: inout [UInt8]) where C.Element == UInt8 {
        for b in bytes {
            switch b {
            case 0x5C: buffer.append(0x5C); buffer.append(0x5C)
            case 0x09: buffer.append(0x5C); buffer.append(0x74)
            case 0x0A: buffer.append(0x5C); buffer.append(0x6E)
            case 0x0D: buffer.append(0x5C); buffer.append(0x72)
            case 0x00: buffer.append(0x5C); buffer.append(0x30)
            default: buffer.append(b)
            }
        }
    }
}
