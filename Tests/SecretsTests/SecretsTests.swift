import Foundation
@testable import Secrets
import Testing

@Suite struct SecretsTests {
    static let key = try! MasterKey(bytes: Array(0..<32))
    static let otherKey = try! MasterKey(bytes: Array(repeating: 7, count: 32))

    @Test func hkdfMatchesRFC5869TestCase3() {
        // RFC 5869 A.3: SHA-256, IKM = 22 × 0x0b, empty salt, empty info, L = 42.
        let okm = LibCrypto.hkdfSHA256(key: Array(repeating: 0x0b, count: 22), info: [], length: 42)
        #expect(okm.map { String(format: "%02x", $0) }.joined()
            == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func hkdfMatchesRFC5869TestCase1() {
        let okm = LibCrypto.hkdfSHA256(key: Array(repeating: 0x0b, count: 22), salt: Array(0...12), info: Array(0xf0...0xf9), length: 42)
        #expect(okm.map { String(format: "%02x", $0) }.joined()
            == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func kidIsTheFirstEightHexDigitsOfTheKeyHash() {
        // SHA-256 of bytes 0x00…0x1f starts with 630dcd29.
        #expect(Self.key.kid == "630dcd29")
        #expect(Self.key.description == "master key 630dcd29")
    }

    @Test func roundTripsAnyText() throws {
        let ring = Keyring([Self.key])
        for plaintext in ["secret123", "", "p@ss:w0rd 'quoted' \"double\" \\ back", "Thiès — 😀", String(repeating: "x", count: 1000)] {
            let value = try SecretValue.encrypt(plaintext, with: Self.key)
            #expect(value.hasPrefix("enc:v1:630dcd29:"))
            #expect(!value.contains(plaintext) || plaintext.isEmpty)
            #expect(try SecretValue.decrypt(value, with: ring) == plaintext)
        }
    }

    @Test func freshIVEachTime() throws {
        #expect(try SecretValue.encrypt("same", with: Self.key) != SecretValue.encrypt("same", with: Self.key))
    }

    @Test func severalKeysAreChosenByKid() throws {
        let ring = Keyring([Self.otherKey, Self.key])
        let a = try SecretValue.encrypt("a", with: Self.key)
        let b = try SecretValue.encrypt("b", with: Self.otherKey)
        #expect(try SecretValue.decrypt(a, with: ring) == "a")
        #expect(try SecretValue.decrypt(b, with: ring) == "b")
        #expect(ring.primary?.kid == Self.otherKey.kid)
    }

    @Test func wrongTamperedAndTruncatedValuesGiveDistinctErrors() throws {
        let value = try SecretValue.encrypt("secret123", with: Self.key)
        #expect(throws: SecretError.unknownKey(kid: Self.key.kid, loaded: [Self.otherKey.kid])) {
            try SecretValue.decrypt(value, with: Keyring([Self.otherKey]))
        }
        #expect(throws: SecretError.noKey) { try SecretValue.decrypt(value, with: Keyring()) }
        // Flip one bit of the ciphertext.
        var payload = Array(Data(base64Encoded: String(value.split(separator: ":")[3]))!)
        payload[20] ^= 1
        let tampered = "enc:v1:\(Self.key.kid):" + Data(payload).base64EncodedString()
        #expect(throws: SecretError.tampered) { try SecretValue.decrypt(tampered, with: Keyring([Self.key])) }
        // A different kid in the header is caught by the MAC too (the header is authenticated).
        let truncated = String(value.dropLast(12))
        let error = #expect(throws: SecretError.self) { try SecretValue.decrypt(truncated, with: Keyring([Self.key])) }
        if case .malformed = error {} else { Issue.record("expected malformed, got \(String(describing: error))") }
        for bad in ["secret123", "enc:v1:", "enc:v1:zzzzzzzz:AAAA", "enc:v1:630dcd29:not base64!"] {
            #expect(throws: SecretError.self) { try SecretValue.decrypt(bad, with: Keyring([Self.key])) }
        }
    }

    @Test func errorsNeverContainThePlaintext() throws {
        let value = try SecretValue.encrypt("Sup3rS3cret", with: Self.key)
        do { _ = try SecretValue.decrypt(value, with: Keyring([Self.otherKey])) } catch {
            #expect(!"\(error)".contains("Sup3rS3cret"))
        }
    }

    @Test func keyFilesAndEnvironment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# demo keys\n\n\(Self.key.base64)\n  \(Self.otherKey.base64)  \n".write(toFile: path, atomically: true, encoding: .utf8)
        // A key file others can read is refused, with the chmod to run.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let open = #expect(throws: SecretError.self) { try Keyring.load(environment: ["BREAKOUT_KEY_FILE": path]) }
        #expect(open?.description.contains("has mode 0644: other users can read it; run `chmod 600 \(path)`") == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let ring = try Keyring.load(environment: ["BREAKOUT_KEY_FILE": path])
        #expect(ring.keys.map(\.kid) == [Self.key.kid, Self.otherKey.kid])
        let fromEnv = try Keyring.load(environment: ["BREAKOUT_MASTER_KEY": Self.otherKey.base64, "BREAKOUT_KEY_FILE": path])
        #expect(fromEnv.primary?.kid == Self.otherKey.kid)
        try "\(Self.key.base64)\nnot-a-key\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let error = #expect(throws: SecretError.self) { try Keyring.load(environment: ["BREAKOUT_KEY_FILE": path]) }
        #expect(error?.description.hasPrefix("\(path):2:") == true)
        #expect(throws: SecretError.self) { try MasterKey(base64: Data(Array(repeating: 1, count: 16)).base64EncodedString()) }
    }

    /// PHP decrypts what we encrypt, with hash_hkdf, hash_hmac and openssl_decrypt (docs/decrypt.php).
    /// CI installs php-cli; under CI=true a missing php is a failure.
    @Test func phpDecryptsOurValues() throws {
        let php = ["/usr/bin/php", "/usr/local/bin/php"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let php else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("php is not installed; scripts/install-deps.sh --servers installs php-cli") }
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/decrypt.php").path
        let key = try MasterKey.generate()
        for plaintext in ["secret123", "Thiès — 😀 'quote' \\", String(repeating: "ab", count: 40)] {
            let value = try SecretValue.encrypt(plaintext, with: key)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: php)
            process.arguments = [script, value]
            process.environment = ["BREAKOUT_MASTER_KEY": key.base64]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(String(decoding: data, as: UTF8.self) == plaintext)
        }
    }
}
