import Config
import Foundation
import Secrets
import Testing

@Suite struct ExampleTests {
    static let examples = SchemaChecker.repository.appendingPathComponent("examples")
    static func demoKeyring() throws -> Keyring {
        // Key files must be 0600; git keeps the demo key 0644, so the tests read a private copy.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString).key").path
        try FileManager.default.copyItem(atPath: examples.appendingPathComponent("multi-tenant/demo.key").path, toPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
        return Keyring(try Keyring.keys(fromFile: copy))
    }

    @Test(arguments: ["quickstart", "multi-tenant"])
    func examplesValidateCleanInLoaderAndSchema(name: String) throws {
        let dir = Self.examples.appendingPathComponent(name).path
        let result = ConfigLoader(directory: dir, keyring: try Self.demoKeyring(), environment: [:]).load()
        // No error; the multi-tenant example keeps the guide's pair of ANSD jobs, whose runs can
        // overlap on RGPH (a warning: the second waits for the first's destination lock).
        #expect(result.errors.isEmpty, "\(result.diagnostics)")
        #expect(
            result.diagnostics.map(\.message).allSatisfy { $0.contains("both break out RGPH into connection \"postgres-ansd\"") },
            "\(result.diagnostics)")
        #expect(result.diagnostics.count == (name == "multi-tenant" ? 1 : 0))
        #expect(result.configuration != nil)
        if let verdicts = try SchemaChecker.check(dir) {
            #expect(verdicts.allSatisfy { $0.hasPrefix("valid ") }, "\(verdicts)")
        }
    }

    @Test func multiTenantModelMatchesTheGuide() throws {
        let config = try #require(
            ConfigLoader(
                directory: Self.examples.appendingPathComponent("multi-tenant").path,
                keyring: try Self.demoKeyring(), environment: [:]
            ).load().configuration)
        let ansd = try #require(config.organizations.first { $0.slug.value == "ansd" })
        #expect(ansd.dictionaries.map(\.value) == ["RGPH", "SURVEY2024"])
        #expect(
            ansd.connections.map { "\($0.name.value):\($0.engine.rawValue):\($0.isDefault)" } == [
                "postgres-ansd:postgresql:true", "mysql-backup:mysql:false",
            ])
        #expect(ansd.jobs.map(\.name.value) == ["breakout-quotidien", "breakout-rgph", "export-mensuel"])
        let daily = ansd.jobs[0]
        #expect(daily.connection == "postgres-ansd")
        #expect(daily.timeZone == "Africa/Dakar")
        #expect(daily.schedule.matches(minute: 0, hour: 2, day: 15, month: 6, weekday: 3))
        let rgph = ansd.jobs[1]
        #expect(rgph.dictionaries == ["RGPH"] && rgph.threads == 5 && rgph.maxCasesPerChunk == 2000 && rgph.timeout == 1500)
        #expect(ansd.jobs[2].kind == .export && ansd.jobs[2].output == "exports" && ansd.jobs[2].retries == 2)
        let insd = try #require(config.organizations.first { $0.slug.value == "insd" })
        #expect(insd.jobs[0].connection == "sqlserver-insd")  // the only connection is the default
        #expect(insd.jobs[0].include == ["HOUSEHOLD", "PERSON"])
        #expect(config.settings.defaults.threads == 3)
    }
}

@Suite struct RotationTests {
    /// Rotation rewrites only the encrypted scalars: every other byte of every file stays.
    @Test func rotationChangesOnlyTheEncryptedValues() throws {
        let source = ExampleTests.examples.appendingPathComponent("multi-tenant").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rotate-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: source, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oldRing = try ExampleTests.demoKeyring()
        let newKey = try MasterKey.generate()
        var ring = oldRing
        ring.add(newKey)
        let before = try SecretRotation.files(in: dir).map {
            ($0, try String(contentsOfFile: (dir as NSString).appendingPathComponent($0), encoding: .utf8))
        }
        let rotated = try SecretRotation.rotate(directory: dir, keyring: ring, to: newKey)
        #expect(rotated.reduce(0) { $0 + $1.values } == 5)
        for (path, old) in before {
            let new = try String(contentsOfFile: (dir as NSString).appendingPathComponent(path), encoding: .utf8)
            let oldLines = old.components(separatedBy: "\n")
            let newLines = new.components(separatedBy: "\n")
            try #require(oldLines.count == newLines.count)
            for (a, b) in zip(oldLines, newLines) where a != b {
                // The only difference on a changed line is the encrypted token itself (now enc:v2).
                let aRange = try #require(a.range(of: "enc:v"))
                let bRange = try #require(b.range(of: "enc:v2:"))
                #expect(a[..<aRange.lowerBound] == b[..<bRange.lowerBound])
                let oldValue = String(a[aRange.lowerBound...].prefix { !$0.isWhitespace })
                let newValue = String(b[bRange.lowerBound...].prefix { !$0.isWhitespace })
                #expect(a.replacingOccurrences(of: oldValue, with: newValue) == b)
                #expect(try SecretValue.kid(of: newValue) == newKey.kid)
                let scope = SecretScope.of(file: path)
                #expect(
                    try SecretValue.decrypt(newValue, with: Keyring([newKey]), scope: scope)
                        == SecretValue.decrypt(oldValue, with: oldRing, scope: scope))
            }
        }
        // The rotated tree validates with the new key alone; rotating again changes nothing.
        #expect(ConfigLoader(directory: dir, keyring: Keyring([newKey]), environment: [:]).load().errors.isEmpty)
        #expect(try SecretRotation.rotate(directory: dir, keyring: Keyring([newKey]), to: newKey).isEmpty)
    }

    @Test func rotationWritesNothingWhenAValueCannotBeDecrypted() throws {
        let source = ExampleTests.examples.appendingPathComponent("multi-tenant").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rotate-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: source, toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let org = (dir as NSString).appendingPathComponent("organizations/insd.yaml")
        let foreign = try SecretValue.encrypt("x", with: try MasterKey.generate(), scope: .organization("insd"))
        var text = try String(contentsOfFile: org, encoding: .utf8)
        let value = String(text[text.range(of: "enc:v")!.lowerBound...].prefix { !$0.isWhitespace })
        text = text.replacingOccurrences(of: value, with: foreign)
        try text.write(toFile: org, atomically: true, encoding: .utf8)
        let settings = (dir as NSString).appendingPathComponent("breakout.yaml")
        let before = try String(contentsOfFile: settings, encoding: .utf8)
        let newKey = try MasterKey.generate()
        var ring = try ExampleTests.demoKeyring()
        ring.add(newKey)
        #expect(throws: SecretRotation.RotationError.self) { try SecretRotation.rotate(directory: dir, keyring: ring, to: newKey) }
        #expect(try String(contentsOfFile: settings, encoding: .utf8) == before)
    }
}
