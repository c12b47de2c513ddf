import Diagnostics
import Foundation
import Secrets
import Yams

/// `breakout secrets rotate`: re-encrypts every `enc:v2`/`enc:v1` value of a config tree under a new key (as `enc:v2`, bound to its file),
/// rewriting only those scalars in place (comments, order and formatting untouched). Nothing is
/// written unless every value decrypts.
package enum SecretRotation {
    package struct Rotated: Sendable {
        package var file: String
        package var values: Int
    }

    package enum RotationError: UserFacingError {
        case cannotRead(String)
        case yaml(String)
        case secret(SourceLocation, SecretError)
        case locate(SourceLocation)

        package var description: String {
            switch self {
            case .cannotRead(let file): "\(file):1:1: error: cannot read the file"
            case .yaml(let message): message
            case .secret(let at, let error): "\(at): error: \(error)"
            case .locate(let at): "\(at): error: cannot find the encrypted value's text at this position"
            }
        }
    }

    /// The YAML files of a config tree, relative to it: `breakout.yaml`, `organizations/*.y(a)ml`.
    package static func files(in directory: String) -> [String] {
        var out = ["breakout.yaml"]
        let folder = (directory as NSString).appendingPathComponent("organizations")
        // No organizations folder: only breakout.yaml is rotated. validate reports a folder it cannot list.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        out += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "organizations/\($0)" }
        return out.filter { FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0)) }
    }

    /// Rotates every value not already under `newKey`; returns what changed per file.
    package static func rotate(directory: String, keyring: Keyring, to newKey: MasterKey) throws -> [Rotated] {
        var rewritten: [(path: String, text: String, count: Int)] = []
        for relative in files(in: directory) {
            let path = (directory as NSString).appendingPathComponent(relative)
            // Missing and unreadable files get the same error, naming the file.
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw RotationError.cannotRead(relative) }
            let sink = DiagnosticSink()
            guard let file = YAMLFile.parse(path: relative, text: text, sink: sink) else {
                throw RotationError.yaml(sink.diagnostics.map(\.description).joined(separator: "\n"))
            }
            var replacements: [(line: Int, column: Int, old: String, new: String)] = []
            for scalar in scalars(file.root) where SecretValue.isEncrypted(scalar.string) {
                let at = file.location(.scalar(scalar))
                // Not an encrypted value (a plaintext or ${env:…} reference): nothing to rotate.
                let kid = try? SecretValue.kid(of: scalar.string)
                if kid == newKey.kid, !SecretValue.isLegacy(scalar.string) { continue }
                do {
                    // Rewritten as enc:v2, bound to this file's scope (an enc:v1 value is upgraded).
                    let scope = SecretScope.of(file: relative)
                    let plaintext = try SecretValue.decrypt(scalar.string, with: keyring, scope: scope)
                    let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
                    replacements.append(
                        (
                            at.line, at.column + (quoted ? 1 : 0), scalar.string,
                            try SecretValue.encrypt(plaintext, with: newKey, scope: scope)
                        ))
                } catch let error as SecretError {
                    throw RotationError.secret(at, error)
                }
            }
            guard !replacements.isEmpty else { continue }
            rewritten.append((relative, try apply(replacements, to: text, file: relative), replacements.count))
        }
        // Every value decrypted: now write, each file atomically.
        // An atomic write makes a new file with the umask's mode; each file keeps the mode it had.
        for item in rewritten {
            let path = (directory as NSString).appendingPathComponent(item.path)
            // The file was just read; without its mode the rewritten file gets 0600.
            let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
            try item.text.write(toFile: path, atomically: true, encoding: .utf8)
            if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path) }
        }
        return rewritten.map { Rotated(file: $0.path, values: $0.count) }
    }

    static func scalars(_ node: Node?) -> [Node.Scalar] {
        switch node {
        case .scalar(let s)?: return [s]
        case .mapping(let m)?: return m.flatMap { scalars($0.key) + scalars($0.value) }
        case .sequence(let q)?: return q.flatMap { scalars($0) }
        default: return []
        }
    }

    /// Replaces each old value, found at its line and column (counted in Unicode scalars), by the new one.
    static func apply(_ replacements: [(line: Int, column: Int, old: String, new: String)], to text: String, file: String) throws -> String
    {
        var lines = text.components(separatedBy: "\n")
        for r in replacements.sorted(by: { ($0.line, $0.column) > ($1.line, $1.column) }) {
            let index = r.line - 1
            guard index < lines.count else { throw RotationError.locate(SourceLocation(file: file, line: r.line, column: r.column)) }
            var scalars = Array(lines[index].unicodeScalars)
            let start = r.column - 1
            let old = Array(r.old.unicodeScalars)
            guard start >= 0, start + old.count <= scalars.count, Array(scalars[start..<start + old.count]) == old else {
                throw RotationError.locate(SourceLocation(file: file, line: r.line, column: r.column))
            }
            scalars.replaceSubrange(start..<start + old.count, with: Array(r.new.unicodeScalars))
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            lines[index] = String(view)
        }
        return lines.joined(separator: "\n")
    }
}
