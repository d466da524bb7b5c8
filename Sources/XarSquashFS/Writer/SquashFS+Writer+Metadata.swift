extension SquashFS.Writer {
    /// Writes every inode into the inode table and every listing into the directory table, children before
    /// their directory, and returns the root's inode reference.
    func writeInodesAndDirectories() throws -> UInt64 {
        let root = SquashFS.Tree.root
        let rootRef = try writeDirectory(root, parent: numbers[root] + 1)
        try inodeWriter.finish()
        try directoryWriter.finish()
        return rootRef
    }

    /// The id table index of `id`, adding it in first-use order.
    private func index(of id: UInt32) throws -> UInt16 {
        if let index = idIndex[id] { return index }
        guard ids.count < 65536 else { throw SquashFS.WriterError.tooManyIDs }
        ids.append(id)
        idIndex[id] = UInt16(ids.count - 1)
        return UInt16(ids.count - 1)
    }

    private func appendInode(_ node: Int, _ body: SquashFS.Inode.Body) throws -> UInt64 {
        let n = tree.nodes[node]
        let inode = SquashFS.Inode(
            permissions: n.permissions, uidIndex: try index(of: n.uid), gidIndex: try index(of: n.gid),
            mtime: n.mtime, number: numbers[node], body: body)
        let (block, offset) = inodeWriter.position
        try inodeWriter.append(inode.encoded())
        inodeTypes[node] = inode.type
        let ref = UInt64(block) << 16 | UInt64(offset)
        inodeRefs[node] = ref
        return ref
    }

    private func writeDirectory(_ dir: Int, parent: UInt32) throws -> UInt64 {
        var listing: [(name: [UInt8], ref: UInt64, number: UInt32, type: SquashFS.Inode.InodeType)] = []
        var subdirectories: UInt32 = 0
        for entry in sortedEntries[dir] {
            let child = entry.node
            let ref: UInt64
            if tree.nodes[child].isDirectory {
                ref = try writeDirectory(child, parent: numbers[dir])
                subdirectories += 1
            } else if let written = inodeRefs[child] {
                ref = written
            } else {
                ref = try writeLeaf(child)
            }
            listing.append((entry.name, ref, numbers[child], inodeTypes[child]!))
        }

        let start = directoryWriter.position
        let startCount = directoryWriter.uncompressedCount
        var index: [SquashFS.Inode.DirectoryIndex] = []
        var previousHeaderBlock: Int?
        var i = 0
        while i < listing.count {
            // A run shares one inode metadata block, holds at most 256 entries with inode numbers within a
            // signed 16-bit distance of the header's, and stays in one directory metadata block so that every
            // block that starts a run can be found through the index.
            let headerAt = directoryWriter.uncompressedCount
            let headerBlock = headerAt / SquashFS.MetadataWriter.blockSize
            let first = listing[i]
            var end = i
            var entryAt = headerAt + 12
            while end < listing.count, end - i < 256, listing[end].ref >> 16 == first.ref >> 16,
                abs(Int(listing[end].number) - Int(first.number)) <= 32767,
                end == i || entryAt / SquashFS.MetadataWriter.blockSize == headerBlock
            {
                entryAt += 8 + listing[end].name.count
                end += 1
            }
            if let previous = previousHeaderBlock, previous != headerBlock {
                index.append(
                    .init(index: UInt32(headerAt - startCount), start: directoryWriter.position.block, name: first.name)
                )
            }
            previousHeaderBlock = headerBlock
            var bytes = SquashFS.DirectoryHeader(
                count: UInt32(end - i), start: UInt32(first.ref >> 16), inodeNumber: first.number
            ).encoded()
            for entry in listing[i..<end] {
                bytes += SquashFS.DirectoryEntry(
                    offset: UInt16(entry.ref & 0xffff), inodeOffset: Int16(Int(entry.number) - Int(first.number)),
                    type: entry.type, name: entry.name
                ).encoded()
            }
            try directoryWriter.append(bytes)
            i = end
        }
        let size = UInt32(directoryWriter.uncompressedCount - startCount + 3)  // "the listing size + 3"
        return try appendInode(
            dir,
            .directory(
                blockStart: start.block, linkCount: 2 + subdirectories, fileSize: size, blockOffset: start.offset,
                parent: parent, index: index, xattr: try xattrID(dir)))
    }

    /// The xattr id of `node`'s attributes, nil when it has none.
    private func xattrID(_ node: Int) throws -> UInt32? {
        try xattrTable.id(of: tree.nodes[node].xattrs.sorted { $0.name.lexicographicallyPrecedes($1.name) })
    }

    private func writeLeaf(_ node: Int) throws -> UInt64 {
        let links = linkCounts[node]
        let xattr = try xattrID(node)
        switch tree.nodes[node].kind {
        case .directory:
            preconditionFailure("directories are written by writeDirectory")
        case .file(let size, _):
            guard let data = records[node]?.resolved else {
                preconditionFailure("every file's data is written before the inodes")
            }
            let start = data.start ?? 0
            let extended = size >= 1 << 32 || start >= 1 << 32 || links > 1 || data.sparse > 0 || xattr != nil
            return try appendInode(
                node,
                .file(
                    blocksStart: start, fileSize: size, sparse: data.sparse, linkCount: links,
                    fragment: data.fragment, fragmentOffset: data.fragmentOffset, xattr: xattr,
                    blockSizes: data.blocks, extended: extended))
        case .symlink(let target):
            return try appendInode(node, .symlink(linkCount: links, target: target, xattr: xattr))
        case .blockDevice(let major, let minor):
            let device = SquashFS.Inode.encodeDevice(major: major, minor: minor)
            return try appendInode(node, .device(block: true, linkCount: links, device: device, xattr: xattr))
        case .characterDevice(let major, let minor):
            let device = SquashFS.Inode.encodeDevice(major: major, minor: minor)
            return try appendInode(node, .device(block: false, linkCount: links, device: device, xattr: xattr))
        case .fifo:
            return try appendInode(node, .ipc(socket: false, linkCount: links, xattr: xattr))
        case .socket:
            return try appendInode(node, .ipc(socket: true, linkCount: links, xattr: xattr))
        }
    }
}
