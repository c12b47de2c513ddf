/// Text for an HTML page: `&`, `<`, `>` and both quotes as entities, so a value from a file or a
/// control table is shown as text, in an element or a quoted attribute, never read as markup.
package func htmlEscaped(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}
