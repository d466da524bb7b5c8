extension SquashFS {
    /// Reads a SquashFS 4.0 image: its tree, metadata and file contents, from a caller's `ImageSource`.
    ///
    /// Used by the tests to read our images back, by `xarctl verify` / `extract` and by the launcher's
    /// extraction fallback, so it must survive crafted input: every offset, size and count taken from the image is
    /// checked against the table it belongs to, loops are bounded, and anything wrong throws a `ReadError`
    /// sentence. It keeps small caches (metadata blocks, the last data block, recent fragment blocks), so one
    /// reader must not be used from two threads at once; open one per thread instead.
    public final class Reader {
        /// `SQUASHFS_METADATA_SIZE`: the payload of a metadata block.
        public static let metadataBlockSize = 8192
        /// Directories deeper than this are refused (a crafted image could otherwise nest without end).
        public static let maximumDepth = 4096
        /// The largest directory listing or symlink target accepted, against crafted sizes.
        static let maximumListingSize = 256 << 20

        /// The decoded, checked superblock.
        public let superblock: SquashFS.Superblock
        /// The compressor options block, when the image has one.
        public private(set) var compressorOptions: [UInt8]?
        /// Where the image starts in the source (4096 in a `.xar`).
        public let imageOffset: UInt64

        /// Where the bytes come from.
        let source: any ImageSource
        /// The decompressor for the superblock's compressor.
        private(set) var decompressor: any SquashFS.Decompressor
        /// The uid/gid table, decoded at once (at most 65,535 entries).
        private(set) var ids: [UInt32]
        /// Where the directory table ends: the first block of the next table.
        private(set) var directoryTableEnd: UInt64
        /// Where the data blocks and fragments end: the inode table.
        var dataEnd: UInt64 { superblock.inodeTableStart }
        /// The first byte after the superblock and the compressor options, where data may start.
        private(set) var dataStart: UInt64

        /// Decoded metadata blocks by position (at most `metadataCacheLimit`).
        var metadataCache: [UInt64: MetadataBlock] = [:]
        /// The block locations of the lookup tables (fragments, ids, xattr ids) read so far, by where they are
        /// stored: a table's block list is read once, not once per entry.
        var tablePointerCache: [UInt64: UInt64] = [:]
        /// Recently decoded fragment blocks, oldest first.
        var fragmentCache: [(start: UInt64, bytes: [UInt8])] = []
        /// The last data block `readFile` decoded, for small sequential reads.
        var dataBlockCache: (start: UInt64, bytes: [UInt8])?

        /// Opens the image that starts at `imageOffset` in `source`; `decompressor` makes the decompressor for the
        /// superblock's compressor id and options block (pass `Codecs.decompressor(for:optionsBlock:)`).
        ///
        /// Reads and checks the superblock, the compressor options, the uid/gid table and the table layout, and
        /// that the image's last byte can be read; the tree is read on demand.
        public init(
            source: any ImageSource, imageOffset: UInt64 = 0,
            decompressor: (SquashFS.CompressorID, [UInt8]?) throws -> any SquashFS.Decompressor
        ) throws {
            self.source = source
            self.imageOffset = imageOffset
            var header = [UInt8](repeating: 0, count: SquashFS.Superblock.size)
            do {
                try header.withUnsafeMutableBytes { try source.read(at: imageOffset, into: $0) }
            } catch {
                throw ReadError("The file is too short for a SquashFS superblock at byte \(imageOffset): \(error)")
            }
            let superblock = try SquashFS.Superblock(decoding: header)
            self.superblock = superblock
            guard superblock.bytesUsed <= UInt64.max - imageOffset else {
                throw ReadError("bytes_used (\(superblock.bytesUsed)) is larger than any file can be.")
            }
            var last = [UInt8](repeating: 0, count: 1)
            do {
                try last.withUnsafeMutableBytes {
                    try source.read(at: imageOffset + superblock.bytesUsed - 1, into: $0)
                }
            } catch {
                throw ReadError(
                    "The image is truncated: the superblock says it is \(superblock.bytesUsed) bytes long, "
                        + "but the file ends before that.")
            }
            // Placeholders until the tables are known; the metadata reader needs `self`.
            self.decompressor = UncompressedOnly()
            ids = []
            directoryTableEnd = superblock.bytesUsed
            dataStart = UInt64(SquashFS.Superblock.size)
            compressorOptions = nil
            metadataCacheReset()

            let options: [UInt8]?
            if superblock.flags.contains(.compressorOptions) {
                let block = try metadataBlock(at: UInt64(SquashFS.Superblock.size), end: superblock.inodeTableStart)
                options = block.bytes
                self.dataStart = block.next
            } else {
                options = nil
            }
            self.compressorOptions = options
            let id = superblock.compressor!
            do {
                self.decompressor = try decompressor(id, options)
            } catch {
                throw ReadError("The image's \(id) decompressor cannot be set up: \(error)")
            }
            metadataCacheReset()
            let firstBlocks = try tableFirstBlocks()
            guard let end = firstBlocks.min(), end > superblock.directoryTableStart else {
                throw ReadError("The directory table has no room before the next table.")
            }
            self.directoryTableEnd = end
            self.ids = try readIDTable()
        }

        /// Forgets the decoded metadata blocks (after the decompressor changes).
        func metadataCacheReset() { metadataCache.removeAll(keepingCapacity: true) }

        /// Reads `count` bytes at `position` in the image, refusing anything outside `position..<limit`.
        func readImage(at position: UInt64, count: Int, limit: UInt64, what: @autoclosure () -> String) throws
            -> [UInt8]
        {
            guard count >= 0, position <= limit, UInt64(count) <= limit - position else {
                throw ReadError(
                    "\(what()) at byte \(position) (\(count) bytes) lies outside its area, which ends at byte \(limit)."
                )
            }
            var bytes = [UInt8](repeating: 0, count: count)
            do {
                try bytes.withUnsafeMutableBytes { try source.read(at: imageOffset + position, into: $0) }
            } catch {
                throw ReadError("\(what()) at byte \(position) cannot be read: \(error)")
            }
            return bytes
        }

        /// Decompresses `input`, which must give exactly `expected` bytes when `expected` is set.
        func decompress(_ input: [UInt8], maximum: Int, expected: Int?, what: @autoclosure () -> String) throws
            -> [UInt8]
        {
            var output = [UInt8](repeating: 0, count: maximum)
            let count: Int
            do {
                count = try input.withUnsafeBytes { source in
                    try output.withUnsafeMutableBytes { try decompressor.decompress(source, into: $0) }
                }
            } catch {
                throw ReadError("\(what()) is corrupt: \(error)")
            }
            guard count <= maximum, expected == nil || count == expected else {
                throw ReadError("\(what()) decompresses to \(count) bytes, not \(expected ?? maximum).")
            }
            output.removeSubrange(count...)
            return output
        }
    }
}

/// Stands in until the real decompressor is known: the compressor options block is always stored uncompressed
/// by well-formed writers.
private struct UncompressedOnly: SquashFS.Decompressor {
    var id: SquashFS.CompressorID { .gzip }
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        throw SquashFS.ReadError("The compressor options block is compressed, which the format does not allow.")
    }
}
