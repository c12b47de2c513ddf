import CZlib

/// zlib inflate behind a safe Swift call (<https://zlib.net/manual.html>).
enum Zlib {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Inflates a complete zlib stream (PHP `gzcompress` output). `sizeHint` sizes the first buffer.
    static func inflate(_ input: ArraySlice<UInt8>, sizeHint: Int = 0) throws -> [UInt8] {
        var stream = z_stream()
        guard breakout_inflate_init(&stream) == Z_OK else { throw Failure(description: "inflateInit failed") }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(sizeHint, input.count * 4, 256))
        var produced = 0
        // zlib never writes through next_in (it is non-const only in its C declaration), so the
        // blob is read in place rather than copied on every case.
        let status: Int32 = input.withUnsafeBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            stream.avail_in = UInt32(inBuffer.count)
            while true {
                if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
                let rc: Int32 = output.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress! + produced
                    stream.avail_out = UInt32(outBuffer.count - produced)
                    let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                    produced = outBuffer.count - Int(stream.avail_out)
                    return rc
                }
                if rc == Z_STREAM_END { return rc }
                if rc != Z_OK && rc != Z_BUF_ERROR { return rc }
                if rc == Z_BUF_ERROR && stream.avail_in == 0 { return rc }
            }
        }
        guard status == Z_STREAM_END else {
            let reason = status == Z_DATA_ERROR ? "corrupt zlib data" : status == Z_BUF_ERROR ? "truncated zlib data" : "zlib error \(status)"
            throw Failure(description: reason)
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses with zlib (as PHP `gzcompress`); used to build test blobs and benchmark sources.
    static func deflate(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var size = compressBound(UInt(input.count))
        var output = [UInt8](repeating: 0, count: Int(size))
        let rc = input.withUnsafeBufferPointer { i in compress2(&output, &size, i.baseAddress, UInt(i.count), level) }
        guard rc == Z_OK else { throw Failure(description: "compress2 failed (\(rc))") }
        return Array(output.prefix(Int(size)))
    }
}
