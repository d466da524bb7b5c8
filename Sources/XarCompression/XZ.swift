internal import CLZMA
import XarSquashFS

// The only file that imports liblzma: the xz compressor and decompressor.

/// xz compression (`compression_id` 4): LZMA2 with a dictionary of exactly one block and a CRC32 check.
///
/// liblzma's presets write their own dictionary size (8 MiB for preset 6) into each stream; the kernel allocates
/// only the block size and fails such blocks with EIO. With `bcj`, each block is compressed with and without the
/// x86 branch filter and the smaller result is kept, as mksquashfs does; the options block then announces the
/// filter. `lzma_stream_buffer_encode` keeps no state between calls, so the compressor is thread-safe as is.
struct XZCompressor: SquashFS.Compressor {
    /// The size of xz's options block: `dictionary_size` (u32), `executable_filters` (u32).
    static let optionsBlockSize = 8
    /// `executable_filters` bit for the x86 BCJ filter (squashfs-tools-ng `doc/format.adoc`).
    static let x86FilterFlag: UInt32 = 0x0001

    /// `LZMA_FILTER_LZMA2`, a function-like macro in `lzma12.h` that Swift does not import.
    private static let filterLZMA2: lzma_vli = 0x21
    /// `LZMA_FILTER_X86` from `bcj.h`.
    private static let filterX86: lzma_vli = 0x04
    /// `LZMA_VLI_UNKNOWN`, which ends a filter chain.
    private static let filterEnd: lzma_vli = .max

    /// `LZMA_PRESET_DEFAULT`, mksquashfs's choice; presets 7–9 differ from it only in the dictionary size, which
    /// is replaced by the block size anyway.
    private static let preset: UInt32 = 6

    /// The data block size, which is also the dictionary size.
    let blockSize: Int
    /// Whether each block is also tried with the x86 branch filter.
    let bcj: Bool

    /// A compressor for `blockSize` blocks; throws when liblzma lacks the preset.
    init(blockSize: Int, bcj: Bool) throws {
        self.blockSize = blockSize
        self.bcj = bcj
        _ = try lzmaOptions()
    }

    var id: SquashFS.CompressorID { .xz }

    /// `dictionary_size`, `executable_filters`: written only with the x86 filter, since a dictionary of one
    /// block and no filter are what readers assume without the block.
    var optionsBlock: [UInt8]? {
        guard bcj else { return nil }
        var bytes: [UInt8] = []
        appendLittleEndian(UInt32(blockSize), to: &bytes)
        appendLittleEndian(Self.x86FilterFlag, to: &bytes)
        return bytes
    }

    func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8]? {
        guard input.count > 1 else { return nil }
        var best = try encode(input, x86: false)
        if bcj, let filtered = try encode(input, x86: true), filtered.count < (best?.count ?? input.count) {
            best = filtered
        }
        return best
    }

    /// The LZMA2 settings: the preset, with a dictionary of one block.
    private func lzmaOptions() throws -> lzma_options_lzma {
        var options = lzma_options_lzma()
        if lzma_lzma_preset(&options, Self.preset) != 0 {
            throw CompressionError("liblzma does not know its preset \(Self.preset).")
        }
        options.dict_size = UInt32(blockSize)
        return options
    }

    /// One xz stream of `input`, or nil when it is not smaller than the input.
    private func encode(_ input: UnsafeRawBufferPointer, x86: Bool) throws -> [UInt8]? {
        var options = try lzmaOptions()
        let capacity = input.count - 1
        return try withUnsafeMutablePointer(to: &options) { lzma in
            var filters: [lzma_filter] = []
            if x86 { filters.append(lzma_filter(id: Self.filterX86, options: nil)) }
            filters.append(lzma_filter(id: Self.filterLZMA2, options: UnsafeMutableRawPointer(lzma)))
            filters.append(lzma_filter(id: Self.filterEnd, options: nil))
            var status = LZMA_OK
            let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                var position = 0
                status = lzma_stream_buffer_encode(
                    &filters, LZMA_CHECK_CRC32, nil, input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    input.count, buffer.baseAddress, &position, capacity)
                count = status == LZMA_OK ? position : 0
            }
            switch status {
            case LZMA_OK: return exactCopy(output)
            case LZMA_BUF_ERROR: return nil
            default: throw CompressionError("liblzma failed to compress a block (lzma_ret \(status.rawValue)).")
            }
        }
    }
}

/// xz decompression of one block into a caller's buffer.
///
/// The memory limit stops a crafted stream header from asking liblzma for a huge dictionary.
struct XZDecompressor: SquashFS.Decompressor {
    /// More than any legitimate SquashFS xz block needs (its dictionary is at most the 1 MiB block size).
    static let memoryLimit: UInt64 = 64 << 20

    var id: SquashFS.CompressorID { .xz }

    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let source = input.baseAddress, input.count > 0 else {
            throw CompressionError("An xz block is empty.")
        }
        var memoryLimit = Self.memoryLimit
        var inPosition = 0
        var outPosition = 0
        let status = lzma_stream_buffer_decode(
            &memoryLimit, 0, nil, source.assumingMemoryBound(to: UInt8.self), &inPosition, input.count,
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), &outPosition, output.count)
        guard status == LZMA_OK else {
            throw CompressionError(
                "An xz block is corrupt or larger than \(output.count) bytes (lzma_ret \(status.rawValue)).")
        }
        return outPosition
    }
}
