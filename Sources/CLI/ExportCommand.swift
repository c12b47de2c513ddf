import ArgumentParser
import Breakout
import Config
import Foundation
import Runner
import SQL

/// `breakout export`: an export job's work, once, from the command line.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export an organization's dictionaries as files statisticians open: CSV, Stata, SPSS, Parquet.",
        discussion: """
            Writes <output>/<DICT>/<date>/ inside the organization's data folder, as an export job does:
            csv (a CSV per table, value_labels.csv), stata (a .dta per record: the current cases with the
            ancestors' ids, variable labels, value labels; special values as .a .b .c with specials:
            codes or columns on the connection), spss (a .sav per record: the same rows and labels, the
            special values' codes declared missing), parquet (a .parquet per record: the same rows with
            logical types, the labels in its key-value metadata). Written aside and renamed when complete.

            Examples:
              breakout export -c examples/quickstart --org demo --format stata
              breakout export --org ansd --format csv --format stata --output exports RGPH
            """
    )

    @OptionGroup var config: ConfigOptions

    @Option(help: "The organization (its file organizations/ORG.yaml).")
    var org: String

    @Option(help: "csv, stata, spss or parquet; repeat for several (default: csv).")
    var format: [String] = []

    @Option(help: "The folder, inside the organization's data folder (default: exports).")
    var output: String = "exports"

    @Option(help: "The connection whose naming, labels_language and specials the files follow (default: the organization's default).")
    var connection: String?

    @Flag(name: .customLong("include-deleted"), help: "Keep the cases flagged deleted (with a deleted column); left out by default.")
    var includeDeleted = false

    @Option(name: .customLong("max-cases-per-chunk"), help: "Cases decoded at a time (default: defaults.max_cases_per_chunk).")
    var maxCasesPerChunk: Int?

    @Argument(help: "Dictionaries to export (default: all the organization owns).")
    var dictionaries: [String] = []

    func run() throws {
        try reportingErrors {
            let formats = try (format.isEmpty ? ["csv"] : format).map { name in
                guard let f = ExportFormat(rawValue: name) else {
                    throw CLIError(
                        "unknown export format \"\(name)\"",
                        hint: "use " + ExportFormat.allCases.map(\.rawValue).joined(separator: " or ")
                    )
                }
                return f
            }
            let configuration = try config.load()
            let resolver = Resolver(configuration, keyring: try config.keyring())
            let organization = try resolver.organization(org)
            let destination = try resolver.connection(of: organization, named: connection)
            let owned = organization.dictionaries.map(\.value)
            for d in dictionaries where !owned.contains(d) {
                throw CLIError(
                    "organization \(org) does not own dictionary \(d)",
                    hint: "it owns: \(owned.joined(separator: ", ")); add it to \"dictionaries\" in \(organization.file)")
            }
            if let m = maxCasesPerChunk, !(1...100_000).contains(m) {
                throw CLIError("--max-cases-per-chunk must be between 1 and 100000, got \(m)")
            }
            let folder = URL(fileURLWithPath: try resolver.organizationPath(organization.slug.value, output))
            let sources = try SourceOpener(resolver: resolver)
            let stop = StopFlag()
            Signals.onTerminate(stop, message: "breakout: stopping: the export is abandoned, nothing is published")
            for name in dictionaries.isEmpty ? owned : dictionaries {
                let exporter = try Exporter(
                    feed: try sources.feed(for: name),
                    options: SchemaOptions(
                        naming: destination.naming, labelsLanguage: destination.labelsLanguage, specials: destination.specials))
                let result = try exporter.export(
                    to: folder, chunkSize: maxCasesPerChunk ?? configuration.settings.defaults.maxCasesPerChunk, formats: formats,
                    includeDeleted: includeDeleted, stop: { stop.isSet })
                let files = (try? FileManager.default.contentsOfDirectory(atPath: result.folder.path).sorted()) ?? []
                print(
                    "\(name): \(result.cases) cases exported"
                        + (includeDeleted ? " (\(result.deleted) flagged deleted)" : " (\(result.deleted) deleted cases left out)")
                        + " to\n  \(result.folder.path)")
                // The files by kind, wrapped at 80 columns.
                for ext in ["csv", "dta", "sav", "parquet", "json"] {
                    let these = files.filter { $0.hasSuffix("." + ext) }
                    guard !these.isEmpty else { continue }
                    var line = "  \(ext):"
                    for file in these {
                        if line.count + file.count + 2 > 80 {
                            print(line)
                            line = "   "
                        }
                        line += " " + file
                    }
                    print(line)
                }
                if result.failed > 0 { print("  \(result.failed) cases could not be decoded and are not in the export") }
                if result.truncatedValues > 0 {
                    print(
                        "  \(result.truncatedValues) text values are longer than SPSS's 32,767 bytes and were cut in the .sav files (complete in the other formats)"
                    )
                }
            }
        }
    }
}
