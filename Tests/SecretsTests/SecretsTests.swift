import Foundation
import Testing

@testable import Secrets

@Suite struct SecretsTests {
    static let key = try! MasterKey(bytes: Array(0..<32))
    static let otherKey = try! MasterKey(bytes: Array(repeating: 7, count: 32))
    static let scope = SecretScope.organization("ansd")

    @Test func hkdfMatchesRFC5869TestCase3() {
        // RFC 5869 A.3: SHA-256, IKM = 22 × 0x0b, empty salt, empty info, L = 42.
        let okm = LibCrypto.hkdfSHA256(key: Array(repeating: 0x0b, count: 22), info: [], length: 42)
        #expect(
            okm.map { String(format: "%02x", $0) }.joined()
                == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func hkdfMatchesRFC5869TestCase1() {
        let okm = LibCrypto.hkdfSHA256(key: Array(repeating: 0x0b, count: 22), salt: Array(0...12), info: Array(0xf0...0xf9), length: 42)
        #expect(
            okm.map { String(format: "%02x", $0) }.joined()
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
            let value = try SecretValue.encrypt(plaintext, with: Self.key, scope: Self.scope)
            #expect(value.hasPrefix("enc:v2:630dcd29:"))
            #expect(!value.contains(plaintext) || plaintext.isEmpty)
            #expect(try SecretValue.decrypt(value, with: ring, scope: Self.scope) == plaintext)
        }
    }

    @Test func freshIVEachTime() throws {
        #expect(
            try SecretValue.encrypt("same", with: Self.key, scope: Self.scope)
                != SecretValue.encrypt("same", with: Self.key, scope: Self.scope))
    }

    @Test func severalKeysAreChosenByKid() throws {
        let ring = Keyring([Self.otherKey, Self.key])
        let a = try SecretValue.encrypt("a", with: Self.key, scope: Self.scope)
        let b = try SecretValue.encrypt("b", with: Self.otherKey, scope: Self.scope)
        #expect(try SecretValue.decrypt(a, with: ring, scope: Self.scope) == "a")
        #expect(try SecretValue.decrypt(b, with: ring, scope: Self.scope) == "b")
        #expect(ring.primary?.kid == Self.otherKey.kid)
    }

    @Test func wrongTamperedAndTruncatedValuesGiveDistinctErrors() throws {
        let value = try SecretValue.encrypt("secret123", with: Self.key, scope: Self.scope)
        #expect(throws: SecretError.unknownKey(kid: Self.key.kid, loaded: [Self.otherKey.kid])) {
            try SecretValue.decrypt(value, with: Keyring([Self.otherKey]), scope: Self.scope)
        }
        #expect(throws: SecretError.noKey) { try SecretValue.decrypt(value, with: Keyring(), scope: Self.scope) }
        // Flip one bit of the ciphertext.
        var payload = Array(Data(base64Encoded: String(value.split(separator: ":")[3]))!)
        payload[20] ^= 1
        let tampered = "enc:v2:\(Self.key.kid):" + Data(payload).base64EncodedString()
        #expect(throws: SecretError.tampered) { try SecretValue.decrypt(tampered, with: Keyring([Self.key]), scope: Self.scope) }
        // A different kid in the header is caught by the MAC too (the header is authenticated).
        let truncated = String(value.dropLast(12))
        let error = #expect(throws: SecretError.self) { try SecretValue.decrypt(truncated, with: Keyring([Self.key]), scope: Self.scope) }
        if case .malformed = error {} else { Issue.record("expected malformed, got \(String(describing: error))") }
        for bad in ["secret123", "enc:v1:", "enc:v1:zzzzzzzz:AAAA", "enc:v1:630dcd29:not base64!"] {
            #expect(throws: SecretError.self) { try SecretValue.decrypt(bad, with: Keyring([Self.key]), scope: Self.scope) }
        }
    }

    /// A value is bound to its scope: it does not decrypt as another organization's (the error
    /// names its owner), a downgrade to enc:v1 fails the tag, and old enc:v1 values still load.
    @Test func valuesAreBoundToTheirOrganization() throws {
        let ring = Keyring([Self.key])
        let value = try SecretValue.encrypt("insd-password", with: Self.key, scope: .organization("insd"))
        #expect(throws: SecretError.wrongScope(expected: "organization ansd", found: "organization insd")) {
            try SecretValue.decrypt(
                value, with: ring, scope: .organization("ansd"), candidates: [.organization("ansd"), .organization("insd")])
        }
        #expect(throws: SecretError.tampered) { try SecretValue.decrypt(value, with: ring, scope: .organization("ansd")) }
        #expect(try SecretValue.decrypt(value, with: ring, scope: .organization("insd")) == "insd-password")
        let settings = try SecretValue.encrypt("state-password", with: Self.key, scope: .settings)
        #expect(throws: SecretError.wrongScope(expected: "organization ansd", found: "breakout.yaml")) {
            try SecretValue.decrypt(settings, with: ring, scope: .organization("ansd"))
        }
        let downgraded = "enc:v1:" + value.dropFirst("enc:v2:".count)
        #expect(throws: SecretError.tampered) { try SecretValue.decrypt(downgraded, with: ring, scope: .organization("insd")) }
        let legacy = try SecretValue.encryptLegacy("old", with: Self.key)
        #expect(legacy.hasPrefix("enc:v1:") && SecretValue.isLegacy(legacy))
        #expect(try SecretValue.decrypt(legacy, with: ring, scope: .organization("ansd")) == "old")
        #expect(
            SecretScope.of(file: "organizations/ansd.yaml") == .organization("ansd") && SecretScope.of(file: "breakout.yaml") == .settings)
        // The control tables' passwords are bound the same way: a value copied into another
        // organization's row does not decrypt there.
        #expect(throws: SecretError.tampered) { try StoredSecret.decrypt(value, with: ring, organization: "ansd") }
        #expect(try StoredSecret.decrypt(value, with: ring, organization: "insd") == "insd-password")
    }

    @Test func errorsNeverContainThePlaintext() throws {
        let value = try SecretValue.encrypt("Sup3rS3cret", with: Self.key, scope: Self.scope)
        do { _ = try SecretValue.decrypt(value, with: Keyring([Self.otherKey]), scope: Self.scope) } catch {
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
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("php is not installed; scripts/install-deps.sh --servers installs php-cli")
            }
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/decrypt.php").path
        let key = try MasterKey.generate()
        for (i, plaintext) in ["secret123", "Thiès — 😀 'quote' \\", String(repeating: "ab", count: 40)].enumerated() {
            // enc:v2 with its scope (organization:ansd), and an old enc:v1 value.
            let value =
                i == 2
                ? try SecretValue.encryptLegacy(plaintext, with: key) : try SecretValue.encrypt(plaintext, with: key, scope: Self.scope)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: php)
            process.arguments = [script, value, Self.scope.text]
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
