import ArgumentParser
import Diagnostics
import Foundation
import Runner

/// An error the CLI prints as `error: <message>` (plus a `hint:` line) and exits 1 for.
struct CLIError: UserFacingError {
    var message: String
    var hint: String?

    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    /// `context: <the cause>`, keeping the cause's hint unless `hint` gives a better one.
    init(_ context: String, cause: any Error, hint: String? = nil) {
        let (message, causeHint) = UserFacing.lines(cause)
        self.init("\(context): \(message)", hint: hint ?? causeHint)
    }

    var description: String { message }
}

/// Runs a command body; any error is printed as `error: …` (and `hint: …` when it has one, see
/// ``UserFacing``) on stderr and becomes exit code 1. Argument errors stay with ArgumentParser
/// (usage text, exit 64).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let (message, hint) = UserFacing.lines(error)
        StandardStream.error("error: \(message)\n")
        if let hint { StandardStream.error("hint: \(hint)\n") }
        throw ExitCode(1)
    }
}
