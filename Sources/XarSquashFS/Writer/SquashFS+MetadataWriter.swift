extension SquashFS {
    /// Packs a table into metadata blocks: "8KiB of data ... prefixed with a 16-bit header", compressed when
    /// that helps.
    ///
    /// The compressed blocks stay in memory until the writer appends the whole table to the sink; the inode and
    /// directory tables of a Python tree are a few hundred kilobytes.
    struct MetadataWriter {
        /// SQUASHFS_METADATA_SIZE: the uncompressed payload of one metadata block.
        static let blockSize = 8192
        /// "If the block is stored uncompressed, the highest bit is set" (SQUASHFS_COMPRESSED_BIT).
        static let uncompressedBit: UInt16 = 0x8000

        private let compressor: (any Compressor)?
        /// The finished blocks, headers included.
        private(set) var output: [UInt8] = []
        private var pending: [UInt8] = []

        init(compressor: (any Compressor)?) {
            self.compressor = compressor
            pending.reserveCapacity(Self.blockSize)
        }

        /// Where the next appended byte goes: the start of its block relative to the table, and the offset
        /// in the block's uncompressed payload. A reference is `block << 16 | offset`.
        var position: (block: UInt32, offset: UInt16) { (UInt32(output.count), UInt16(pending.count)) }

        /// The uncompressed bytes appended so far.
        private(set) var uncompressedCount = 0

        /// Appends bytes, finishing blocks as they fill.
        mutating func append(_ bytes: [UInt8]) throws {
            uncompressedCount += bytes.count
            var rest = bytes[...]
            while !rest.isEmpty {
                let n = min(Self.blockSize - pending.count, rest.count)
                pending.append(contentsOf: rest.prefix(n))
                rest = rest.dropFirst(n)
                if pending.count == Self.blockSize { try flush() }
            }
        }

        /// Finishes the last, partial block.
        mutating func finish() throws {
            if !pending.isEmpty { try flush() }
        }

        private mutating func flush() throws {
            let compressed = try pending.withUnsafeBytes { try compressor?.compress($0) }
            if let compressed {
                output.appendLE(UInt16(compressed.count))
                output.append(contentsOf: compressed)
            } else {
                output.appendLE(UInt16(pending.count) | Self.uncompressedBit)
                output.append(contentsOf: pending)
            }
            pending.removeAll(keepingCapacity: true)
        }

        /// A whole table of fixed-size entries as metadata blocks, with the offset of each block in the table:
        /// the fragment and id tables ("lookup tables") are stored this way. Entry sizes divide 8192, so no
        /// entry straddles two blocks.
        static func lookupTable(_ entries: [UInt8], compressor: (any Compressor)?) throws -> (
            blocks: [UInt8], starts: [UInt64]
        ) {
            var writer = MetadataWriter(compressor: compressor)
            var starts: [UInt64] = []
            var offset = 0
            while offset < entries.count {
                starts.append(UInt64(writer.output.count))
                let n = min(blockSize, entries.count - offset)
                try writer.append(Array(entries[offset..<offset + n]))
                try writer.finish()
                offset += n
            }
            return (writer.output, starts)
        }
    }

    /// "An array of fragment entries", 16 bytes each, stored as a lookup table.
    public struct FragmentEntry: Sendable, Equatable {
        /// "The offset within the archive where the fragment block starts."
        public var start: UInt64
        /// "The on-disk size of the fragment block. If the block is uncompressed, bit 24 (1 << 24) is set."
        public var size: UInt32

        /// An entry for the block at `start` with size word `size`.
        public init(start: UInt64, size: UInt32) {
            self.start = start
            self.size = size
        }

        /// The 16 bytes on disk (the last 4 are "unused", zero).
        public func encoded() -> [UInt8] {
            var b: [UInt8] = []
            b.appendLE(start)
            b.appendLE(size)
            b.appendLE(UInt32(0))
            return b
        }
    }

    /// A directory header: "a run of entries that share the same inode metadata block".
    public struct DirectoryHeader: Sendable, Equatable {
        /// "The number of entries following the header" (stored minus one; at most 256).
        public var count: UInt32
        /// "The location of the metadata block in the inode table where the inodes are stored."
        public var start: UInt32
        /// "An arbitrary inode number. The entries that follow store their inode number as a difference to this."
        public var inodeNumber: UInt32

        /// A header for `count` entries (1…256).
        public init(count: UInt32, start: UInt32, inodeNumber: UInt32) {
            self.count = count
            self.start = start
            self.inodeNumber = inodeNumber
        }

        /// The 12 bytes on disk.
        public func encoded() -> [UInt8] {
            var b: [UInt8] = []
            b.appendLE(count - 1)
            b.appendLE(start)
            b.appendLE(inodeNumber)
            return b
        }
    }

    /// A directory entry, following its header.
    public struct DirectoryEntry: Sendable, Equatable {
        /// "An offset into the uncompressed inode metadata block."
        public var offset: UInt16
        /// "The difference of this inode's number to the reference stored in the header."
        public var inodeOffset: Int16
        /// "The inode type. For extended inodes, the corresponding basic type is stored here instead."
        public var type: Inode.InodeType
        /// The name (stored with "name_size", its length minus one).
        public var name: [UInt8]

        /// An entry.
        public init(offset: UInt16, inodeOffset: Int16, type: Inode.InodeType, name: [UInt8]) {
            self.offset = offset
            self.inodeOffset = inodeOffset
            self.type = type
            self.name = name
        }

        /// The bytes on disk.
        public func encoded() -> [UInt8] {
            var b: [UInt8] = []
            b.appendLE(offset)
            b.appendLE(inodeOffset)
            b.appendLE(type.basic.rawValue)
            b.appendLE(UInt16(name.count - 1))
            b.append(contentsOf: name)
            return b
        }
    }
}
