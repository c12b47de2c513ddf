import Foundation

extension CSProDictionary {
    /// Reads a dictionary in either format (JSON when the text starts with `{`, legacy text otherwise).
    ///
    /// - Throws: ``DictionaryError`` naming the line (legacy) or JSON path of the problem.
    package static func parse(_ data: Data, file: String) throws -> CSProDictionary {
        var bytes = data[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let firstSignificant = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if firstSignificant == UInt8(ascii: "{") { return try JSONDictionaryParser.parse(Data(bytes), file: file) }
        guard let text = String(data: Data(bytes), encoding: .utf8) ?? String(data: Data(bytes), encoding: .isoLatin1) else {
            throw DictionaryError(file: file, location: "line 1", message: "not text")
        }
        return try LegacyDictionaryParser.parse(text, file: file)
    }

    /// Reads a dictionary file.
    package static func load(path: String) throws -> CSProDictionary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DictionaryError(file: path, location: "file", message: "cannot read the file")
        }
        return try parse(data, file: (path as NSString).lastPathComponent)
    }
}
