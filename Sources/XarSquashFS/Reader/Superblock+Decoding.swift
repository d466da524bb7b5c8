extension SquashFS.Superblock {
    /// The compressor, when the id is one the format defines.
    public var compressor: SquashFS.CompressorID? { SquashFS.CompressorID(rawValue: compressionID) }

    /// Decodes and checks the superblock; `bytes` are its first 96 bytes.
    ///
    /// The reader's side of the writer's `encoded()`: only what a reader needs is checked, but that strictly
    /// (version, block size and log, compressor, counts, table order, all tables inside `bytes_used`), so that
    /// later offsets can be trusted to lie inside the image. Field meanings are documented on the properties.
    public init(decoding bytes: [UInt8]) throws {
        self.init()
        var d = SquashFS.Reader.ByteDecoder(bytes, what: "The superblock")
        let magic = try d.u32()
        guard magic == Self.magic else {
            throw SquashFS.ReadError(
                "The superblock's magic is 0x\(String(magic, radix: 16)), not hsqs (0x73717368): this is not a "
                    + "SquashFS image.")
        }
        inodeCount = try d.u32()
        modificationTime = try d.u32()
        blockSize = try d.u32()
        fragmentEntryCount = try d.u32()
        compressionID = try d.u16()
        let blockLog = try d.u16()
        flags = Flags(rawValue: try d.u16())
        idCount = try d.u16()
        let versionMajor = try d.u16()
        let versionMinor = try d.u16()
        rootInodeRef = try d.u64()
        bytesUsed = try d.u64()
        idTableStart = try d.u64()
        xattrIDTableStart = try d.u64()
        inodeTableStart = try d.u64()
        directoryTableStart = try d.u64()
        fragmentTableStart = try d.u64()
        exportTableStart = try d.u64()
        guard versionMajor == 4, versionMinor == 0 else {
            throw SquashFS.ReadError("The image is SquashFS \(versionMajor).\(versionMinor); only 4.0 is supported.")
        }
        guard blockLog >= 12, blockLog <= 20, blockSize == 1 << blockLog else {
            throw SquashFS.ReadError(
                "The block size \(blockSize) does not match block_log \(blockLog) or is outside 4 KiB…1 MiB.")
        }
        try validate()
    }

    /// Checks what the fields say about each other and about the image's layout.
    private func validate() throws {
        guard compressor != nil else {
            throw SquashFS.ReadError("The compressor id \(compressionID) is not one SquashFS 4.0 defines.")
        }
        guard inodeCount >= 1 else { throw SquashFS.ReadError("The superblock counts no inodes.") }
        guard idCount >= 1 else { throw SquashFS.ReadError("The superblock counts no uid/gid entries.") }
        guard bytesUsed >= UInt64(Self.size) else {
            throw SquashFS.ReadError("bytes_used (\(bytesUsed)) is smaller than the superblock.")
        }
        guard rootInodeRef & 0xFFFF < UInt64(SquashFS.Reader.metadataBlockSize),
            rootInodeRef >> 48 == 0
        else {
            throw SquashFS.ReadError(
                "The root inode reference 0x\(String(rootInodeRef, radix: 16)) is invalid.")
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
        if fragmentEntryCount > 0 && fragmentTableStart == Self.absent {
            throw SquashFS.ReadError("The image counts \(fragmentEntryCount) fragments but has no fragment table.")
        }
    }
}
