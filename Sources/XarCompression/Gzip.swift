internal import CZlib
import XarSquashFS

// The only file that imports zlib: the gzip compressor and decompressor.

/// gzip compression (`compression_id` 1), which in SquashFS means a zlib stream (RFC 1950) with a 32 KiB window.
///
/// `compress2` keeps no state between calls, so the compressor is thread-safe as is.
struct GzipCompressor: SquashFS.Compressor {
    /// The size of gzip's options block: `compression_level` (u32), `window_size` (u16), `strategies` (u16).
    static let optionsBlockSize = 8
    /// The level the squashfs tools use when none is given; no options block is written for it.
    static let defaultLevel = 9
    /// zlib's window bits: `window_size` in the options block (`compress2` always uses 15).
    static let windowBits: UInt16 = 15

    /// The zlib level, 1…9.
    let level: Int

    var id: SquashFS.CompressorID { .gzip }

    /// `compression_level`, `window_size` (15), `strategies` (0: the default strategy), only when the level is
    /// not 9.
    var optionsBlock: [UInt8]? {
        guard level != Self.defaultLevel else { return nil }
        var bytes: [UInt8] = []
        appendLittleEndian(UInt32(level), to: &bytes)
        appendLittleEndian(Self.windowBits, to: &bytes)
        appendLittleEndian(UInt16(0), to: &bytes)
        return bytes
    }

    func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8]? {
        guard let source = input.baseAddress, input.count > 1 else { return nil }
        let capacity = input.count - 1
        var status = Z_OK
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var length = uLongf(capacity)
            status = compress2(
                buffer.baseAddress, &length, source.assumingMemoryBound(to: Bytef.self), uLong(input.count),
                Int32(level))
            count = status == Z_OK ? Int(length) : 0
        }
        switch status {
        case Z_OK: return exactCopy(output)
        case Z_BUF_ERROR: return nil
        default: throw CompressionError("zlib failed to compress a block (error \(status)).")
        }
    }
}

/// gzip (zlib stream) decompression of one block into a caller's buffer.
struct GzipDecompressor: SquashFS.Decompressor {
    var id: SquashFS.CompressorID { .gzip }

    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let source = input.baseAddress, input.count > 0 else {
            throw CompressionError("A gzip block is empty.")
        }
        var outLength = uLongf(output.count)
        var inLength = uLong(input.count)
        // zlib wants a non-null destination even for an empty buffer.
        var scratch: UInt8 = 0
        let status = withUnsafeMutablePointer(to: &scratch) { scratchPointer in
            uncompress2(
                output.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? scratchPointer, &outLength,
                source.assumingMemoryBound(to: Bytef.self), &inLength)
        }
        guard status == Z_OK else {
            throw CompressionError(
                "A gzip block is corrupt or larger than \(output.count) bytes (zlib error \(status)).")
        }
        return Int(outLength)
    }
}
