extension SquashFS.Reader {
    /// One entry of a directory listing: a name and the inode it leads to.
    ///
    /// Names are bytes, as on disk: SquashFS names need not be UTF-8. The reader refuses names that are empty,
    /// `.`, `..` or contain `/` or NUL, so an extractor can join them to a path safely.
    public struct DirectoryEntry: Sendable, Hashable {
        /// The name's bytes.
        public var name: [UInt8]
        /// The inode's reference (block and offset in the inode table).
        public var inodeReference: UInt64
        /// The inode number the listing records (must match the inode's).
        public var inodeNumber: UInt32
        /// The kind the listing records (the basic type; must match the inode's kind).
        public var kind: Inode.Kind

        /// The name as a String, with invalid UTF-8 replaced (for messages and tests).
        public var nameString: String { String(decoding: name, as: UTF8.self) }
    }
}
