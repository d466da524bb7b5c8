extension SquashFS {
    /// How to write an image.
    public struct WriterOptions: Sendable {
        /// The data block size: a power of two from 4 KiB to 1 MiB.
        public var blockSize: Int
        /// Compression threads; 1 compresses on the calling thread. The output does not depend on it.
        public var threads: Int
        /// The superblock's modification time; nil takes the newest mtime in the tree (deterministic either way).
        public var modificationTime: UInt32?
        /// Nodes whose data goes first, in this order, before the rest in directory order (for locality).
        public var sortFirst: [Int]
        /// Store files with identical bytes once.
        public var deduplicate: Bool

        /// Options with the given values; the defaults are 128 KiB blocks on one thread.
        public init(
            blockSize: Int = 131_072, threads: Int = 1, modificationTime: UInt32? = nil, sortFirst: [Int] = [],
            deduplicate: Bool = true
        ) {
            self.blockSize = blockSize
            self.threads = threads
            self.modificationTime = modificationTime
            self.sortFirst = sortFirst
            self.deduplicate = deduplicate
        }
    }

    /// What the writer wrote.
    public struct WriterSummary: Sendable {
        /// The superblock's `bytes_used`: the image without its final padding.
        public var bytesUsed: UInt64
        /// The bytes appended to the sink, padding to 4 KiB included.
        public var imageBytes: UInt64
        /// The number of inodes.
        public var inodeCount: Int
        /// The bytes of regular file content in the tree.
        public var inputBytes: UInt64
    }

    /// Writes a `Tree` as a SquashFS 4.0 image into a `Sink`.
    ///
    /// Data blocks are compressed on `threads` workers with a bounded window in flight and written in a fixed
    /// order, so the same tree and options give the same bytes on any machine.
    public final class Writer {
        /// The padding the image is rounded up to (mksquashfs's default, what loop devices want).
        static let devicePadding: UInt64 = 4096

        let options: WriterOptions
        let compressor: (any Compressor)?
        var sink: (any Sink)!
        /// The next byte's offset in the image.
        var position: UInt64 = 0
        var tree: Tree!
        var pool: CompressionPool!
        var window: [(job: CompressionPool.Job, written: (UInt64, UInt32) -> Void)] = []
        var windowHead = 0
        var records: [FileRecord?] = []
        var candidatesBySize: [UInt64: [FileRecord]] = [:]
        var fragmentBuffer: [UInt8] = []
        var fragments: [FragmentEntry] = []
        var sortedEntries: [[Entry]] = []
        var numbers: [UInt32] = []
        var linkCounts: [UInt32] = []
        var inodeRefs: [UInt64?] = []
        var inodeTypes: [Inode.InodeType?] = []
        var ids: [UInt32] = []
        var idIndex: [UInt32: UInt16] = [:]
        var inodeWriter: MetadataWriter
        var directoryWriter: MetadataWriter
        var xattrTable: XattrTableBuilder

        /// A writer with `options` that compresses with `compressor`, or stores everything uncompressed when nil.
        public init(options: WriterOptions, compressor: (any Compressor)?) {
            self.options = options
            self.compressor = compressor
            inodeWriter = MetadataWriter(compressor: compressor)
            directoryWriter = MetadataWriter(compressor: compressor)
            xattrTable = XattrTableBuilder(compressor: compressor)
        }

        /// Writes `tree` to `sink` in the format's order: superblock (reserved, written last), compressor
        /// options, data and fragment blocks, inode table, directory table, fragment table, id table, xattr tables
        /// (when any node has xattrs), padding.
        /// `progress` gets the file bytes done so far after each file.
        public func write(_ tree: Tree, to sink: any Sink, progress: ((UInt64) -> Void)? = nil) throws
            -> WriterSummary
        {
            let bs = options.blockSize
            guard bs >= 4096, bs <= 1 << 20, bs & (bs - 1) == 0 else { throw WriterError.invalidBlockSize(bs) }
            self.tree = tree
            self.sink = sink
            try prepare()

            var superblock = Superblock()
            superblock.blockSize = UInt32(bs)
            superblock.compressionID = compressor?.id.rawValue ?? CompressorID.gzip.rawValue
            superblock.flags = [.noXattrs]
            if options.deduplicate { superblock.flags.insert(.duplicates) }
            if compressor == nil {
                superblock.flags.formUnion([
                    .uncompressedInodes, .uncompressedData, .uncompressedFragments, .uncompressedIDs,
                    .uncompressedXattrs,
                ])
            }
            try append([UInt8](repeating: 0, count: Superblock.size))
            if let block = compressor?.optionsBlock {
                superblock.flags.insert(.compressorOptions)
                var bytes: [UInt8] = []
                bytes.appendLE(UInt16(block.count) | MetadataWriter.uncompressedBit)
                try append(bytes + block)
            }

            let inputBytes = try writeData(progress: progress)

            let rootRef = try writeInodesAndDirectories()
            superblock.rootInodeRef = rootRef
            superblock.inodeCount = UInt32(numbers.max() ?? 0)
            superblock.inodeTableStart = position
            try append(inodeWriter.output)
            superblock.directoryTableStart = position
            try append(directoryWriter.output)

            var fragmentBytes: [UInt8] = []
            for entry in fragments { fragmentBytes += entry.encoded() }
            superblock.fragmentEntryCount = UInt32(fragments.count)
            superblock.fragmentTableStart = try appendLookupTable(fragmentBytes)

            var idBytes: [UInt8] = []
            for id in ids { idBytes.appendLE(id) }
            superblock.idCount = UInt16(ids.count)
            superblock.idTableStart = try appendLookupTable(idBytes)

            if xattrTable.count > 0 {
                superblock.flags.remove(.noXattrs)
                superblock.xattrIDTableStart = try appendXattrTables()
            }

            superblock.bytesUsed = position
            superblock.modificationTime = options.modificationTime ?? tree.nodes.map(\.mtime).max() ?? 0
            let padding = (Self.devicePadding - position % Self.devicePadding) % Self.devicePadding
            try append([UInt8](repeating: 0, count: Int(padding)))
            try superblock.encoded().withUnsafeBytes { try sink.write($0, at: 0) }
            return WriterSummary(
                bytesUsed: superblock.bytesUsed, imageBytes: position, inodeCount: Int(superblock.inodeCount),
                inputBytes: inputBytes)
        }

        /// Appends bytes to the sink.
        func append(_ bytes: [UInt8]) throws {
            guard !bytes.isEmpty else { return }
            try bytes.withUnsafeBytes { try sink.write($0) }
            position += UInt64(bytes.count)
        }

        /// The xattr tables, last in the image: the key/value metadata blocks, the id entries' metadata blocks,
        /// then the header the superblock points at, "xattr_table_start (u64), xattr_ids (u32), unused (u32)",
        /// followed at once by the u64 positions of the id entries' blocks. Returns the header's position.
        private func appendXattrTables() throws -> UInt64 {
            try xattrTable.pairs.finish()
            let keyValueStart = position
            try append(xattrTable.pairs.output)
            let (blocks, starts) = try MetadataWriter.lookupTable(xattrTable.idEntries, compressor: compressor)
            let base = position
            try append(blocks)
            let headerStart = position
            var header: [UInt8] = []
            header.appendLE(keyValueStart)
            header.appendLE(UInt32(xattrTable.count))
            header.appendLE(UInt32(0))
            for start in starts { header.appendLE(base + start) }
            try append(header)
            return headerStart
        }

        /// "Lookup tables": the entries in metadata blocks, then at once the array of the blocks' absolute
        /// positions, whose own position is what the superblock points at.
        private func appendLookupTable(_ entries: [UInt8]) throws -> UInt64 {
            let (blocks, starts) = try MetadataWriter.lookupTable(entries, compressor: compressor)
            let base = position
            try append(blocks)
            let tableStart = position
            var array: [UInt8] = []
            for start in starts { array.appendLE(base + start) }
            try append(array)
            return tableStart
        }
    }
}
