import ArgumentParser
import Foundation
import Secrets

/// `breakout secrets …`: master keys and `enc:v1` values.
struct SecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "Make master keys and encrypt or decrypt secret values (enc:v1).",
        subcommands: [Keygen.self, Encrypt.self, Decrypt.self]
    )

    struct KeyOptions: ParsableArguments {
        @Option(name: .customLong("key-file"), help: "A file of base64 master keys, one per line (repeatable). Also read: BREAKOUT_MASTER_KEY, BREAKOUT_KEY_FILE.")
        var keyFiles: [String] = []

        func keyring() throws -> Keyring { try Keyring.load(keyFiles: keyFiles) }
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
            abstract: "Encrypt the secret read from standard input; print its enc:v1 value.",
            discussion: """
            The secret is read from stdin, never from the command line, so it stays out of shell history.
            One trailing newline is removed. Example: printf %s "$PASSWORD" | breakout secrets encrypt
            """
        )
        @OptionGroup var keys: KeyOptions

        func run() throws {
            try reportingErrors {
                let ring = try keys.keyring()
                guard let key = ring.primary else { throw CLIError(SecretError.noKey.description) }
                let input = readStandardInput()
                guard !input.isEmpty else { throw CLIError("nothing on standard input to encrypt", hint: "printf %s \"$PASSWORD\" | breakout secrets encrypt") }
                print(try SecretValue.encrypt(input, with: key))
            }
        }
    }

    struct Decrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt the enc:v1 value read from standard input; print the secret.",
            discussion: "For checking a value by hand; the output is the plaintext secret."
        )
        @OptionGroup var keys: KeyOptions

        func run() throws {
            try reportingErrors {
                let value = readStandardInput().trimmingCharacters(in: .whitespacesAndNewlines)
                do {
                    print(try SecretValue.decrypt(value, with: try keys.keyring()))
                } catch let error as SecretError {
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
