import CZlib

/// zlib inflate behind a safe Swift call (<https://zlib.net/manual.html>).
enum Zlib {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Inflates a complete zlib stream (PHP `gzcompress` output) with a one-off inflater.
    static func inflate(_ input: ArraySlice<UInt8>, sizeHint: Int = 0) throws -> [UInt8] {
        try ZlibInflater().inflate(input, sizeHint: sizeHint)
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

/// A reusable zlib inflater: one per worker thread, reset between streams, so that decoding a case
/// does not allocate and free zlib's 7 KiB state and 32 KiB window each time. The `z_stream` lives
/// at a fixed address, as zlib requires (it checks `state->strm`). Not thread-safe; not Sendable.
public final class ZlibInflater {
    private let stream: UnsafeMutablePointer<z_stream>

    public init() throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard breakout_inflate_init(stream) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw Zlib.Failure(description: "inflateInit failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// The most a case may inflate to. A CSPro case is kilobytes; anything past this is not a case
    /// (a compression bomb or garbage), and refusing it keeps a worker's memory bounded.
    public static let maximumOutput = 64 * 1_048_576

    /// Inflates one complete zlib stream. `sizeHint` sizes the output buffer.
    func inflate(_ input: ArraySlice<UInt8>, sizeHint: Int = 0) throws -> [UInt8] {
        inflateReset(stream)
        var output = [UInt8](repeating: 0, count: min(max(sizeHint, input.count * 4, 256), Self.maximumOutput))
        var produced = 0
        // zlib never writes through next_in (it is non-const only in its C declaration), so the
        // blob is read in place rather than copied.
        let status: Int32 = input.withUnsafeBufferPointer { inBuffer in
            stream.pointee.next_in = inBuffer.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            stream.pointee.avail_in = UInt32(inBuffer.count)
            while true {
                if produced == output.count {
                    if produced >= Self.maximumOutput { return Z_MEM_ERROR }
                    output.append(contentsOf: repeatElement(0, count: min(output.count, Self.maximumOutput - output.count)))
                }
                let rc: Int32 = output.withUnsafeMutableBufferPointer { outBuffer in
                    stream.pointee.next_out = outBuffer.baseAddress! + produced
                    stream.pointee.avail_out = UInt32(outBuffer.count - produced)
                    let rc = CZlib.inflate(stream, Z_NO_FLUSH)
                    produced = outBuffer.count - Int(stream.pointee.avail_out)
                    return rc
                }
                if rc == Z_STREAM_END { return rc }
                if rc != Z_OK && rc != Z_BUF_ERROR { return rc }
                if rc == Z_BUF_ERROR && stream.pointee.avail_in == 0 { return rc }
            }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        guard status == Z_STREAM_END else {
            let reason = status == Z_DATA_ERROR ? "corrupt zlib data" : status == Z_BUF_ERROR ? "truncated zlib data"
                : status == Z_MEM_ERROR ? "inflates to more than \(Self.maximumOutput / 1_048_576) MiB, far beyond any case (not a CSPro case)" : "zlib error \(status)"
            throw Zlib.Failure(description: reason)
        }
        output.removeSubrange(produced...)
        return output
    }
}
