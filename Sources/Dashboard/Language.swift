import Foundation

/// The language a page is rendered in: French or English, from the viewer's choice (`?lang=`, kept
/// in a cookie), else their browser's `Accept-Language`, else English. The CLI, the JSON API and
/// `/metrics` stay English.
package enum Language: String, Sendable, CaseIterable {
    case en, fr

    /// The language of the page being rendered on this thread (`rendering(_:_:)`), English outside.
    static var current: Language {
        (Thread.current.threadDictionary[key] as? String).flatMap(Language.init(rawValue:)) ?? .en
    }

    private static let key = "breakout.dashboard.language"

    /// Renders `body` in `language`: every `tr` inside it picks that language's words.
    static func rendering<T>(_ language: Language, _ body: () throws -> T) rethrows -> T {
        let before = Thread.current.threadDictionary[key]
        Thread.current.threadDictionary[key] = language.rawValue
        defer { Thread.current.threadDictionary[key] = before }
        return try body()
    }

    /// The language a request asks for: `lang` in the query, the `breakout_lang` cookie, then
    /// `Accept-Language` in its order of preference (`fr-SN,fr;q=0.9,en;q=0.8`).
    static func of(query: String?, cookie: String?, acceptLanguage: String?) -> Language {
        if let q = query.flatMap(Language.init(rawValue:)) { return q }
        if let c = cookie.flatMap(Language.init(rawValue:)) { return c }
        let ranked = (acceptLanguage ?? "").split(separator: ",").enumerated().compactMap { index, part -> (Double, Int, Language)? in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), let language = Language(rawValue: String(tag.prefix(2))) else { return nil }
            let q = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (q, index, language)
        }
        return ranked.filter { $0.0 > 0 }.sorted { ($0.0, -$0.1) > ($1.0, -$1.1) }.first?.2 ?? .en
    }
}

/// The English text, or the French one when the page is rendered in French.
func tr(_ en: String, _ fr: String) -> String { Language.current == .fr ? fr : en }
