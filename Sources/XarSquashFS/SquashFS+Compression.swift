extension SquashFS {
    /// The superblock's `compression_id`: "the compressor used for both data and meta data blocks".
    public enum CompressorID: UInt16, Sendable, CaseIterable {
        case gzip = 1
        case lzma = 2
        case lzo = 3
        case xz = 4
        case lz4 = 5
        case zstd = 6
    }

    /// Compresses one data or metadata block. Implementations live in `XarCompression`, over the C libraries.
    ///
    /// A compressor is shared by the writer's worker threads, so it must be safe to call concurrently.
    public protocol Compressor: Sendable {
        /// The id written into the superblock.
        var id: CompressorID { get }
        /// The compressor options block, written right after the superblock with the `COMPRESSOR_OPTIONS` flag
        /// set; nil when the defaults apply and no block is written.
        var optionsBlock: [UInt8]? { get }
        /// Compresses `input`. Returns nil when the result would not be smaller than the input, in which case the
        /// block is stored uncompressed, as the format asks.
        func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8]?
    }

    /// Decompresses one data or metadata block.
    public protocol Decompressor: Sendable {
        /// The id this decompressor reads.
        var id: CompressorID { get }
        /// Decompresses `input` into `output` and returns the number of bytes written. Throws when the input is
        /// corrupt or would not fit.
        func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int
    }
}
