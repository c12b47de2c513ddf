import ArgumentParser
import Config
import Foundation
import Runner
import Secrets

/// Options every config-reading command shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("config")], help: "The config directory (holding breakout.yaml).")
    var directory: String = "."

    @OptionGroup var keys: SecretsCommand.KeyOptions

    func keyring() throws -> Keyring { try keys.keyring() }

    /// Loads and validates the configuration; prints every diagnostic (stderr) and fails on errors.
    /// With `settingsOnly` (the scheduling commands), only breakout.yaml is read: the runner works
    /// from the control tables, so one organization's broken file stops nobody's jobs.
    /// `plan` reports the warnings itself (`printWarnings: false`), with their codes.
    func load(settingsOnly: Bool = false, printWarnings: Bool = true) throws -> Configuration {
        let loader = ConfigLoader(directory: directory, keyring: try keyring())
        let result = settingsOnly ? loader.loadSettingsOnly() : loader.load()
        for diagnostic in result.diagnostics where printWarnings || diagnostic.severity == .error {
            StandardStream.error("\(diagnostic)\n")
        }
        guard let configuration = result.configuration else {
            let errors = result.errors.count
            let files = Set(result.errors.map(\.location.file)).count
            throw CLIError("\(errors) error\(errors == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"); nothing was applied")
        }
        return configuration
    }
}

/// `breakout validate [-c DIR]`.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration files and report every problem as file:line:column: error: message.",
        discussion:
            "Exit status 0 when valid, 1 when any error was found. Encrypted values are checked by decrypting them, so the master key must be loaded."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let connections = config.organizations.reduce(0) { $0 + $1.connections.count }
            let jobs = config.organizations.reduce(0) { $0 + $1.jobs.count }
            print(
                "Configuration valid: \(config.organizations.count) organization\(config.organizations.count == 1 ? "" : "s"), "
                    + "\(connections) connection\(connections == 1 ? "" : "s"), \(jobs) job\(jobs == 1 ? "" : "s").")
        }
    }
}
