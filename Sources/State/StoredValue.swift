import Foundation

/// Reading the JSON columns of the control tables (`dictionaries`, `connection_options`,
/// `settings`), including what people wrote there by hand.
package enum StoredValue {
    /// A list stored as JSON (`["A","B"]`) or, by hand, as `A,B`; empty for NULL or blank.
    package static func list(_ text: String?) -> [String] {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        // A hand-written list that is not JSON is read as comma-separated text below.
        if let data = text.data(using: .utf8), let list = try? JSONSerialization.jsonObject(with: data) as? [String] { return list }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A JSON object; empty for NULL or anything else.
    package static func object(_ text: String?) -> [String: Any] {
        // A hand-written value that is not a JSON object reads as no settings; the runner then uses the defaults and
        // says so in the run.
        guard let text, let data = text.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return [:]
        }
        return o
    }

    /// A JSON object with every value as text (connection options).
    package static func strings(_ text: String?) -> [String: String] { object(text).mapValues { "\($0)" } }
}
