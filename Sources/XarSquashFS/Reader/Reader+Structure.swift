extension SquashFS.Reader {
    /// "The file name (at most 256 bytes)": squashfs-tools' `SQUASHFS_NAME_LEN`; libsquashfuse copies names into
    /// buffers of this size plus one.
    public static let maximumNameLength = 256

    /// Checks everything a FUSE server over libsquashfuse 0.1.105 takes from the image without checking it, without
    /// decompressing any data: every directory listing (names, their lengths, inode references and numbers), the
    /// index of every extended directory, every inode reached from the root (types, uid/gid indices into the id
    /// table), every file's block list (size words, positions inside the data area) and fragment (its index into
    /// the fragment table, the table's entry), every symbolic link's target and every inode's extended attributes.
    ///
    /// libsquashfuse trusts all of these (a name length of 3999 overflows its 257-byte name buffer, an id or
    /// fragment index past its table is read anyway); an image that passes here gives it only values it handles
    /// safely. Data blocks are not decompressed: a corrupt one fails its read with EIO.
    public func checkStructure() throws {
        try traverse(paths: false) { _, inode in
            switch inode.kind {
            case .directory:
                if inode.isExtended { try checkDirectoryIndex(inode) }
            case .regularFile:
                try checkFileData(inode)
            default:
                break
            }
            if inode.xattrIndex != nil { _ = try extendedAttributes(of: inode) }
        }
    }

    /// "Directory index: index (u32): the byte offset of the header in the listing; start (u32): the location of its
    /// metadata block, relative to the directory table; name_size (u32, minus one); name."
    private func checkDirectoryIndex(_ directory: Inode) throws {
        guard let layout = directory.directory else { return }
        let what = Subject(.directoryIndex(directory.inodeNumber))
        var cursor = try cursor(
            start: superblock.inodeTableStart, end: superblock.directoryTableStart, block: directory.reference >> 16,
            offset: Int(directory.reference & 0xFFFF), what: what)
        // The 16-byte common header, then link count, size, block, parent (4 bytes each), index count (2).
        var header = try decoder(&cursor, count: 16 + 18)
        _ = try header.bytes(32)
        let count = Int(try header.u16())
        _ = try decoder(&cursor, count: 6)  // block offset, xattr index
        let tableSize = directoryTableEnd - superblock.directoryTableStart
        for _ in 0..<count {
            var entry = try decoder(&cursor, count: 12)
            let index = try entry.u32()
            let start = try entry.u32()
            let nameSize = UInt64(try entry.u32()) + 1
            guard nameSize <= UInt64(Self.maximumNameLength) else {
                throw SquashFS.ReadError("\(what) has a name of \(nameSize) bytes; at most 256 are allowed.")
            }
            guard index <= layout.listingSize, UInt64(start) < tableSize else {
                throw SquashFS.ReadError("\(what) points outside the directory's listing.")
            }
            _ = try read(&cursor, count: Int(nameSize))
        }
    }

    /// The block list lies inside the data area, each size word is valid, and the fragment (if any) is an entry of
    /// the fragment table that lies inside the data area too.
    private func checkFileData(_ inode: Inode) throws {
        guard let layout = inode.file else { return }
        let what = Subject(.file(inode.inodeNumber))
        var position = layout.blocksStart
        for word in layout.blockSizes where word != 0 {
            let length = UInt64(word & 0x00FF_FFFF)
            guard word & ~(Self.uncompressedBlockFlag | 0x00FF_FFFF) == 0, length <= UInt64(superblock.blockSize)
            else {
                throw SquashFS.ReadError(
                    "\(what) has a data block with the invalid size word 0x\(String(word, radix: 16)).")
            }
            guard position >= dataStart, position <= dataEnd, length <= dataEnd - position else {
                throw SquashFS.ReadError("\(what) has a data block at byte \(position), outside the data area.")
            }
            position += length
        }
        guard layout.fragmentIndex != .max else { return }
        let entry = try fragmentEntry(layout.fragmentIndex)
        let length = UInt64(entry.sizeWord & 0x00FF_FFFF)
        guard entry.sizeWord & ~(Self.uncompressedBlockFlag | 0x00FF_FFFF) == 0, length > 0,
            length <= UInt64(superblock.blockSize), entry.start >= dataStart, entry.start <= dataEnd,
            length <= dataEnd - entry.start
        else {
            throw SquashFS.ReadError(
                "\(what) has its tail in fragment block \(layout.fragmentIndex), which is invalid or outside the data "
                    + "area.")
        }
    }
}
