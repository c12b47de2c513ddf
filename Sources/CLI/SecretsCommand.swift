import ArgumentParser
import Config
import Foundation
import Secrets

/// `breakout secrets …`: master keys and `enc:v2` values.
struct SecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Make master keys and encrypt or decrypt secret values (enc:v2).",
        subcommands: [Keygen.self, Encrypt.self, Decrypt.self, Rotate.self]
    )

    struct KeyOptions: ParsableArguments {
        @Option(
            name: .customLong("key-file"),
            help: "A file of base64 master keys, one per line (repeatable). Also read: BREAKOUT_MASTER_KEY, BREAKOUT_KEY_FILE.")
        var keyFiles: [String] = []

        func keyring() throws -> Keyring {
            do { return try Keyring.load(keyFiles: keyFiles) } catch let error as SecretError { throw CLIError(error.description) }
        }

        /// The same options for a child process.
        var arguments: [String] { keyFiles.flatMap { ["--key-file", $0] } }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random base64 master key.",
            discussion: "Store it in a key file readable only by the service account (chmod 600), or in BREAKOUT_MASTER_KEY."
        )

        func run() throws {
            try reportingErrors { print(try MasterKey.generate().base64) }
        }
    }

    struct Encrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encrypt the secret read from standard input; print its enc:v2 value.",
            discussion: """
                The secret is read from stdin, never from the command line, so it stays out of shell history.
                One trailing newline is removed. The value is bound to where it will be written: an
                organization's file with --org ORG, breakout.yaml without it; it does not decrypt anywhere else.
                Example: printf %s "$PASSWORD" | breakout secrets encrypt --org ansd
                """
        )
        @OptionGroup var keys: KeyOptions
        @Option(name: .customLong("org"), help: "The organization whose file the value goes into (default: breakout.yaml).")
        var organization: String?

        func run() throws {
            try reportingErrors {
                let ring = try keys.keyring()
                guard let key = ring.primary else { throw CLIError(SecretError.noKey.description) }
                let input = readStandardInput()
                guard !input.isEmpty else {
                    throw CLIError("nothing on standard input to encrypt", hint: "printf %s \"$PASSWORD\" | breakout secrets encrypt")
                }
                print(try SecretValue.encrypt(input, with: key, scope: organization.map { .organization($0) } ?? .settings))
            }
        }
    }

    struct Decrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt the enc:v2 (or enc:v1) value read from standard input; print the secret.",
            discussion: "For checking a value by hand; the output is the plaintext secret. --org ORG for a value of an organization's file."
        )
        @OptionGroup var keys: KeyOptions
        @Option(name: .customLong("org"), help: "The organization whose file the value is in (default: breakout.yaml).")
        var organization: String?

        func run() throws {
            try reportingErrors {
                let value = readStandardInput().trimmingCharacters(in: .whitespacesAndNewlines)
                do {
                    print(
                        try SecretValue.decrypt(value, with: try keys.keyring(), scope: organization.map { .organization($0) } ?? .settings)
                    )
                } catch let error as SecretError {
                    throw CLIError(error.description)
                }
            }
        }
    }
}

extension SecretsCommand {
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Re-encrypt every enc:v2 (and old enc:v1) value of the config tree under a new key, in place, as enc:v2 bound to its file.",
            discussion: """
                Only the encrypted values change; comments, order and formatting of every file stay as they were.
                The current keys come from BREAKOUT_MASTER_KEY, BREAKOUT_KEY_FILE or --key-file; the new key is the first key
                in --new-key-file. Nothing is written unless every value decrypts.
                """
        )
        @OptionGroup var options: ConfigOptions

        @Option(name: .customLong("new-key-file"), help: "The file holding the new master key (its first key is used).")
        var newKeyFile: String

        func run() throws {
            try reportingErrors {
                let newKey: MasterKey
                do {
                    guard let key = try Keyring.keys(fromFile: newKeyFile).first else { throw CLIError("\(newKeyFile) holds no key") }
                    newKey = key
                } catch let error as SecretError { throw CLIError(error.description) }
                var ring = try options.keyring()
                ring.add(newKey)
                do {
                    let rotated = try SecretRotation.rotate(directory: options.directory, keyring: ring, to: newKey)
                    let total = rotated.reduce(0) { $0 + $1.values }
                    for file in rotated { print("\(file.file): \(file.values) value\(file.values == 1 ? "" : "s") re-encrypted") }
                    print("Rotated \(total) value\(total == 1 ? "" : "s") to key \(newKey.kid).")
                } catch let error as SecretRotation.RotationError {
                    throw CLIError(error.description)
                }
            }
        }
    }
}

/// Standard input as text, without one trailing newline.
func readStandardInput() -> String {
    var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
    return text
}
