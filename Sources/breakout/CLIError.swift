import ArgumentParser
import Breakout
import Config
import Runner
import State
import Foundation

/// An error the CLI prints as `error: <message>` (plus a `hint:` line) and exits 1 for.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var hint: String?

    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    var description: String { message + (hint.map { "\nhint: \($0)" } ?? "") }
}

/// Runs a command body; a `CLIError` or any other error is printed as `error: …` on stderr and
/// becomes exit code 1. Argument errors stay with ArgumentParser (usage text, exit 64).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        throw printed(error)
    } catch let error as BreakoutError {
        throw printed(CLIError(error.message, hint: error.hint))
    } catch let error as StateError {
        throw printed(CLIError(error.message, hint: error.hint))
    } catch let error as ConfigError {
        throw printed(CLIError(error.message, hint: error.hint))
    } catch let error as ExitCode {
        throw error
    } catch let error as CustomStringConvertible {
        StandardStream.error("error: \(error.description)\n")
        throw ExitCode(1)
    } catch {
        StandardStream.error("error: \(error)\n")
        throw ExitCode(1)
    }
}

private func printed(_ error: CLIError) -> ExitCode {
    StandardStream.error("error: \(error.message)\n")
    if let hint = error.hint { StandardStream.error("hint: \(hint)\n") }
    return ExitCode(1)
}
