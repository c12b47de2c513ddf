import CSPro
import Foundation

/// A fixed-width text data file read with its dictionary.
package enum DatFile {
    /// Every case of the file, with the warnings CSPro would print (unknown record types, too many occurrences).
    package static func cases(path: String, dictionary: CSProDictionary) throws -> (cases: [Case], warnings: [TextCaseCodec.Warning]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw CaseDecodingError("cannot read \(path)") }
        return TextCaseCodec.decode(TextCaseCodec.lines(of: data), layout: CaseLayout(dictionary))
    }
}
