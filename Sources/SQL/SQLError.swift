import Diagnostics

/// A statement that cannot be rendered for a dialect: a name the engine cannot hold, a value of
/// the wrong shape, or a construct the engine lacks.
package struct SQLError: UserFacingError, Sendable, Hashable {
    package var dialect: String
    package var message: String

    package init(dialect: String, _ message: String) {
        self.dialect = dialect
        self.message = message
    }

    package var description: String { "\(dialect): \(message)" }
}
