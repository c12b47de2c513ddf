import Foundation

/// The `enc:v1:<kid>:<base64(IV ‖ CT ‖ TAG)>` format: AES-256-CBC (PKCS#7) under Kenc, then
/// HMAC-SHA256 under Kmac over the ASCII prefix `enc:v1:<kid>:` followed by IV ‖ CT
/// (encrypt-then-MAC; the tag is verified, in constant time, before anything is decrypted).
/// PHP reads it with `hash_hkdf`, `hash_hmac` and `openssl_decrypt` (docs/secrets.md).
public enum SecretValue {
    public static let prefix = "enc:v1:"

    /// Whether a configuration string is an encrypted value (rather than plaintext or `${env:…}`).
    public static func isEncrypted(_ text: String) -> Bool { text.hasPrefix(prefix) }

    /// Encrypts `plaintext` under `key` with a fresh random IV.
    public static func encrypt(_ plaintext: String, with key: MasterKey) throws -> String {
        try encrypt(plaintext, with: key, iv: LibCrypto.randomBytes(16))
    }

    static func encrypt(_ plaintext: String, with key: MasterKey, iv: [UInt8]) throws -> String {
        let header = "\(prefix)\(key.kid):"
        let ciphertext = try LibCrypto.aes256CBC(encrypt: true, key: key.encryptionKey, iv: iv, input: Array(plaintext.utf8))
        let tag = LibCrypto.hmacSHA256(key: key.macKey, data: Array(header.utf8) + iv + ciphertext)
        return header + Data(iv + ciphertext + tag).base64EncodedString()
    }

    /// The key id a value names, without decrypting it.
    public static func kid(of value: String) throws -> String {
        try parse(value).kid
    }

    /// Decrypts a value with the key of the ring that its kid names.
    ///
    /// - Throws: ``SecretError`` `.malformed`, `.unknownKey` or `.tampered` (distinct, so a user
    ///   can tell a wrong key from an altered value).
    public static func decrypt(_ value: String, with ring: Keyring) throws -> String {
        let (kid, header, payload) = try parse(value)
        guard let key = ring.key(kid: kid) else {
            if ring.keys.isEmpty { throw SecretError.noKey }
            throw SecretError.unknownKey(kid: kid, loaded: ring.keys.map(\.kid))
        }
        let iv = Array(payload.prefix(16))
        let ciphertext = Array(payload.dropFirst(16).dropLast(32))
        let tag = Array(payload.suffix(32))
        let expected = LibCrypto.hmacSHA256(key: key.macKey, data: Array(header.utf8) + iv + ciphertext)
        guard LibCrypto.constantTimeEqual(tag, expected) else { throw SecretError.tampered }
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
        guard value.hasPrefix(prefix) else { throw SecretError.malformed("it does not start with \"\(prefix)\"") }
        let rest = value.dropFirst(prefix.count)
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
        return (kid, "\(prefix)\(kid):", Array(data))
    }
}

/// Keyed digests for session cookies and CSRF tokens (the dashboard): HMAC-SHA256, hex.
public enum KeyedDigest {
    public static func hex(key: String, message: String) -> String {
        LibCrypto.hmacSHA256(key: Array(key.utf8), data: Array(message.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Equal in constant time.
    public static func same(_ a: String, _ b: String) -> Bool {
        LibCrypto.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
