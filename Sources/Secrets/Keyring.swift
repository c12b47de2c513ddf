import Foundation

/// The master keys loaded for this run, found by key id. The first key encrypts; every key decrypts.
package struct Keyring: Sendable {
    package private(set) var keys: [MasterKey] = []

    package init(_ keys: [MasterKey] = []) {
        for key in keys { add(key) }
    }

    package mutating func add(_ key: MasterKey) {
        if !keys.contains(where: { $0.kid == key.kid }) { keys.append(key) }
    }

    /// The key new values are encrypted with.
    package var primary: MasterKey? { keys.first }

    package func key(kid: String) -> MasterKey? { keys.first { $0.kid == kid } }

    /// Keys from a key file: one base64 key per line; blank lines and `#` comments ignored.
    ///
    /// - Throws: ``SecretError/badKey(_:)`` naming the file and line of a bad key.
    package static func keys(fromFile path: String) throws -> [MasterKey] {
        // Missing and unreadable key files get the same error below, naming the path.
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SecretError.badKey("cannot read key file \(path)")
        }
        // A key others can read is a key others have: refused, with the fix.
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw SecretError.badKey(
                "key file \(path) has mode \(String(format: "%04o", mode)): other users can read it; run `chmod 600 \(path)`")
        }
        var keys: [MasterKey] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do { keys.append(try MasterKey(base64: trimmed)) } catch let error as SecretError {
                throw SecretError.badKey("\(path):\(number + 1): \(error)")
            }
        }
        return keys
    }

    /// The keyring from `--key-file` paths, `BREAKOUT_MASTER_KEY` and `BREAKOUT_KEY_FILE`, in that order.
    package static func load(keyFiles: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Keyring
    {
        var ring = Keyring()
        for path in keyFiles { for key in try keys(fromFile: path) { ring.add(key) } }
        if let base64 = environment["BREAKOUT_MASTER_KEY"], !base64.isEmpty {
            do { ring.add(try MasterKey(base64: base64)) } catch let error as SecretError {
                throw SecretError.badKey("BREAKOUT_MASTER_KEY: \(error)")
            }
        }
        if let path = environment["BREAKOUT_KEY_FILE"], !path.isEmpty {
            for key in try keys(fromFile: path) { ring.add(key) }
        }
        return ring
    }
}
