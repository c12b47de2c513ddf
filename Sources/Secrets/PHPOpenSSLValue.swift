import Foundation

/// The layout an existing PHP UI reads from `mt_database_connections.password_encrypted`:
/// `base64(IV ‖ base64(openssl_encrypt(password, 'aes-256-cbc', key, 0, IV)))`, with the raw
/// 32-byte master key as `key`. No integrity check (the PHP side never had one): written only when
/// `state.password_format: php-openssl` asks for it, and plan warns about it.
package enum PHPOpenSSLValue {
    package static func encrypt(_ plaintext: String, with key: MasterKey) throws -> String {
        let iv = try LibCrypto.randomBytes(16)
        let ciphertext = try LibCrypto.aes256CBC(encrypt: true, key: key.bytes, iv: iv, input: Array(plaintext.utf8))
        let inner = Data(ciphertext).base64EncodedString()
        return Data(iv + Array(inner.utf8)).base64EncodedString()
    }

    /// Decrypts with the first key of the ring that gives valid padding and UTF-8 (there is no kid
    /// or MAC in this layout to choose or check the key).
    package static func decrypt(_ value: String, with ring: Keyring) throws -> String {
        guard let outer = Data(base64Encoded: value), outer.count > 16,
            let inner = Data(base64Encoded: Data(outer.dropFirst(16)))
        else {
            throw SecretError.malformed("not a php-openssl value (base64 of IV and base64 ciphertext)")
        }
        let iv = Array(outer.prefix(16))
        for key in ring.keys {
            // A wrong key or a damaged value fails the same way: both mean "not this key", and the next key is tried.
            if let plain = try? LibCrypto.aes256CBC(encrypt: false, key: key.bytes, iv: iv, input: Array(inner)),
                let text = String(bytes: plain, encoding: .utf8)
            {
                return text
            }
        }
        throw SecretError.unknownKey(kid: "php-openssl", loaded: ring.keys.map(\.kid))
    }
}

/// A password as the control tables store it: an `enc:v1` value, or the php-openssl layout.
package enum StoredSecret {
    /// A password of `mt_database_connections`, written by apply for organization `organization`.
    package static func decrypt(_ stored: String, with ring: Keyring, organization: String) throws -> String {
        SecretValue.isEncrypted(stored)
            ? try SecretValue.decrypt(stored, with: ring, scope: .organization(organization))
            : try PHPOpenSSLValue.decrypt(stored, with: ring)
    }
}
