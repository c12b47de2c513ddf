import Foundation

/// Whom an encrypted value belongs to: breakout.yaml (the operator) or one organization. A value
/// written for one scope does not decrypt in another, so an organization cannot copy another's
/// encrypted password into its own file (docs/security.md).
package enum SecretScope: Sendable, Hashable, CustomStringConvertible {
    case settings
    case organization(String)

    /// What the tag covers after the header: `settings` or `organization:<slug>`.
    package var text: String {
        switch self {
        case .settings: "settings"
        case .organization(let slug): "organization:\(slug)"
        }
    }

    package var description: String {
        switch self {
        case .settings: "breakout.yaml"
        case .organization(let slug): "organization \(slug)"
        }
    }

    /// The scope of a configuration file: `breakout.yaml`, or `organizations/<slug>.yaml`.
    package static func of(file: String) -> SecretScope {
        let name = (file as NSString).lastPathComponent
        guard (file as NSString).deletingLastPathComponent.hasSuffix("organizations") else { return .settings }
        return .organization((name as NSString).deletingPathExtension)
    }
}

/// Encrypted values: `enc:v2:<kid>:<base64(IV ‖ CT ‖ TAG)>`, AES-256-CBC (PKCS#7) under Kenc,
/// then HMAC-SHA256 under Kmac over the ASCII header `enc:v2:<kid>:`, the scope's text, a newline,
/// and IV ‖ CT (encrypt-then-MAC; the tag is verified, in constant time, before anything is
/// decrypted). `enc:v1` values (no scope in the tag) still decrypt, anywhere; `validate` warns
/// about them and `secrets rotate` upgrades them. PHP reads both with `hash_hkdf`, `hash_hmac`
/// and `openssl_decrypt` (docs/secrets.md, docs/decrypt.php).
package enum SecretValue {
    package static let prefix = "enc:v2:"
    package static let legacyPrefix = "enc:v1:"

    /// Whether a configuration string is an encrypted value (rather than plaintext or `${env:…}`).
    package static func isEncrypted(_ text: String) -> Bool { text.hasPrefix(prefix) || text.hasPrefix(legacyPrefix) }

    /// Whether a value is of the old, unscoped `enc:v1` form.
    package static func isLegacy(_ text: String) -> Bool { text.hasPrefix(legacyPrefix) }

    /// Encrypts `plaintext` under `key` for `scope`, with a fresh random IV.
    package static func encrypt(_ plaintext: String, with key: MasterKey, scope: SecretScope) throws -> String {
        try encrypt(plaintext, with: key, scope: scope, iv: LibCrypto.randomBytes(16))
    }

    static func encrypt(_ plaintext: String, with key: MasterKey, scope: SecretScope?, iv: [UInt8]) throws -> String {
        let header = "\(scope == nil ? legacyPrefix : prefix)\(key.kid):"
        let ciphertext = try LibCrypto.aes256CBC(encrypt: true, key: key.encryptionKey, iv: iv, input: Array(plaintext.utf8))
        let tag = LibCrypto.hmacSHA256(key: key.macKey, data: authenticated(header, scope) + iv + ciphertext)
        return header + Data(iv + ciphertext + tag).base64EncodedString()
    }

    /// The old, unscoped form; only for tests of the upgrade path.
    package static func encryptLegacy(_ plaintext: String, with key: MasterKey) throws -> String {
        try encrypt(plaintext, with: key, scope: nil, iv: LibCrypto.randomBytes(16))
    }

    static func authenticated(_ header: String, _ scope: SecretScope?) -> [UInt8] {
        Array(header.utf8) + (scope.map { Array(($0.text + "\n").utf8) } ?? [])
    }

    /// The key id a value names, without decrypting it.
    package static func kid(of value: String) throws -> String {
        try parse(value).kid
    }

    /// Decrypts a value with the key of the ring that its kid names. An `enc:v2` value must have
    /// been written for `scope`; when it was written for another, and that scope is among
    /// `candidates` (listed only then), the error names it.
    ///
    /// - Throws: ``SecretError`` `.malformed`, `.unknownKey`, `.wrongScope` or `.tampered`
    ///   (distinct, so a user can tell a wrong key or a copied value from an altered one).
    package static func decrypt(
        _ value: String, with ring: Keyring, scope: SecretScope,
        candidates: @autoclosure () -> [SecretScope] = []
    ) throws -> String {
        let (kid, header, payload) = try parse(value)
        guard let key = ring.key(kid: kid) else {
            if ring.keys.isEmpty { throw SecretError.noKey }
            throw SecretError.unknownKey(kid: kid, loaded: ring.keys.map(\.kid))
        }
        let legacy = header.hasPrefix(legacyPrefix)
        let iv = Array(payload.prefix(16))
        let ciphertext = Array(payload.dropFirst(16).dropLast(32))
        let tag = Array(payload.suffix(32))
        func verifies(_ s: SecretScope?) -> Bool {
            LibCrypto.constantTimeEqual(tag, LibCrypto.hmacSHA256(key: key.macKey, data: authenticated(header, s) + iv + ciphertext))
        }
        guard verifies(legacy ? nil : scope) else {
            if !legacy, let owner = ([.settings] + candidates()).first(where: { $0 != scope && verifies($0) }) {
                throw SecretError.wrongScope(expected: scope.description, found: owner.description)
            }
            throw SecretError.tampered
        }
        let plaintext: [UInt8]
        do {
            plaintext = try LibCrypto.aes256CBC(encrypt: false, key: key.encryptionKey, iv: iv, input: ciphertext)
        } catch {
            throw SecretError.malformed("the ciphertext does not decrypt")
        }
        guard let text = String(bytes: plaintext, encoding: .utf8) else { throw SecretError.malformed("the plaintext is not UTF-8") }
        return text
    }

    private static func parse(_ value: String) throws -> (kid: String, header: String, payload: [UInt8]) {
        let version = value.hasPrefix(prefix) ? prefix : legacyPrefix
        guard value.hasPrefix(version) else { throw SecretError.malformed("it does not start with \"\(prefix)\"") }
        let rest = value.dropFirst(version.count)
        guard let colon = rest.firstIndex(of: ":") else { throw SecretError.malformed("the key id is not followed by \":\"") }
        let kid = String(rest[..<colon])
        guard kid.count == 8, kid.allSatisfy(\.isHexDigit) else { throw SecretError.malformed("the key id \"\(kid)\" is not 8 hex digits") }
        guard let data = Data(base64Encoded: String(rest[rest.index(after: colon)...])) else {
            throw SecretError.malformed("the payload is not base64")
        }
        // IV (16) + at least one cipher block (16) + tag (32); CBC output is whole blocks.
        guard data.count >= 64, (data.count - 48) % 16 == 0 else {
            throw SecretError.malformed("the payload is \(data.count) bytes, too short or cut (truncated value?)")
        }
        return (kid, "\(version)\(kid):", Array(data))
    }
}

/// Keyed digests for session cookies and CSRF tokens (the dashboard): HMAC-SHA256, hex.
package enum KeyedDigest {
    package static func hex(key: String, message: String) -> String {
        LibCrypto.hmacSHA256(key: Array(key.utf8), data: Array(message.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Equal in constant time.
    package static func same(_ a: String, _ b: String) -> Bool {
        LibCrypto.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
