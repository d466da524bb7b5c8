extension SquashFS {
    /// The 96-byte superblock at offset 0 of the image.
    public struct Superblock: Sendable, Equatable {
        /// "Must be set to 0x73717368 ("hsqs" on disk)."
        public static let magic: UInt32 = 0x7371_7368
        /// The superblock's size on disk.
        public static let size = 96
        /// "The value -1 (all ones) is used to mark a table as absent."
        public static let absent = UInt64.max

        /// Superblock flags: "various bits that describe the file system".
        public struct Flags: OptionSet, Sendable {
            public let rawValue: UInt16
            public init(rawValue: UInt16) { self.rawValue = rawValue }
            /// "Inodes are stored uncompressed."
            public static let uncompressedInodes = Flags(rawValue: 0x0001)
            /// "Data blocks are stored uncompressed."
            public static let uncompressedData = Flags(rawValue: 0x0002)
            /// "Fragments are stored uncompressed."
            public static let uncompressedFragments = Flags(rawValue: 0x0008)
            /// "Fragments are not used."
            public static let noFragments = Flags(rawValue: 0x0010)
            /// "Data has been deduplicated."
            public static let duplicates = Flags(rawValue: 0x0040)
            /// "NFS export table exists."
            public static let exportable = Flags(rawValue: 0x0080)
            /// "Xattrs are stored uncompressed."
            public static let uncompressedXattrs = Flags(rawValue: 0x0100)
            /// "There are no xattrs in the archive."
            public static let noXattrs = Flags(rawValue: 0x0200)
            /// "The compressor options block is present."
            public static let compressorOptions = Flags(rawValue: 0x0400)
            /// "The id table is uncompressed."
            public static let uncompressedIDs = Flags(rawValue: 0x0800)
        }

        /// "The number of inodes stored in the inode table."
        public var inodeCount: UInt32 = 0
        /// "The number of seconds (not counting leap seconds) since 00:00, Jan 1 1970 UTC when the archive was
        /// created." Ours is deterministic: `SOURCE_DATE_EPOCH` or the newest mtime.
        public var modificationTime: UInt32 = 0
        /// "The size of a data block in bytes. Must be a power of two between 4096 and 1048576."
        public var blockSize: UInt32 = 131_072
        /// "The number of entries in the fragment table."
        public var fragmentEntryCount: UInt32 = 0
        /// "Compressor used for data and metadata."
        public var compressionID: UInt16 = CompressorID.gzip.rawValue
        /// "The log2 of block_size. If block_size and block_log do not agree, the archive is considered corrupt."
        public var blockLog: UInt16 { UInt16(blockSize.trailingZeroBitCount) }
        public var flags: Flags = []
        /// "The number of entries in the ID lookup table."
        public var idCount: UInt16 = 0
        /// "A reference to the inode of the root directory of the archive."
        public var rootInodeRef: UInt64 = 0
        /// "The number of bytes used by the archive. Because SquashFS archives are often padded to 4KiB, this
        /// can often be less than the file size."
        public var bytesUsed: UInt64 = 0
        /// "The byte offset at which the id table starts."
        public var idTableStart: UInt64 = 0
        /// "The byte offset at which the xattr id table starts."
        public var xattrIDTableStart: UInt64 = absent
        /// "The byte offset at which the inode table starts."
        public var inodeTableStart: UInt64 = 0
        /// "The byte offset at which the directory table starts."
        public var directoryTableStart: UInt64 = 0
        /// "The byte offset at which the fragment table starts."
        public var fragmentTableStart: UInt64 = 0
        /// "The byte offset at which the export table starts."
        public var exportTableStart: UInt64 = absent

        /// A superblock with every count zero and optional tables absent.
        public init() {}

        /// The 96 bytes on disk, field by field, little-endian.
        public func encoded() -> [UInt8] {
            var b: [UInt8] = []
            b.reserveCapacity(Self.size)
            b.appendLE(Self.magic)
            b.appendLE(inodeCount)
            b.appendLE(modificationTime)
            b.appendLE(blockSize)
            b.appendLE(fragmentEntryCount)
            b.appendLE(compressionID)
            b.appendLE(blockLog)
            b.appendLE(flags.rawValue)
            b.appendLE(idCount)
            b.appendLE(UInt16(4))  // version_major: "Must be set to 4"
            b.appendLE(UInt16(0))  // version_minor: "Must be set to 0"
            b.appendLE(rootInodeRef)
            b.appendLE(bytesUsed)
            b.appendLE(idTableStart)
            b.appendLE(xattrIDTableStart)
            b.appendLE(inodeTableStart)
            b.appendLE(directoryTableStart)
            b.appendLE(fragmentTableStart)
            b.appendLE(exportTableStart)
            return b
        }
    }
}
