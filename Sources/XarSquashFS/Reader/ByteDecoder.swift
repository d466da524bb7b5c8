extension SquashFS.Reader {
    /// What a decoder or a metadata cursor is reading, for error messages: kept as the few values it is made of and
    /// put into words only when an error is thrown, so the check of a whole tree formats no text per inode.
    struct Subject: CustomStringConvertible, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
        enum Kind {
            /// A sentence given in full.
            case text(String)
            /// "The inode at 0x…", by reference.
            case inode(UInt64)
            /// "The listing of directory inode …".
            case listing(UInt32)
            /// "The index of directory inode …".
            case directoryIndex(UInt32)
            /// "The extended attributes of inode …".
            case extendedAttributes(UInt32)
            /// "The file inode …".
            case file(UInt32)
            /// "The … table's entry …" of a lookup table (fragment, id, xattr id).
            case tableEntry(String, Int)
        }

        let kind: Kind

        init(_ kind: Kind) { self.kind = kind }
        init(stringLiteral value: String) { kind = .text(value) }
        init(stringInterpolation: DefaultStringInterpolation) {
            kind = .text(String(stringInterpolation: stringInterpolation))
        }

        var description: String {
            switch kind {
            case .text(let text): text
            case .inode(let reference): "The inode at 0x\(String(reference, radix: 16))"
            case .listing(let number): "The listing of directory inode \(number)"
            case .directoryIndex(let number): "The index of directory inode \(number)"
            case .extendedAttributes(let number): "The extended attributes of inode \(number)"
            case .file(let number): "The file inode \(number)"
            case .tableEntry(let table, let index): "The \(table) table's entry \(index)"
            }
        }
    }

    /// Reads little-endian fields one after the other from decoded bytes, throwing instead of reading past the
    /// end.
    ///
    /// Every on-disk structure is decoded through this, field by field, so a truncated structure is an error
    /// naming what was being read, never an out-of-bounds access. A decoder may cover part of a larger array (a
    /// decoded metadata block) without copying it: it never reads at or past `limit`.
    struct ByteDecoder {
        /// The decoded bytes.
        let bytes: [UInt8]
        /// The next field's offset in `bytes`.
        private(set) var position: Int
        /// The end of the bytes this decoder may read (at most `bytes.count`).
        let limit: Int
        /// What is being decoded, for error messages ("the inode at …").
        let what: Subject

        /// A decoder at `position` in `bytes`, reading up to `limit` (default: the end); `what` names the
        /// structure in errors.
        init(_ bytes: [UInt8], at position: Int = 0, limit: Int? = nil, what: Subject) {
            self.bytes = bytes
            self.position = position
            self.limit = min(limit ?? bytes.count, bytes.count)
            self.what = what
        }

        /// The bytes not decoded yet.
        var remaining: Int { limit - position }

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

        /// Moves past the next `count` bytes.
        mutating func skip(_ count: Int) throws {
            guard count >= 0, count <= remaining else {
                throw SquashFS.ReadError("\(what) is truncated: \(count) more bytes needed, \(remaining) left.")
            }
            position += count
        }

        private mutating func integer(_ size: Int) throws -> UInt64 {
            guard size <= remaining else {
                throw SquashFS.ReadError("\(what) is truncated: \(size) more bytes needed, \(remaining) left.")
            }
            var value: UInt64 = 0
            bytes.withUnsafeBytes { raw in
                for i in (0..<size).reversed() { value = value << 8 | UInt64(raw[position + i]) }
            }
            position += size
            return value
        }
    }
}
