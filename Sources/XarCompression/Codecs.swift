public import XarSquashFS

/// Which compressor a new image uses, with its settings.
///
/// A value type the builder's options map onto; `Codecs.compressor(_:blockSize:)` turns it into the shared,
/// thread-safe compressor the writer calls.
public enum CompressionChoice: Sendable, Hashable {
    /// zstd at `level` 1…22 (libzstd). The squashfs tools' default level is 15.
    case zstd(level: Int)
    /// xz (liblzma), LZMA2 with a dictionary of one block; `bcj` also tries the x86 branch filter per block.
    case xz(bcj: Bool)
    /// gzip, which in SquashFS means a zlib stream, at `level` 1…9. The squashfs tools' default level is 9.
    case gzip(level: Int)
    /// No compression: every block is stored as is.
    case none
}

/// The entry points of this module: make a compressor for a new image, or a decompressor for an image's
/// superblock.
///
/// Only this module touches the C libraries (one file each); everything else sees the `SquashFS.Compressor`
/// and `SquashFS.Decompressor` protocols.
public enum Codecs {
    /// The smallest block size the format allows (`SQUASHFS_FILE_MIN_SIZE`).
    public static let minimumBlockSize = 4096
    /// The largest block size the format allows (`SQUASHFS_FILE_MAX_SIZE`).
    public static let maximumBlockSize = 1 << 20

    /// Returns the compressor for `choice` and `blockSize`, or nil for `.none` (the writer then sets the
    /// superblock's uncompressed flags).
    ///
    /// The block size matters to the kernel: xz's dictionary and zstd's window must not exceed it.
    public static func compressor(_ choice: CompressionChoice, blockSize: Int) throws -> (any SquashFS.Compressor)? {
        guard blockSize >= minimumBlockSize, blockSize <= maximumBlockSize, blockSize & (blockSize - 1) == 0 else {
            throw CompressionError(
                "The block size \(blockSize) is not a power of two between \(minimumBlockSize) and "
                    + "\(maximumBlockSize) bytes.")
        }
        switch choice {
        case .zstd(let level):
            guard (1...22).contains(level) else {
                throw CompressionError("The zstd level \(level) is outside 1…22.")
            }
            return ZstdCompressor(level: level, blockSize: blockSize)
        case .xz(let bcj):
            return try XZCompressor(blockSize: blockSize, bcj: bcj)
        case .gzip(let level):
            guard (1...9).contains(level) else {
                throw CompressionError("The gzip level \(level) is outside 1…9.")
            }
            return GzipCompressor(level: level)
        case .none:
            return nil
        }
    }

    /// Returns a decompressor for the superblock's compressor `id`; `optionsBlock` is the compressor options
    /// block when the image has one (none of the supported decompressors needs it, but it is checked for size).
    ///
    /// Images made with lzma, lzo or lz4 are refused with an error that names the compressor.
    public static func decompressor(
        for id: SquashFS.CompressorID, optionsBlock: [UInt8]?
    ) throws -> any SquashFS.Decompressor {
        let expectedOptionsSize: Int
        let decompressor: any SquashFS.Decompressor
        switch id {
        case .gzip:
            (expectedOptionsSize, decompressor) = (GzipCompressor.optionsBlockSize, GzipDecompressor())
        case .xz:
            (expectedOptionsSize, decompressor) = (XZCompressor.optionsBlockSize, XZDecompressor())
        case .zstd:
            (expectedOptionsSize, decompressor) = (ZstdCompressor.optionsBlockSize, ZstdDecompressor())
        case .lzma, .lzo, .lz4:
            throw CompressionError("The image is compressed with \(id), which this build cannot read.")
        }
        if let optionsBlock, optionsBlock.count != expectedOptionsSize {
            throw CompressionError(
                "The \(id) compressor options block is \(optionsBlock.count) bytes long; expected "
                    + "\(expectedOptionsSize).")
        }
        return decompressor
    }
}

/// `bytes` in an allocation of its own size: the compressors write into a buffer as large as the input, and the
/// writer holds many compressed blocks at once, so the unused capacity would otherwise stay allocated.
func exactCopy(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.capacity > bytes.count + 64 else { return bytes }
    return [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
        count = bytes.withUnsafeBufferPointer { buffer.initialize(fromContentsOf: $0) }
    }
}

/// Appends `value` to `bytes` in little-endian order, as every SquashFS field is stored.
func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
}
