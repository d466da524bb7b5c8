extension SquashFS {
    /// One extended attribute to store: its full name (with its `user.`, `trusted.` or `security.` prefix) and
    /// its value, raw bytes.
    public struct ExtendedAttribute: Sendable, Hashable {
        /// The full name, e.g. `user.comment`.
        public var name: [UInt8]
        /// The value.
        public var value: [UInt8]

        /// An attribute named `name` holding `value`.
        public init(name: [UInt8], value: [UInt8]) {
            self.name = name
            self.value = value
        }

        /// The prefixes the format can encode, by key type: "0 = user, 1 = trusted, 2 = security".
        public static let prefixes: [[UInt8]] = [
            Array("user.".utf8), Array("trusted.".utf8), Array("security.".utf8),
        ]

        /// The key type of `name` and the name without its prefix, or nil for a namespace the format cannot
        /// store (`system.`, e.g. ACLs) or a name that is only a prefix.
        public static func split(_ name: [UInt8]) -> (type: UInt16, rest: [UInt8])? {
            for (type, prefix) in prefixes.enumerated() where name.count > prefix.count && name.starts(with: prefix) {
                return (UInt16(type), Array(name[prefix.count...]))
            }
            return nil
        }
    }

    /// The xattr tables being built: each distinct attribute set once, as key/value pairs in metadata blocks,
    /// and one id entry per set.
    ///
    /// Values are all stored inline (the format's out-of-line values only save space for values shared between
    /// sets). Sets get their ids in first-use order, so the output depends only on the order of the requests.
    struct XattrTableBuilder {
        /// The key/value pairs: "key type (u16), name size (u16), name (without prefix), value size (u32),
        /// value".
        var pairs: MetadataWriter
        /// The id table's entries: "xattr (u64) reference to the first pair, count (u32), size (u32)".
        private(set) var idEntries: [UInt8] = []
        private var idsBySet: [[ExtendedAttribute]: UInt32] = [:]
        /// The number of distinct sets.
        var count: Int { idsBySet.count }

        init(compressor: (any Compressor)?) {
            pairs = MetadataWriter(compressor: compressor)
        }

        /// The id of `attributes` (sorted by name, each name with a storable prefix), adding the set if new; nil
        /// for an empty set.
        mutating func id(of attributes: [ExtendedAttribute]) throws -> UInt32? {
            guard !attributes.isEmpty else { return nil }
            if let id = idsBySet[attributes] { return id }
            let (block, offset) = pairs.position
            var bytes: [UInt8] = []
            for attribute in attributes {
                guard let (type, rest) = ExtendedAttribute.split(attribute.name), rest.count <= UInt16.max else {
                    throw WriterError.unstorableXattr(name: attribute.name)
                }
                bytes.appendLE(type)
                bytes.appendLE(UInt16(rest.count))
                bytes += rest
                bytes.appendLE(UInt32(attribute.value.count))
                bytes += attribute.value
            }
            try pairs.append(bytes)
            idEntries.appendLE(UInt64(block) << 16 | UInt64(offset))
            idEntries.appendLE(UInt32(attributes.count))
            // "size: the total size of the key/value pairs", as mksquashfs counts it.
            idEntries.appendLE(UInt32(bytes.count))
            let id = UInt32(idsBySet.count)
            idsBySet[attributes] = id
            return id
        }
    }
}
