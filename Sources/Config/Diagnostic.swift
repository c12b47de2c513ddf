/// Where a value was written: file (relative to the config directory), line and column (1-based).
package struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package var description: String { "\(file):\(line):\(column)" }

    package static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem found in the configuration, printed as `file:line:column: error: message`.
package struct Diagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    package enum Severity: String, Sendable { case error, warning }

    package var location: SourceLocation
    package var severity: Severity
    package var message: String
    /// A warning's stable code (`jobs_overlap`), as `plan` reports it; nil for errors.
    package var code: String?

    package init(_ location: SourceLocation, _ message: String, severity: Severity = .error, code: String? = nil) {
        self.location = location
        self.message = message
        self.severity = severity
        self.code = code
    }

    package var description: String { "\(location): \(severity.rawValue): \(message)" }

    package static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.location, a.message) < (b.location, b.message)
    }
}

/// A value with the place it was written.
package struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    package var value: Value
    package var location: SourceLocation

    package init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// Collects diagnostics while a configuration is read.
final class DiagnosticSink {
    private(set) var diagnostics: [Diagnostic] = []

    func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(Diagnostic(location, message))
    }

    func warning(_ location: SourceLocation, code: String, _ message: String) {
        diagnostics.append(Diagnostic(location, message, severity: .warning, code: code))
    }

    var errorCount: Int { diagnostics.filter { $0.severity == .error }.count }
}

/// The closest of `candidates` to `word` (edit distance at most a third of its length, at least 2).
func suggestion(for word: String, in candidates: [String]) -> String? {
    let limit = max(2, word.count / 3)
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }.filter { $0.1 <= limit }
    return scored.min { $0.1 < $1.1 }?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
