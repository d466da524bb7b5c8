extension SquashFS.Reader {
    /// A fragment table entry: "start (u64): the location on disk of the fragment block; size (u32): the size
    /// of the fragment block on disk, bit 24 set if it is stored uncompressed; unused (u32)".
    struct FragmentEntry {
        let start: UInt64
        let sizeWord: UInt32
    }

    /// Reads entry `index` of a lookup table (fragments, ids, export): "a list of metadata blocks, followed by an
    /// uncompressed array of 64-bit on-disk locations of the blocks", the array at `tableStart`.
    func lookupEntry(tableStart: UInt64, index: Int, entrySize: Int, what: String) throws -> ByteDecoder {
        let perBlock = Self.metadataBlockSize / entrySize
        let pointerPosition = tableStart + UInt64(index / perBlock) * 8
        let pointer: UInt64
        if let known = tablePointerCache[pointerPosition] {
            pointer = known
        } else {
            let pointerBytes = try readImage(
                at: pointerPosition, count: 8, limit: superblock.bytesUsed, what: "The \(what) table's block list")
            pointer = ByteDecoder(pointerBytes, what: "").littleEndianU64
            if tablePointerCache.count >= Self.metadataCacheLimit { tablePointerCache.removeAll() }
            tablePointerCache[pointerPosition] = pointer
        }
        guard pointer >= superblock.directoryTableStart, pointer < tableStart else {
            throw SquashFS.ReadError(
                "The \(what) table's block \(index / perBlock) is at byte \(pointer), outside the table's area.")
        }
        let block = try metadataBlock(at: pointer, end: tableStart)
        let offset = (index % perBlock) * entrySize
        guard offset + entrySize <= block.bytes.count else {
            throw SquashFS.ReadError("The \(what) table's entry \(index) lies past the end of its metadata block.")
        }
        return ByteDecoder(block.bytes, at: offset, what: Subject(.tableEntry(what, index)))
    }

    /// The first byte of every table after the directory table, to bound the directory table.
    func tableFirstBlocks() throws -> [UInt64] {
        let sb = superblock
        var starts: [UInt64] = []
        func firstBlock(_ start: UInt64, count: UInt64, what: String) throws {
            starts.append(start)
            guard count > 0 else { return }
            let bytes = try readImage(at: start, count: 8, limit: sb.bytesUsed, what: "The \(what)'s block list")
            starts.append(ByteDecoder(bytes, what: "").littleEndianU64)
        }
        if sb.fragmentTableStart != SquashFS.Superblock.absent {
            try firstBlock(
                sb.fragmentTableStart, count: UInt64(sb.fragmentEntryCount), what: "fragment table")
        }
        if sb.exportTableStart != SquashFS.Superblock.absent {
            try firstBlock(sb.exportTableStart, count: UInt64(sb.inodeCount), what: "export table")
        }
        try firstBlock(sb.idTableStart, count: UInt64(sb.idCount), what: "id table")
        if sb.xattrIDTableStart != SquashFS.Superblock.absent {
            // "xattr_table_start (u64): the location of the key/value metadata", first in the xattr area.
            let bytes = try readImage(
                at: sb.xattrIDTableStart, count: 8, limit: sb.bytesUsed, what: "The xattr id table header")
            starts.append(sb.xattrIDTableStart)
            starts.append(ByteDecoder(bytes, what: "").littleEndianU64)
        }
        return starts
    }

    /// The uid/gid table: "a lookup table of 32-bit ids; inodes store 16-bit indices into it".
    func readIDTable() throws -> [UInt32] {
        var ids: [UInt32] = []
        ids.reserveCapacity(Int(superblock.idCount))
        for index in 0..<Int(superblock.idCount) {
            var entry = try lookupEntry(tableStart: superblock.idTableStart, index: index, entrySize: 4, what: "id")
            ids.append(try entry.u32())
        }
        return ids
    }

    /// Fragment table entry `index`, checked against the data area.
    func fragmentEntry(_ index: UInt32) throws -> FragmentEntry {
        guard index < superblock.fragmentEntryCount else {
            throw SquashFS.ReadError(
                "A file uses fragment \(index), but the image has only \(superblock.fragmentEntryCount) fragments.")
        }
        var entry = try lookupEntry(
            tableStart: superblock.fragmentTableStart, index: Int(index), entrySize: 16, what: "fragment")
        return FragmentEntry(start: try entry.u64(), sizeWord: try entry.u32())
    }

    /// The uid or gid stored at `index` in the id table.
    func id(at index: UInt16, what: Subject) throws -> UInt32 {
        guard Int(index) < ids.count else {
            throw SquashFS.ReadError("\(what) uses id index \(index), but the id table has \(ids.count) entries.")
        }
        return ids[Int(index)]
    }
}

extension SquashFS.Reader.ByteDecoder {
    /// The first eight bytes as a little-endian u64 (for block lists already read to exactly eight bytes).
    var littleEndianU64: UInt64 {
        var value: UInt64 = 0
        for i in (0..<min(8, bytes.count)).reversed() { value = value << 8 | UInt64(bytes[i]) }
        return value
    }
}
