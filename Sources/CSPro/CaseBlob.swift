import Foundation

/// CSWeb's `questionnaire` column: 4 header bytes (the gzip magic `1F 8B 08 00` or the
/// little-endian uncompressed length) then a zlib stream (PHP `gzcompress`). Inside: the `level-1`
/// JSON (CSPro 7.5+ clients) or the case's text lines joined by `\n` (7.4 clients).
package enum CaseBlob {
    /// Decodes a blob into a case (`id` and `key` come from the table row).
    ///
    /// - Throws: ``CaseDecodingError`` with the reason (short blob, corrupt or truncated zlib, bad JSON, …).
    /// Pass a ``ZlibInflater`` per worker to reuse its state and output buffer from case to case.
    package static func decode(
        _ blob: [UInt8], layout: CaseLayout, id: String? = nil, key: String? = nil,
        inflater: ZlibInflater? = nil
    ) throws -> Case {
        let inflater = try inflater ?? ZlibInflater()
        defer { withExtendedLifetime(inflater) {} }  // `content` points into its buffer
        let content = try inflate(blob, into: inflater)
        var c: Case
        let first = content.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if first == UInt8(ascii: "{") {
            c = Case(key: key ?? "", root: try layout.fastParser.parseLevel(content))
        } else {
            let lines = TextCaseCodec.lines(of: Data(buffer: content))
            let (cases, warnings) = TextCaseCodec.decode(lines, layout: layout)
            if let warning = warnings.first { throw CaseDecodingError("text line \(warning.line): \(warning.message)") }
            guard cases.count == 1 else { throw CaseDecodingError("the questionnaire holds \(cases.count) cases; expected 1") }
            c = cases[0]
            if let key { c.key = key }
        }
        c.id = id
        return c
    }

    /// The uncompressed content of a blob.
    package static func inflate(_ blob: [UInt8], inflater: ZlibInflater? = nil) throws -> [UInt8] {
        let inflater = try inflater ?? ZlibInflater()
        return try withExtendedLifetime(inflater) { Array(try inflate(blob, into: inflater)) }
    }

    /// Inflates a blob into `inflater`'s buffer (valid until its next use).
    static func inflate(_ blob: [UInt8], into inflater: ZlibInflater) throws -> UnsafeBufferPointer<UInt8> {
        guard blob.count > 4 else {
            throw CaseDecodingError("questionnaire blob is \(blob.count) bytes; too short for a header and zlib data")
        }
        var hint = 0
        if !blob.starts(with: [0x1F, 0x8B, 0x08, 0x00]) {
            hint = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        }
        do {
            return try inflater.inflate(blob[4...], sizeHint: hint)
        } catch let error as Zlib.Failure {
            throw CaseDecodingError("questionnaire blob: \(error.description)")
        }
    }

    /// Builds a blob as CSWeb does (little-endian length header + zlib), for tests and generated sources.
    package static func encode(_ content: [UInt8]) throws -> [UInt8] {
        let n = UInt32(content.count)
        return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + (try Zlib.deflate(content))
    }
}
