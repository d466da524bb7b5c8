internal import CZstd
import XarSquashFS

// The only file that imports libzstd: the zstd compressor and decompressor.

/// zstd compression (`compression_id` 6) at a fixed level, with the window limited to the block size.
///
/// The kernel's zstd decompressor allocates a workspace for a window of one block; a frame whose window is larger
/// fails with EIO, so `ZSTD_c_windowLog` is set to log2(block size). The contexts are pooled: one per thread
/// that compresses at once.
struct ZstdCompressor: SquashFS.Compressor {
    /// The size of zstd's options block: `compression_level` (u32).
    static let optionsBlockSize = 4
    /// The level the squashfs tools use when none is given (`ZSTD_DEFAULT_COMPRESSION_LEVEL`); no options block is
    /// written for it.
    static let defaultLevel = 15

    /// `ZSTD_WINDOWLOG_MIN`, which `zstd.h` declares only for static linking.
    static let minimumWindowLog = 10

    /// The zstd level, 1…22.
    let level: Int
    private let pool: ContextPool

    /// A compressor at `level` whose frames need a window of at most `blockSize`.
    init(level: Int, blockSize: Int) {
        self.level = level
        let windowLog = max(Self.minimumWindowLog, blockSize.trailingZeroBitCount)
        pool = ContextPool(
            make: {
                guard let context = ZSTD_createCCtx() else { return nil }
                let setLevel = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level))
                let setWindow = ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, Int32(windowLog))
                if ZSTD_isError(setLevel) != 0 || ZSTD_isError(setWindow) != 0 {
                    ZSTD_freeCCtx(context)
                    return nil
                }
                return context
            },
            free: { ZSTD_freeCCtx($0) })
    }

    var id: SquashFS.CompressorID { .zstd }

    /// `compression_level` (u32), only when the level is not the tools' default of 15.
    var optionsBlock: [UInt8]? {
        guard level != Self.defaultLevel else { return nil }
        var bytes: [UInt8] = []
        appendLittleEndian(UInt32(level), to: &bytes)
        return bytes
    }

    func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8]? {
        guard let source = input.baseAddress, input.count > 1 else { return nil }
        let capacity = ZSTD_compressBound(input.count)
        return try pool.withContext { context in
            var failure: Int?
            let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                let written = ZSTD_compress2(context, buffer.baseAddress, capacity, source, input.count)
                if ZSTD_isError(written) != 0 {
                    failure = written
                    count = 0
                } else {
                    count = written
                }
            }
            if let failure {
                throw CompressionError(
                    "zstd failed to compress a block: \(String(cString: ZSTD_getErrorName(failure))).")
            }
            return output.count < input.count ? exactCopy(output) : nil
        }
    }
}

/// zstd decompression of one block into a caller's buffer; the decompression contexts are pooled.
struct ZstdDecompressor: SquashFS.Decompressor {
    private let pool = ContextPool(make: { ZSTD_createDCtx() }, free: { ZSTD_freeDCtx($0) })

    var id: SquashFS.CompressorID { .zstd }

    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let source = input.baseAddress, input.count > 0 else {
            throw CompressionError("A zstd block is empty.")
        }
        return try pool.withContext { context in
            let written = ZSTD_decompressDCtx(context, output.baseAddress, output.count, source, input.count)
            if ZSTD_isError(written) != 0 {
                throw CompressionError(
                    "A zstd block is corrupt or larger than \(output.count) bytes: "
                        + "\(String(cString: ZSTD_getErrorName(written))).")
            }
            return written
        }
    }
}
