import Diagnostics

/// Why a secret could not be read or written. Messages never contain the secret or the key.
package enum SecretError: UserFacingError, Equatable {
    /// A key (from the environment or a key file) is not a 32-byte base64 value.
    case badKey(String)
    /// No key is loaded at all.
    case noKey
    /// The value names a key that is not loaded (the usual "wrong key").
    case unknownKey(kid: String, loaded: [String])
    /// The value does not have the `enc:v1:<kid>:<base64>` shape, or is too short to hold IV and tag.
    case malformed(String)
    /// The HMAC does not match: the value was altered, or it was cut or pasted wrongly.
    case tampered
    /// An `enc:v2` value written for another organization (or breakout.yaml) than where it is used.
    case wrongScope(expected: String, found: String)

    package var description: String {
        switch self {
        case .badKey(let why): return why
        case .noKey: return "no master key loaded: set BREAKOUT_MASTER_KEY or BREAKOUT_KEY_FILE (or pass --key-file)"
        case .unknownKey(let kid, let loaded):
            return
                "encrypted with key \(kid), which is not loaded (loaded: \(loaded.isEmpty ? "none" : loaded.joined(separator: ", "))); load the key it was encrypted with"
        case .malformed(let why): return "not a valid encrypted value: \(why)"
        case .tampered:
            return
                "integrity check failed: the encrypted value was altered or truncated, or encrypted for another organization; encrypt the secret again with `breakout secrets encrypt`"
        case .wrongScope(let expected, let found):
            let command =
                "breakout secrets encrypt"
                + (expected.hasPrefix("organization ") ? " --org \(expected.dropFirst("organization ".count))" : "")
            return
                "this value was encrypted for \(found), not for \(expected): encrypted values are bound to the file they were written for, "
                + "and cannot be copied between organizations; encrypt the secret for \(expected) with `\(command)`"
        }
    }
}
