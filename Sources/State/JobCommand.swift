/// What a job's `command` line asks for. Hand-made rows (the guide's `INSERT INTO mt_cron_jobs`)
/// carry only this line, in CSWeb's form:
///
///     php /var/www/html/bin/console csweb:process-cases-by-dict --threads=3 --maxCasesPerChunk=1000 RGPH
///
/// Rows apply writes carry the equivalent breakout line:
///
///     breakout process-cases --org ansd --connection pg --threads 3 --max-cases-per-chunk 1000 RGPH
package struct JobCommand: Sendable, Hashable {
    package var organization: String?
    package var connection: String?
    package var threads: Int?
    package var maxCasesPerChunk: Int?
    /// Empty: every dictionary of the organization.
    package var dictionaries: [String]

    package init(
        organization: String? = nil, connection: String? = nil, threads: Int? = nil, maxCasesPerChunk: Int? = nil,
        dictionaries: [String] = []
    ) {
        self.organization = organization
        self.connection = connection
        self.threads = threads
        self.maxCasesPerChunk = maxCasesPerChunk
        self.dictionaries = dictionaries
    }

    /// Reads either form; nil for anything else (the runner reports such a job as failed).
    package static func parse(_ line: String) -> JobCommand? {
        let words = tokens(line)
        guard let verb = words.firstIndex(where: { ["csweb:process-cases", "csweb:process-cases-by-dict", "process-cases"].contains($0) })
        else { return nil }
        var c = JobCommand()
        var i = verb + 1
        func value(_ word: String, _ names: [String]) -> String?? {
            for name in names {
                if word.hasPrefix(name + "=") { return .some(String(word.dropFirst(name.count + 1))) }
                if word == name {
                    i += 1
                    return .some(i < words.count ? words[i] : nil)
                }
            }
            return nil
        }
        while i < words.count {
            let w = words[i]
            if let v = value(w, ["--threads"]) {
                guard let v, let n = Int(v) else { return nil }
                c.threads = n
            } else if let v = value(w, ["--maxCasesPerChunk", "--max-cases-per-chunk"]) {
                guard let v, let n = Int(v) else { return nil }
                c.maxCasesPerChunk = n
            } else if let v = value(w, ["--org"]) {
                guard let v else { return nil }
                c.organization = v
            } else if let v = value(w, ["--connection"]) {
                guard let v else { return nil }
                c.connection = v
            } else if let v = value(w, ["-c", "--config"]) {
                guard v != nil else { return nil }
            } else if w.hasPrefix("-") {
                return nil
            } else {
                c.dictionaries.append(w)
            }
            i += 1
        }
        return c
    }

    /// The breakout command line, words quoted where needed.
    package var line: String {
        var words = ["breakout", "process-cases"]
        if let organization { words += ["--org", organization] }
        if let connection { words += ["--connection", connection] }
        if let threads { words += ["--threads", String(threads)] }
        if let maxCasesPerChunk { words += ["--max-cases-per-chunk", String(maxCasesPerChunk)] }
        words += dictionaries
        return words.map(Self.quoted).joined(separator: " ")
    }

    static func quoted(_ w: String) -> String {
        let safe = w.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@".contains($0) }
        return safe && !w.isEmpty ? w : "'" + w.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Shell-like words: spaces separate, single and double quotes group.
    static func tokens(_ line: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        var started = false
        for ch in line {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                started = true
            } else if ch == " " || ch == "\t" {
                if started || !current.isEmpty { out.append(current) }
                current = ""
                started = false
            } else {
                current.append(ch)
            }
        }
        if started || !current.isEmpty { out.append(current) }
        return out
    }
}
