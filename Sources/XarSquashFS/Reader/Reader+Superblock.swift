extension SquashFS.Reader {
    /// The 96-byte superblock at the start of the image, decoded and checked.
    ///
    /// Field comments quote squashfs-tools-ng's `doc/format.adoc`. Decoding is the reader's own concern (the
    /// writer encodes its own superblock); only what a reader needs is checked, but that strictly, so that
    /// later offsets can be trusted to lie inside the image.
    public struct Superblock: Sendable, Hashable {
        /// `SQUASHFS_MAGIC`, "hsqs" read as a little-endian u32.
        public static let magic: UInt32 = 0x7371_7368
        /// The superblock's size on disk.
        public static let size = 96
        /// "Absent" in the table pointers, fragment and xattr indices.
        public static let absent: UInt64 = .max

        /// "The number of inodes stored in the archive."
        public var inodeCount: UInt32
        /// "Last modification time of the archive", seconds since the epoch.
        public var modificationTime: UInt32
        /// "The size of a data block in bytes. Must be a power of two between 4 KiB and 1 MiB."
        public var blockSize: UInt32
        /// "The number of entries in the fragment table."
        public var fragmentCount: UInt32
        /// The raw `compression_id`.
        public var compressionID: UInt16
        /// "The log2 of the block size."
        public var blockLog: UInt16
        /// The superblock flags (`SQUASHFS_NOI` = 0x1 … `SQUASHFS_COMP_OPT` = 0x400 …).
        public var flags: UInt16
        /// "The number of entries in the ID lookup table."
        public var idCount: UInt16
        /// "Major version of the format. Must be set to 4."
        public var versionMajor: UInt16
        /// "Minor version of the format. Must be set to 0."
        public var versionMinor: UInt16
        /// "A reference to the inode of the root directory."
        public var rootInodeReference: UInt64
        /// "The number of bytes used by the archive", without the padding to the device block size.
        public var bytesUsed: UInt64
        /// "The byte offset at which the ID table starts."
        public var idTableStart: UInt64
        /// "The byte offset at which the xattr ID table starts", or all ones.
        public var xattrIDTableStart: UInt64
        /// "The byte offset at which the inode table starts."
        public var inodeTableStart: UInt64
        /// "The byte offset at which the directory table starts."
        public var directoryTableStart: UInt64
        /// "The byte offset at which the fragment table starts", or all ones.
        public var fragmentTableStart: UInt64
        /// "The byte offset at which the export table starts", or all ones.
        public var exportTableStart: UInt64

        /// The `SQUASHFS_COMP_OPT` flag: a compressor options block follows the superblock.
        public var hasCompressorOptions: Bool { flags & 0x0400 != 0 }

        /// The compressor, when the id is one the format defines.
        public var compressor: SquashFS.CompressorID? { SquashFS.CompressorID(rawValue: compressionID) }

        /// Decodes and checks the superblock; `bytes` are its first 96 bytes.
        public init(decoding bytes: [UInt8]) throws {
            var d = ByteDecoder(bytes, what: "The superblock")
            let magic = try d.u32()
            guard magic == Self.magic else {
                throw SquashFS.ReadError(
                    "The superblock's magic is 0x\(String(magic, radix: 16)), not hsqs (0x73717368): this is not a "
                        + "SquashFS image.")
            }
            inodeCount = try d.u32()
            modificationTime = try d.u32()
            blockSize = try d.u32()
            fragmentCount = try d.u32()
            compressionID = try d.u16()
            blockLog = try d.u16()
            flags = try d.u16()
            idCount = try d.u16()
            versionMajor = try d.u16()
            versionMinor = try d.u16()
            rootInodeReference = try d.u64()
            bytesUsed = try d.u64()
            idTableStart = try d.u64()
            xattrIDTableStart = try d.u64()
            inodeTableStart = try d.u64()
            directoryTableStart = try d.u64()
            fragmentTableStart = try d.u64()
            exportTableStart = try d.u64()
            try validate()
        }

        private func validate() throws {
            guard versionMajor == 4, versionMinor == 0 else {
                throw SquashFS.ReadError(
                    "The image is SquashFS \(versionMajor).\(versionMinor); only 4.0 is supported.")
            }
            guard blockLog >= 12, blockLog <= 20, blockSize == 1 << blockLog else {
                throw SquashFS.ReadError(
                    "The block size \(blockSize) does not match block_log \(blockLog) or is outside 4 KiB…1 MiB.")
            }
            guard compressor != nil else {
                throw SquashFS.ReadError("The compressor id \(compressionID) is not one SquashFS 4.0 defines.")
            }
            guard inodeCount >= 1 else { throw SquashFS.ReadError("The superblock counts no inodes.") }
            guard idCount >= 1 else { throw SquashFS.ReadError("The superblock counts no uid/gid entries.") }
            guard bytesUsed >= UInt64(Self.size) else {
                throw SquashFS.ReadError("bytes_used (\(bytesUsed)) is smaller than the superblock.")
            }
            guard rootInodeReference & 0xFFFF < UInt64(SquashFS.Reader.metadataBlockSize),
                rootInodeReference >> 48 == 0
            else {
                throw SquashFS.ReadError(
                    "The root inode reference 0x\(String(rootInodeReference, radix: 16)) is invalid.")
            }
            // Tables in the order the format lays them out; each must lie inside the image.
            var tables: [(String, UInt64)] = [
                ("inode table", inodeTableStart), ("directory table", directoryTableStart),
            ]
            if fragmentTableStart != Self.absent { tables.append(("fragment table", fragmentTableStart)) }
            if exportTableStart != Self.absent { tables.append(("export table", exportTableStart)) }
            tables.append(("id table", idTableStart))
            if xattrIDTableStart != Self.absent { tables.append(("xattr id table", xattrIDTableStart)) }
            var previous = ("superblock", UInt64(Self.size))
            for table in tables {
                guard table.1 >= previous.1 else {
                    throw SquashFS.ReadError(
                        "The \(table.0) starts at byte \(table.1), before the \(previous.0) at byte \(previous.1).")
                }
                guard table.1 < bytesUsed else {
                    throw SquashFS.ReadError(
                        "The \(table.0) starts at byte \(table.1), past the image's end at byte \(bytesUsed).")
                }
                previous = table
            }
            guard inodeTableStart < directoryTableStart else {
                throw SquashFS.ReadError("The inode table is empty: the directory table starts where it does.")
            }
            if fragmentCount > 0 && fragmentTableStart == Self.absent {
                throw SquashFS.ReadError("The image counts \(fragmentCount) fragments but has no fragment table.")
            }
        }
    }
}
