extension SquashFS.Reader {
    /// One extended attribute: its full name (with the `user.`, `trusted.` or `security.` prefix) and value.
    public struct ExtendedAttribute: Sendable, Hashable {
        /// The full name's bytes, e.g. `user.comment`.
        public var name: [UInt8]
        /// The value's bytes.
        public var value: [UInt8]
    }

    /// "The key type … 0 = user, 1 = trusted, 2 = security; if 0x0100 is set, the value is stored out of line."
    static let xattrPrefixes: [[UInt8]] = [Array("user.".utf8), Array("trusted.".utf8), Array("security.".utf8)]
    /// The key-type flag for a value stored elsewhere, referenced by a 64-bit location.
    static let xattrOutOfLineFlag: UInt16 = 0x0100
    /// Linux allows values up to 64 KiB; this bound only guards against crafted sizes.
    static let maximumXattrValueSize = 1 << 20

    /// The inode's extended attributes, in the order stored; empty when it has none.
    public func extendedAttributes(of inode: Inode) throws -> [ExtendedAttribute] {
        guard let index = inode.xattrIndex else { return [] }
        let what = Subject(.extendedAttributes(inode.inodeNumber))
        let idTable = superblock.xattrIDTableStart
        guard idTable != SquashFS.Superblock.absent else {
            throw SquashFS.ReadError("\(what) are listed, but the image has no xattr table.")
        }
        // "xattr_table_start (u64), xattr_ids (u32), unused (u32)", then the block list of the id entries.
        var header = ByteDecoder(
            try readImage(at: idTable, count: 16, limit: superblock.bytesUsed, what: "The xattr id table header"),
            what: "The xattr id table header")
        let keyValueStart = try header.u64()
        let count = try header.u32()
        guard keyValueStart >= superblock.directoryTableStart, keyValueStart < idTable else {
            throw SquashFS.ReadError("The xattr key/value table starts at byte \(keyValueStart), outside its area.")
        }
        guard index < count else {
            throw SquashFS.ReadError("\(what) use xattr entry \(index), but the image has only \(count).")
        }
        // "xattr (u64): the location of the first key/value pair; count (u32); size (u32)."
        var entry = try lookupEntry(tableStart: idTable + 16, index: Int(index), entrySize: 16, what: "xattr id")
        let reference = try entry.u64()
        let pairs = try entry.u32()
        guard pairs <= 65_536 else { throw SquashFS.ReadError("\(what) count \(pairs) pairs, too many.") }
        var cursor = try cursor(
            start: keyValueStart, end: idTable, block: reference >> 16, offset: Int(reference & 0xFFFF), what: what)
        var attributes: [ExtendedAttribute] = []
        for _ in 0..<pairs {
            var key = try decoder(&cursor, count: 4)
            let type = try key.u16()
            let nameSize = Int(try key.u16())
            let prefix = Int(type & 0xFF)
            guard prefix < Self.xattrPrefixes.count, type & ~(0xFF | Self.xattrOutOfLineFlag) == 0 else {
                throw SquashFS.ReadError("\(what) include the unknown key type \(type).")
            }
            let name = Self.xattrPrefixes[prefix] + (try read(&cursor, count: nameSize))
            var value = try xattrValue(&cursor, what: what)
            if type & Self.xattrOutOfLineFlag != 0 {
                guard value.count == 8 else {
                    throw SquashFS.ReadError("\(what) have an out-of-line value reference of \(value.count) bytes.")
                }
                let location = ByteDecoder(value, what: "").littleEndianU64
                var elsewhere = try self.cursor(
                    start: keyValueStart, end: idTable, block: location >> 16, offset: Int(location & 0xFFFF),
                    what: what)
                value = try xattrValue(&elsewhere, what: what)
            }
            attributes.append(ExtendedAttribute(name: name, value: value))
        }
        return attributes
    }

    /// "value_size (u32), value (u8[value_size])."
    private func xattrValue(_ cursor: inout MetadataCursor, what: Subject) throws -> [UInt8] {
        var size = try decoder(&cursor, count: 4)
        let count = Int(try size.u32())
        guard count <= Self.maximumXattrValueSize else {
            throw SquashFS.ReadError("\(what) include a value of \(count) bytes, more than any file system allows.")
        }
        return try read(&cursor, count: count)
    }
}
