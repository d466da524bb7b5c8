extension SquashFS.Reader {
    /// The root directory's inode.
    public var root: Inode {
        get throws { try inode(at: superblock.rootInodeRef) }
    }

    /// Decodes the inode at `reference` and checks it (type, inode number, ids, sizes against the image).
    public func inode(at reference: UInt64) throws -> Inode {
        let what = Subject(.inode(reference))
        guard reference >> 48 == 0 else { throw SquashFS.ReadError("\(what) is not a valid inode reference.") }
        var cursor = try cursor(
            start: superblock.inodeTableStart, end: superblock.directoryTableStart, block: reference >> 16,
            offset: Int(reference & 0xFFFF), what: what)
        var header = try decoder(&cursor, count: 16)
        let rawType = try header.u16()
        let permissions = try header.u16() & 0o7777
        let uid = try id(at: try header.u16(), what: what)
        let gid = try id(at: try header.u16(), what: what)
        let mtime = try header.u32()
        let number = try header.u32()
        guard number >= 1, number <= superblock.inodeCount else {
            throw SquashFS.ReadError("\(what) has number \(number), outside 1…\(superblock.inodeCount).")
        }
        guard let type = SquashFS.Inode.InodeType(rawValue: rawType) else {
            throw SquashFS.ReadError("\(what) has type \(rawType), which is not one of the format's 1…14.")
        }
        var inode = Inode(
            kind: .directory, isExtended: type.isExtended, reference: reference, permissions: permissions, uid: uid,
            gid: gid, modificationTime: mtime, inodeNumber: number, linkCount: 1, size: 0, deviceNumber: 0)
        switch type {
        case .directory:
            var d = try decoder(&cursor, count: 16)
            let block = try d.u32()
            inode.linkCount = try d.u32()
            let fileSize = try d.u16()
            let offset = try d.u16()
            let parent = try d.u32()
            inode.directory = try directoryLayout(block, offset, UInt32(fileSize), parent, what: what)
            inode.size = UInt64(fileSize)
        case .extendedDirectory:  // The index that follows is not needed for a linear lookup.
            var d = try decoder(&cursor, count: 24)
            inode.linkCount = try d.u32()
            let fileSize = try d.u32()
            let block = try d.u32()
            let parent = try d.u32()
            _ = try d.u16()  // index_count
            let offset = try d.u16()
            inode.xattrIndex = xattr(try d.u32())
            inode.directory = try directoryLayout(block, offset, fileSize, parent, what: what)
            inode.size = UInt64(fileSize)
        case .file:
            var d = try decoder(&cursor, count: 16)
            let start = try d.u32()
            let fragment = try d.u32()
            let offset = try d.u32()
            inode.kind = .regularFile
            inode.size = UInt64(try d.u32())
            inode.file = try fileLayout(&cursor, UInt64(start), fragment, offset, size: inode.size, what: what)
        case .extendedFile:
            var d = try decoder(&cursor, count: 40)
            let start = try d.u64()
            inode.kind = .regularFile
            inode.size = try d.u64()
            _ = try d.u64()  // sparse: bytes saved by sparse blocks
            inode.linkCount = try d.u32()
            let fragment = try d.u32()
            let offset = try d.u32()
            inode.xattrIndex = xattr(try d.u32())
            inode.file = try fileLayout(&cursor, start, fragment, offset, size: inode.size, what: what)
        case .symlink, .extendedSymlink:
            var d = try decoder(&cursor, count: 8)
            inode.kind = .symlink
            inode.linkCount = try d.u32()
            let length = try d.u32()
            guard length >= 1, length <= 65_535 else {
                throw SquashFS.ReadError("\(what) is a symlink whose target is \(length) bytes long.")
            }
            inode.symlinkTarget = try read(&cursor, count: Int(length))
            inode.size = UInt64(length)
            if type.isExtended {
                var x = try decoder(&cursor, count: 4)
                inode.xattrIndex = xattr(try x.u32())
            }
        case .blockDevice, .characterDevice, .extendedBlockDevice, .extendedCharacterDevice:
            var d = try decoder(&cursor, count: type.isExtended ? 12 : 8)
            inode.kind = type.basic == .blockDevice ? .blockDevice : .characterDevice
            inode.linkCount = try d.u32()
            inode.deviceNumber = try d.u32()
            if type.isExtended { inode.xattrIndex = xattr(try d.u32()) }
        case .fifo, .socket, .extendedFifo, .extendedSocket:
            var d = try decoder(&cursor, count: type.isExtended ? 8 : 4)
            inode.kind = type.basic == .fifo ? .fifo : .socket
            inode.linkCount = try d.u32()
            if type.isExtended { inode.xattrIndex = xattr(try d.u32()) }
        }
        return inode
    }

    private func xattr(_ index: UInt32) -> UInt32? { index == .max ? nil : index }

    private func directoryLayout(
        _ block: UInt32, _ offset: UInt16, _ fileSize: UInt32, _ parent: UInt32, what: Subject
    ) throws -> DirectoryLayout {
        // "This value is 3 bytes larger than the real listing": an empty directory has file_size 3.
        guard fileSize >= 3, Int(fileSize) - 3 <= Self.maximumListingSize else {
            throw SquashFS.ReadError("\(what) is a directory with an invalid size \(fileSize).")
        }
        guard UInt64(block) < directoryTableEnd - superblock.directoryTableStart, offset < Self.metadataBlockSize else {
            throw SquashFS.ReadError("\(what) is a directory whose listing lies outside the directory table.")
        }
        return DirectoryLayout(blockIndex: block, blockOffset: offset, listingSize: fileSize - 3, parentInode: parent)
    }

    private func fileLayout(
        _ cursor: inout MetadataCursor, _ start: UInt64, _ fragment: UInt32, _ offset: UInt32, size: UInt64,
        what: Subject
    ) throws -> FileLayout {
        let blockSize = UInt64(superblock.blockSize)
        let hasFragment = fragment != .max
        guard size < 1 << 60 else {
            throw SquashFS.ReadError("\(what) is a file of \(size) bytes, which no image can hold.")
        }
        // "If the fragment index is all ones, the file has no fragment and the last block may be partial."
        let blockCount = hasFragment ? size / blockSize : (size + blockSize - 1) / blockSize
        // A 4-byte size per block, all in the inode table: a count that cannot fit there is corrupt.
        let tableBytes = superblock.directoryTableStart - superblock.inodeTableStart
        guard blockCount / 2048 <= tableBytes, blockCount <= UInt64(Self.maximumListingSize / 4) else {
            throw SquashFS.ReadError("\(what) is a file of \(size) bytes, more than the inode table can describe.")
        }
        guard start <= dataEnd else {
            throw SquashFS.ReadError("\(what) is a file whose data starts at byte \(start), past the data area.")
        }
        if hasFragment {
            guard size % blockSize != 0, offset < superblock.blockSize else {
                throw SquashFS.ReadError("\(what) is a file with an invalid fragment offset \(offset).")
            }
        }
        var d = try decoder(&cursor, count: Int(blockCount) * 4)
        var sizes: [UInt32] = []
        sizes.reserveCapacity(Int(blockCount))
        for _ in 0..<blockCount { sizes.append(try d.u32()) }
        return FileLayout(blocksStart: start, blockSizes: sizes, fragmentIndex: fragment, fragmentOffset: offset)
    }
}
