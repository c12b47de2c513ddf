import Foundation

/// Writes to standard output and error that never trap. A follower whose terminal was closed
/// (EIO) or whose pipe reader went away (EPIPE, with SIGPIPE ignored) carries on without its
/// output instead of crashing in the middle of a run, which `FileHandle.write` would do.
package enum StandardStream {
    package static func error(_ text: String) { write(2, text) }
    package static func output(_ text: String) { write(1, text) }

    static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            var attempts = 0
            while offset < buffer.count, attempts < 1000 {
                attempts += 1
                let n = Glibc.write(fd, base + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                offset += n
            }
        }
    }
}
