extension SquashFS.Reader {
    /// One inode as the reader presents it: what `stat` would show, plus where its contents are.
    ///
    /// Hard links are entries that lead to the same inode (same `inodeNumber` and `reference`).
    public struct Inode: Sendable, Hashable {
        /// The file type, from the inode's type (basic and extended types map to the same kind).
        public enum Kind: Sendable, Hashable {
            case directory, regularFile, symlink, blockDevice, characterDevice, fifo, socket

            /// The `S_IFMT` bits of `st_mode`.
            public var modeBits: UInt32 {
                switch self {
                case .directory: 0o040000
                case .regularFile: 0o100000
                case .symlink: 0o120000
                case .blockDevice: 0o060000
                case .characterDevice: 0o020000
                case .fifo: 0o010000
                case .socket: 0o140000
                }
            }
        }

        /// The file type.
        public var kind: Kind
        /// Whether the inode uses the extended layout (types 8…14).
        public var isExtended: Bool
        /// Where the inode is: "the upper 16 bits … unused, the next 32 bits the position of the metadata block
        /// relative to the inode table, the lower 16 bits the offset into the uncompressed block".
        public var reference: UInt64
        /// The permission bits, `st_mode & 07777` (setuid, setgid and sticky included).
        public var permissions: UInt16
        /// The owner, resolved through the id table.
        public var uid: UInt32
        /// The group, resolved through the id table.
        public var gid: UInt32
        /// "The unsigned number of seconds since the epoch of the last modification."
        public var modificationTime: UInt32
        /// "The position of this inode in the full list of inodes", 1…inode_count.
        public var inodeNumber: UInt32
        /// "The number of hard links to this inode."
        public var linkCount: UInt32
        /// For a file its size; for a directory `file_size` as stored (listing + 3, what the kernel shows); for a
        /// symlink the target's length; 0 otherwise.
        public var size: UInt64
        /// For a device node, the device number as stored (Linux `new_encode_dev`); 0 otherwise.
        public var deviceNumber: UInt32
        /// "An index into the xattr lookup table", nil when the inode has no extended attributes.
        public var xattrIndex: UInt32?

        /// Where a regular file's data is.
        var file: FileLayout?
        /// Where a directory's listing is.
        var directory: DirectoryLayout?
        /// A symlink's target bytes.
        var symlinkTarget: [UInt8]?

        /// `st_mode`: the type bits and the permission bits.
        public var mode: UInt32 { kind.modeBits | UInt32(permissions) }
        /// The device's major number (Linux `new_decode_dev`).
        public var deviceMajor: UInt32 { (deviceNumber & 0xFFF00) >> 8 }
        /// The device's minor number (Linux `new_decode_dev`).
        public var deviceMinor: UInt32 { (deviceNumber & 0xFF) | ((deviceNumber >> 12) & 0xFFF00) }
        /// True for directories.
        public var isDirectory: Bool { kind == .directory }
    }

    /// A regular file's data: full blocks starting at `blocksStart`, then an optional tail in a fragment.
    struct FileLayout: Sendable, Hashable {
        /// "The offset from the start of the archive to the first data block."
        var blocksStart: UInt64
        /// "An array of consecutive block sizes", bit 24 set when the block is stored uncompressed, 0 for a sparse
        /// block of zeros.
        var blockSizes: [UInt32]
        /// "An index into the fragment table", or all ones when there is no tail fragment.
        var fragmentIndex: UInt32
        /// "The (uncompressed) offset within the fragment block where the tail end of this file is."
        var fragmentOffset: UInt32
    }

    /// A directory's listing in the directory table.
    struct DirectoryLayout: Sendable, Hashable {
        /// "The location of the metadata block in the directory table where the entry information starts."
        var blockIndex: UInt32
        /// "The (uncompressed) offset within the metadata block in the directory table."
        var blockOffset: UInt16
        /// The listing's size in bytes (`file_size` − 3).
        var listingSize: UInt32
        /// "The inode number of the parent of this directory."
        var parentInode: UInt32
    }
}
