extension SquashFS.Reader {
    /// "Bit 24 of a block size is set if the block is stored uncompressed."
    static let uncompressedBlockFlag: UInt32 = 1 << 24
    /// Fragment blocks kept decoded, as squashfuse does: files that share a fragment block are usually read
    /// together.
    static let fragmentCacheLimit = 3

    /// Calls `body` with each piece of the file's contents in order: every data block (sparse blocks as zeros),
    /// then the tail from its fragment. The buffer is valid only during the call.
    public func forEachBlock(of inode: Inode, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let layout = try fileLayout(of: inode)
        var position = layout.blocksStart
        for (index, word) in layout.blockSizes.enumerated() {
            let block = try dataBlock(at: position, word: word, expected: blockLength(inode, index), inode: inode)
            try block.withUnsafeBytes(body)
            position += UInt64(word & 0x00FF_FFFF)
        }
        if layout.fragmentIndex != .max {
            try tail(of: inode, layout).withUnsafeBytes(body)
        }
    }

    /// Up to `count` bytes of the file from `offset` (fewer at the end of the file; none past it).
    public func readFile(_ inode: Inode, offset: UInt64 = 0, count: Int = .max) throws -> [UInt8] {
        let layout = try fileLayout(of: inode)
        guard offset < inode.size, count > 0 else { return [] }
        let end = offset + min(UInt64(count), inode.size - offset)
        let blockSize = UInt64(superblock.blockSize)
        var result: [UInt8] = []
        result.reserveCapacity(Int(min(end - offset, 64 << 20)))
        var index = Int(offset / blockSize)
        var position = layout.blocksStart
        for word in layout.blockSizes.prefix(index) { position += UInt64(word & 0x00FF_FFFF) }
        while UInt64(index) * blockSize < end {
            let bytes: [UInt8]
            if index < layout.blockSizes.count {
                let word = layout.blockSizes[index]
                bytes = try cachedDataBlock(at: position, word: word, expected: blockLength(inode, index), inode: inode)
                position += UInt64(word & 0x00FF_FFFF)
            } else {
                bytes = try tail(of: inode, layout)
            }
            let blockStart = UInt64(index) * blockSize
            let from = Int(max(offset, blockStart) - blockStart)
            let to = Int(min(end, blockStart + UInt64(bytes.count)) - blockStart)
            guard from <= to else { break }
            result += bytes[from..<to]
            index += 1
        }
        return result
    }

    /// A symlink's target bytes.
    public func readLink(_ inode: Inode) throws -> [UInt8] {
        guard let target = inode.symlinkTarget else {
            throw SquashFS.ReadError("The inode \(inode.inodeNumber) is not a symlink.")
        }
        return target
    }

    private func fileLayout(of inode: Inode) throws -> FileLayout {
        guard let layout = inode.file else {
            throw SquashFS.ReadError("The inode \(inode.inodeNumber) is not a regular file.")
        }
        return layout
    }

    /// The decoded length of block `index`: a whole block, or what is left of the file for its last block.
    private func blockLength(_ inode: Inode, _ index: Int) -> Int {
        let blockSize = UInt64(superblock.blockSize)
        return Int(min(blockSize, inode.size - UInt64(index) * blockSize))
    }

    private func cachedDataBlock(at position: UInt64, word: UInt32, expected: Int, inode: Inode) throws -> [UInt8] {
        if word != 0, let cached = dataBlockCache, cached.start == position, cached.bytes.count == expected {
            return cached.bytes
        }
        let bytes = try dataBlock(at: position, word: word, expected: expected, inode: inode)
        if word != 0 { dataBlockCache = (position, bytes) }
        return bytes
    }

    /// One data block of `inode`, decoded to exactly `expected` bytes.
    private func dataBlock(at position: UInt64, word: UInt32, expected: Int, inode: Inode) throws -> [UInt8] {
        let what = "The data block at byte \(position) of inode \(inode.inodeNumber)"
        // "A size of 0 denotes a sparse block": zeros, nothing stored.
        if word == 0 { return [UInt8](repeating: 0, count: expected) }
        let length = Int(word & 0x00FF_FFFF)
        guard word & ~(Self.uncompressedBlockFlag | 0x00FF_FFFF) == 0, length <= Int(superblock.blockSize) else {
            throw SquashFS.ReadError("\(what) has the invalid size word 0x\(String(word, radix: 16)).")
        }
        guard position >= dataStart else {
            throw SquashFS.ReadError("\(what) lies before the end of the superblock.")
        }
        let stored = try readImage(at: position, count: length, limit: dataEnd, what: what)
        if word & Self.uncompressedBlockFlag != 0 {
            guard length == expected else {
                throw SquashFS.ReadError("\(what) is stored as \(length) bytes, but the file needs \(expected).")
            }
            return stored
        }
        return try decompress(stored, maximum: Int(superblock.blockSize), expected: expected, what: what)
    }

    /// The file's tail, from its fragment block.
    private func tail(of inode: Inode, _ layout: FileLayout) throws -> [UInt8] {
        let blockSize = UInt64(superblock.blockSize)
        let length = Int(inode.size % blockSize)
        let block = try fragmentBlock(layout.fragmentIndex)
        let offset = Int(layout.fragmentOffset)
        guard offset <= block.count, length <= block.count - offset else {
            throw SquashFS.ReadError(
                "The tail of inode \(inode.inodeNumber) (\(length) bytes at offset \(offset)) lies outside its "
                    + "fragment block of \(block.count) bytes.")
        }
        return Array(block[offset..<(offset + length)])
    }

    /// Fragment block `index`, decoded; recent ones are cached.
    private func fragmentBlock(_ index: UInt32) throws -> [UInt8] {
        let entry = try fragmentEntry(index)
        if let cached = fragmentCache.first(where: { $0.start == entry.start }) { return cached.bytes }
        let what = "Fragment block \(index) at byte \(entry.start)"
        let word = entry.sizeWord
        let length = Int(word & 0x00FF_FFFF)
        guard word & ~(Self.uncompressedBlockFlag | 0x00FF_FFFF) == 0, length > 0,
            length <= Int(superblock.blockSize), entry.start >= dataStart
        else {
            throw SquashFS.ReadError("\(what) has the invalid size word 0x\(String(word, radix: 16)).")
        }
        let stored = try readImage(at: entry.start, count: length, limit: dataEnd, what: what)
        let bytes =
            word & Self.uncompressedBlockFlag != 0
            ? stored : try decompress(stored, maximum: Int(superblock.blockSize), expected: nil, what: what)
        if fragmentCache.count >= Self.fragmentCacheLimit { fragmentCache.removeFirst() }
        fragmentCache.append((entry.start, bytes))
        return bytes
    }
}
