import CLibdeflate

/// zlib-format streams (RFC 1950, what PHP's `gzcompress` writes) through libdeflate
/// (<https://github.com/ebiggers/libdeflate>): whole-buffer calls, which suit blobs of a few
/// kilobytes and inflate them about twice as fast as zlib's streaming `inflate` (docs/performance.md).
enum Zlib {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Compresses to the zlib format (level 6, as PHP `gzcompress`); used to build test blobs and benchmark sources.
    static func deflate(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(level) else { throw Failure(description: "libdeflate_alloc_compressor failed") }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_zlib_compress_bound(compressor, input.count)
        var size = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { out, count in
            size = input.withUnsafeBytes { libdeflate_zlib_compress(compressor, $0.baseAddress, $0.count, out.baseAddress, bound) }
            count = size
        }
        guard size > 0 else { throw Failure(description: "libdeflate_zlib_compress failed") }
        return output
    }
}

/// A reusable inflater: one per worker thread, so that decoding a case allocates neither
/// libdeflate's decompressor state (about 10 KiB of tables) nor an output buffer each time: cases
/// inflate into a buffer the inflater keeps (a buffer over 1 MiB, for an unusually large case, is
/// given back at the next smaller one).
/// Not thread-safe; not Sendable.
package final class ZlibInflater {
    private let decompressor: OpaquePointer
    private var buffer: UnsafeMutableRawBufferPointer

    package init() throws {
        guard let d = libdeflate_alloc_decompressor() else { throw Zlib.Failure(description: "libdeflate_alloc_decompressor failed") }
        decompressor = d
        buffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        libdeflate_free_decompressor(decompressor)
        buffer.deallocate()
    }

    /// The most a case may inflate to. A CSPro case is kilobytes; anything past this is not a case
    /// (a compression bomb or garbage), and refusing it keeps a worker's memory bounded.
    package static let maximumOutput = 64 * 1_048_576
    /// The largest output buffer kept for smaller cases.
    static let keptBuffer = 1_048_576

    /// Inflates one complete zlib stream (bytes after its end are ignored) into the inflater's own
    /// buffer: the bytes returned are valid until the next call and while the inflater lives.
    /// `sizeHint` (CSWeb's header: the uncompressed length) sizes the output; when it is missing or
    /// wrong the buffer grows fourfold and the stream is inflated again. No buffer is ever larger
    /// than what DEFLATE can produce from the input (1,032 bytes per byte), so a lying header costs
    /// no memory.
    func inflate(_ input: ArraySlice<UInt8>, sizeHint: Int) throws -> UnsafeBufferPointer<UInt8> {
        let ceiling = min(input.count * 1032 + 1024, Self.maximumOutput)
        var capacity = min(sizeHint > 0 ? sizeHint : input.count * 8, ceiling)
        if buffer.count > Self.keptBuffer && capacity <= Self.keptBuffer { reallocate(64 * 1024) }
        while true {
            if buffer.count < capacity { reallocate(capacity) }
            var produced = 0
            let result = input.withUnsafeBytes { inBuffer in
                libdeflate_zlib_decompress(decompressor, inBuffer.baseAddress, inBuffer.count, buffer.baseAddress, buffer.count, &produced)
            }
            switch result {
            case LIBDEFLATE_SUCCESS:
                return UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: produced)
            case LIBDEFLATE_INSUFFICIENT_SPACE where buffer.count < ceiling:
                capacity = min(buffer.count * 4, ceiling)
            case LIBDEFLATE_INSUFFICIENT_SPACE where ceiling == Self.maximumOutput:
                throw Zlib.Failure(
                    description: "inflates to more than \(Self.maximumOutput / 1_048_576) MiB, far beyond any case (not a CSPro case)")
            default:
                throw Zlib.Failure(description: "corrupt or truncated zlib data")
            }
        }
    }

    private func reallocate(_ byteCount: Int) {
        buffer.deallocate()
        buffer = .allocate(byteCount: byteCount, alignment: 16)
    }
}
