extension SquashFS.Reader {
    /// One decoded metadata block and where the next one starts.
    struct MetadataBlock {
        let bytes: [UInt8]
        let next: UInt64
    }

    /// A position in a metadata table: a block (byte offset in the image) and an offset into its decoded bytes,
    /// as inode and directory references store them; reads continue into the following blocks.
    struct MetadataCursor {
        var block: UInt64
        var offset: Int
        /// The table's first byte and its end: reads never leave `start..<end`.
        let start: UInt64
        let end: UInt64
        /// What is being read, for error messages.
        let what: Subject
    }

    /// The metadata cache holds at most this many decoded blocks (8 KiB each, 16 MiB in all): the inode and
    /// directory tables of an application with its interpreter fit, so the structural check decodes each block
    /// once.
    static let metadataCacheLimit = 2048

    /// Reads the metadata block at `position`: "a 16-bit header … the lower 15 bits contain the size of the data
    /// on disk, the highest bit is set if the block is stored uncompressed", followed by up to 8 KiB of payload.
    func metadataBlock(at position: UInt64, end: UInt64) throws -> MetadataBlock {
        if let cached = metadataCache[position] { return cached }
        let header = try readImage(at: position, count: 2, limit: end, what: "A metadata block header")
        let word = UInt16(header[0]) | UInt16(header[1]) << 8
        let size = Int(word & 0x7FFF)
        guard size > 0, size <= Self.metadataBlockSize else {
            throw SquashFS.ReadError(
                "The metadata block at byte \(position) says it holds \(size) bytes (1…\(Self.metadataBlockSize)).")
        }
        let stored = try readImage(at: position + 2, count: size, limit: end, what: "The metadata block")
        let bytes =
            word & 0x8000 != 0
            ? stored
            : try decompress(
                stored, maximum: Self.metadataBlockSize, expected: nil, what: "The metadata block at byte \(position)")
        guard !bytes.isEmpty else { throw SquashFS.ReadError("The metadata block at byte \(position) is empty.") }
        let block = MetadataBlock(bytes: bytes, next: position + 2 + UInt64(size))
        if metadataCache.count >= Self.metadataCacheLimit { metadataCache.removeAll(keepingCapacity: true) }
        metadataCache[position] = block
        return block
    }

    /// A cursor at `reference`'s block (relative to the table's start) and offset in the table `start..<end`.
    func cursor(
        start: UInt64, end: UInt64, block: UInt64, offset: Int, what: Subject
    ) throws -> MetadataCursor {
        guard block < end - start, offset >= 0, offset < Self.metadataBlockSize else {
            throw SquashFS.ReadError("\(what) points to block \(block), offset \(offset), outside its table.")
        }
        return MetadataCursor(block: start + block, offset: offset, start: start, end: end, what: what)
    }

    /// Reads `count` bytes at the cursor and moves it past them, continuing into the next blocks as needed.
    func read(_ cursor: inout MetadataCursor, count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw SquashFS.ReadError("\(cursor.what) has a negative size.") }
        var result: [UInt8] = []
        result.reserveCapacity(min(count, 1 << 20))
        while result.count < count {
            guard cursor.block < cursor.end else {
                throw SquashFS.ReadError("\(cursor.what) runs past the end of its table at byte \(cursor.end).")
            }
            let block = try metadataBlock(at: cursor.block, end: cursor.end)
            if cursor.offset < block.bytes.count {
                let take = min(count - result.count, block.bytes.count - cursor.offset)
                result += block.bytes[cursor.offset..<(cursor.offset + take)]
                cursor.offset += take
            }
            if cursor.offset >= block.bytes.count {
                // A block shorter than 8 KiB can only be a table's last; reading past it is an error next round.
                if cursor.offset > block.bytes.count
                    || block.bytes.count < Self.metadataBlockSize
                        && result.count < count
                {
                    throw SquashFS.ReadError(
                        "\(cursor.what) runs past the end of the metadata block at byte \(cursor.block).")
                }
                cursor.block = block.next
                cursor.offset = 0
            }
        }
        return result
    }

    /// A decoder over the next `count` bytes at the cursor. Bytes inside one decoded block are not copied: the
    /// decoder reads them in the cached block.
    func decoder(_ cursor: inout MetadataCursor, count: Int) throws -> ByteDecoder {
        if count >= 0, cursor.block < cursor.end {
            let block = try metadataBlock(at: cursor.block, end: cursor.end)
            // Strictly inside the block: `read` would move the cursor on to the next block at its end.
            if cursor.offset < block.bytes.count, count < block.bytes.count - cursor.offset {
                let decoder = ByteDecoder(
                    block.bytes, at: cursor.offset, limit: cursor.offset + count, what: cursor.what)
                cursor.offset += count
                return decoder
            }
        }
        return ByteDecoder(try read(&cursor, count: count), what: cursor.what)
    }

    /// Moves the cursor past `count` bytes, like `read` without keeping them.
    func skip(_ cursor: inout MetadataCursor, count: Int) throws {
        _ = try decoder(&cursor, count: count)
    }
}
