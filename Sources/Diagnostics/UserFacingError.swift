/// Where a problem is: a file, and when known the line and column in it, and the object there.
package struct ErrorLocation: Sendable, Hashable, CustomStringConvertible {
    package var file: String
    package var line: Int?
    package var column: Int?
    /// What is at that place: `job acme/hourly`, `levels[0].records[2]`.
    package var object: String?

    package init(file: String, line: Int? = nil, column: Int? = nil, object: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.object = object
    }

    /// `organizations/acme.yaml:12:5 (job hourly)`.
    package var description: String {
        var out = file
        if let line { out += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        if let object { out += " (\(object))" }
        return out
    }
}

/// An error a person reads: what went wrong, how to fix it, and where. Every layer's errors adopt
/// it; the CLI, the runner's outcomes and the alerts print any of them the same way
/// (``UserFacing/lines(_:)``), so no hint is lost on the way up.
///
/// The message is the error's `description`: one sentence saying what is wrong, naming the object.
package protocol UserFacingError: Error, CustomStringConvertible {
    /// What to do about it, when something can be done.
    var hint: String? { get }
    var location: ErrorLocation? { get }
}

extension UserFacingError {
    package var hint: String? { nil }
    package var location: ErrorLocation? { nil }
}

/// How any error is shown to a person.
package enum UserFacing {
    /// The message (prefixed by its location), and the hint when there is one. Errors that do not
    /// adopt ``UserFacingError`` are shown by their description.
    package static func lines(_ error: any Error) -> (message: String, hint: String?) {
        guard let error = error as? any UserFacingError else { return ("\(error)", nil) }
        let message = error.location.map { "\($0): " + error.description } ?? error.description
        return (message, error.hint)
    }

    /// `message`, then `hint: …` on its own line when there is a hint.
    package static func text(_ error: any Error) -> String {
        let (message, hint) = lines(error)
        return message + (hint.map { "\nhint: \($0)" } ?? "")
    }
}
