import Diagnostics

/// A statement that cannot be rendered for a dialect: a name the engine cannot hold, a value of
/// the wrong shape, or a construct the engine lacks.
public struct SQLError: UserFacingError, Sendable, Hashable {
    public var dialect: String
    public var message: String

    public init(dialect: String, _ message: String) {
        self.dialect = dialect
        self.message = message
    }

    public var description: String { "\(dialect): \(message)" }
}
