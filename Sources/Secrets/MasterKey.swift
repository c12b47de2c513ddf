import Foundation

/// A 32-byte master key, and the two keys derived from it for the `enc:v1` format.
package struct MasterKey: Sendable, Hashable {
    let bytes: [UInt8]
    /// First 8 hex digits of SHA-256(key): names the key inside every value it encrypted.
    package let kid: String
    let encryptionKey: [UInt8]
    let macKey: [UInt8]

    /// - Throws: ``SecretError`` when the bytes are not exactly 32.
    package init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw SecretError.badKey("a master key must be 32 bytes, got \(bytes.count)") }
        self.bytes = bytes
        kid = LibCrypto.sha256(bytes).prefix(4).map { String(format: "%02x", $0) }.joined()
        encryptionKey = LibCrypto.hkdfSHA256(key: bytes, info: Array("breakout/v1/enc".utf8), length: 32)
        macKey = LibCrypto.hkdfSHA256(key: bytes, info: Array("breakout/v1/mac".utf8), length: 32)
    }

    /// Reads a base64 key (surrounding white space ignored).
    package init(base64 text: String) throws {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SecretError.badKey("a master key must be base64 (make one with `breakout secrets keygen`)")
        }
        try self.init(bytes: Array(data))
    }

    /// A new random key.
    package static func generate() throws -> MasterKey { try MasterKey(bytes: LibCrypto.randomBytes(32)) }

    package var base64: String { Data(bytes).base64EncodedString() }
}

extension MasterKey: CustomStringConvertible {
    /// Only the key id: the key itself is never printed.
    package var description: String { "master key \(kid)" }
}
