extension SquashFS.Reader {
    /// Reads little-endian fields one after the other from decoded bytes, throwing instead of reading past the
    /// end.
    ///
    /// Every on-disk structure is decoded through this, field by field, so a truncated structure is an error
    /// naming what was being read, never an out-of-bounds access.
    struct ByteDecoder {
        /// The decoded bytes.
        let bytes: [UInt8]
        /// The next field's offset in `bytes`.
        private(set) var position: Int
        /// What is being decoded, for error messages ("the inode at …").
        let what: String

        /// A decoder at `position` in `bytes`; `what` names the structure in errors.
        init(_ bytes: [UInt8], at position: Int = 0, what: String) {
            self.bytes = bytes
            self.position = position
            self.what = what
        }

        /// The bytes not decoded yet.
        var remaining: Int { bytes.count - position }

        /// The next little-endian u16.
        mutating func u16() throws -> UInt16 { UInt16(truncatingIfNeeded: try integer(2)) }
        /// The next little-endian u32.
        mutating func u32() throws -> UInt32 { UInt32(truncatingIfNeeded: try integer(4)) }
        /// The next little-endian u64.
        mutating func u64() throws -> UInt64 { try integer(8) }

        /// The next `count` bytes.
        mutating func bytes(_ count: Int) throws -> [UInt8] {
            guard count >= 0, count <= remaining else {
                throw SquashFS.ReadError("\(what) is truncated: \(count) more bytes needed, \(remaining) left.")
            }
            defer { position += count }
            return Array(bytes[position..<(position + count)])
        }

        private mutating func integer(_ size: Int) throws -> UInt64 {
            guard size <= remaining else {
                throw SquashFS.ReadError("\(what) is truncated: \(size) more bytes needed, \(remaining) left.")
            }
            var value: UInt64 = 0
            for i in (0..<size).reversed() { value = value << 8 | UInt64(bytes[position + i]) }
            position += size
            return value
        }
    }
}
