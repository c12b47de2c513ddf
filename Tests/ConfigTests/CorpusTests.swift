import Config
import Foundation
import Secrets
import Testing

/// The malformed-config corpus (`Corpus/*.case`): each case is a small config tree and the exact
/// diagnostics `breakout validate` must print, plus whether the JSON Schemas must reject it
/// (`# schema: invalid`, a structural error) or accept it (`# schema: valid`, an error only the
/// loader can see: cross-file rules, decryption, cron fields, time zones).
struct CorpusCase: CustomTestStringConvertible, Sendable {
    var name: String
    var schemaVerdict: String
    var files: [(String, String)]
    var expected: [String]
    var testDescription: String { name }

    static func all() throws -> [CorpusCase] {
        let folder = Bundle.module.resourceURL!.appendingPathComponent("Corpus")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".case") }.sorted()
        return try names.map { name in
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            var verdict = ""
            var files: [(String, String)] = []
            var expected: [String] = []
            var current: String?
            var body = ""
            func flush() {
                guard let current else { return }
                if current == "expected" { expected = body.split(separator: "\n").map(String.init) } else { files.append((current, body)) }
            }
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                if line.hasPrefix("# schema: "), current == nil { verdict = String(line.dropFirst(10)); continue }
                if line.hasPrefix("=== ") {
                    flush()
                    current = String(line.dropFirst(4))
                    body = ""
                    continue
                }
                body += line + "\n"
            }
            flush()
            return CorpusCase(name: name, schemaVerdict: verdict, files: files, expected: expected)
        }
    }

    /// Writes the case's files into a fresh directory.
    func materialize() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)").path
        for (path, text) in files {
            let full = (dir as NSString).appendingPathComponent(path)
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return dir
    }
}

/// The corpus' key (bytes 0…31, kid 630dcd29) and environment.
let corpusKeyring = Keyring([try! MasterKey(bytes: Array(0..<32))])
let corpusEnvironment = ["SET_VAR": "x"]

@Suite struct CorpusTests {
    @Test func corpusHasAtLeastFortyCases() throws {
        #expect(try CorpusCase.all().count >= 40)
    }

    @Test(arguments: try CorpusCase.all())
    func loaderReportsExactlyTheExpectedDiagnostics(corpusCase: CorpusCase) throws {
        let dir = try corpusCase.materialize()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = ConfigLoader(directory: dir, keyring: corpusKeyring, environment: corpusEnvironment).load()
        #expect(result.diagnostics.map(\.description) == corpusCase.expected)
        #expect(!corpusCase.expected.isEmpty)
        #expect(result.configuration == nil, "a config with errors must not load")
    }

    @Test(arguments: try CorpusCase.all())
    func schemaAgreesWithTheLoader(corpusCase: CorpusCase) throws {
        let dir = try corpusCase.materialize()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let verdicts = try SchemaChecker.check(dir) else { return }
        let schemaSaysValid = verdicts.allSatisfy { $0.hasPrefix("valid ") }
        #expect(schemaSaysValid == (corpusCase.schemaVerdict == "valid"), "\(verdicts)")
    }
}

/// Runs scripts/check-schema.py (python3 with jsonschema and PyYAML). Returns nil, after recording
/// a failure under CI=true, when the checker cannot run.
enum SchemaChecker {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func check(_ directory: String) throws -> [String]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appendingPathComponent("scripts/check-schema.py").path, directory]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let problem = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("schema checker cannot run: \(String(decoding: problem, as: UTF8.self))")
            }
            return nil
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
