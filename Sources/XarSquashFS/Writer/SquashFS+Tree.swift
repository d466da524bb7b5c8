extension SquashFS {
    /// A file system tree to write: a flat array of nodes, `nodes[0]` the root directory.
    ///
    /// Directories list their entries by node index, so a hard link is simply a second entry naming the same
    /// node. The tree holds no file contents, only `ContentSource`s the writer reads from while it writes, so a
    /// tree of any size costs a few hundred bytes per node.
    public struct Tree: Sendable {
        /// All nodes; `nodes[Tree.root]` is the root directory.
        public private(set) var nodes: [Node]
        /// The index of the root directory.
        public static let root = 0

        /// A tree holding only `root`, which must be a directory.
        public init(root: Node) {
            precondition(root.isDirectory, "the root of a SquashFS tree must be a directory")
            nodes = [root]
        }

        /// Adds `node` as the entry `name` of the directory `directory` and returns its index.
        @discardableResult
        public mutating func add(_ node: Node, named name: [UInt8], in directory: Int) -> Int {
            nodes.append(node)
            nodes[directory].entries.append(Entry(name: name, node: nodes.count - 1))
            return nodes.count - 1
        }

        /// Adds a second name for the existing non-directory node `existing`: a hard link.
        public mutating func link(_ existing: Int, named name: [UInt8], in directory: Int) {
            precondition(!nodes[existing].isDirectory, "directories cannot be hard-linked")
            nodes[directory].entries.append(Entry(name: name, node: existing))
        }
    }

    /// One name in a directory.
    public struct Entry: Sendable {
        /// The name, raw bytes: at most 256 bytes, no `/`, neither `.` nor `..`.
        public var name: [UInt8]
        /// The index of the node in `Tree.nodes`.
        public var node: Int
    }

    /// One inode of the tree: its kind and attributes.
    public struct Node: Sendable {
        /// What the node is.
        public enum Kind: Sendable {
            case directory
            /// A regular file of `size` bytes whose bytes the writer reads from `content`.
            case file(size: UInt64, content: any ContentSource)
            /// A symbolic link; the target is stored as is (dangling targets are fine), at most 4095 bytes.
            case symlink(target: [UInt8])
            case blockDevice(major: UInt32, minor: UInt32)
            case characterDevice(major: UInt32, minor: UInt32)
            case fifo
            case socket
        }

        public var kind: Kind
        /// The permission bits, including setuid, setgid and sticky (`0o7777`).
        public var permissions: UInt16
        public var uid: UInt32
        public var gid: UInt32
        /// Seconds since the epoch.
        public var mtime: UInt32
        /// The extended attributes, sorted by name bytes; each name has the `user.`, `trusted.` or `security.`
        /// prefix. Nodes with any get extended inodes; identical sets are stored once.
        public var xattrs: [ExtendedAttribute] = []
        /// The entries of a directory, in any order (the writer sorts them by raw bytes).
        public internal(set) var entries: [Entry] = []

        /// A node of `kind` with the given attributes.
        public init(_ kind: Kind, permissions: UInt16, uid: UInt32 = 0, gid: UInt32 = 0, mtime: UInt32 = 0) {
            self.kind = kind
            self.permissions = permissions & 0o7777
            self.uid = uid
            self.gid = gid
            self.mtime = mtime
        }

        /// True for directories.
        public var isDirectory: Bool {
            if case .directory = kind { return true }
            return false
        }
    }

    /// Where the writer reads a regular file's bytes from, so the writer itself stays free of I/O.
    ///
    /// A source is opened once per pass over the file and must be cheap to keep: the tree holds one per file.
    public protocol ContentSource: Sendable {
        /// Opens the content for reading; the reader is dropped when the pass is over.
        func open() throws -> any ContentReader
    }

    /// An open content source.
    public protocol ContentReader: AnyObject {
        /// Fills `buffer` with the bytes at `offset`. Throws when fewer bytes exist (the file shrank).
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
        /// The first offset at or after `offset` that may hold non-zero data (`SEEK_DATA`), or nil when only a
        /// hole follows. Lets the writer skip the holes of sparse files without reading them.
        func nextData(from offset: UInt64) throws -> UInt64?
        /// Called after the last read of a pass: throws when the content changed size meanwhile.
        func finish() throws
    }

    /// Content held in memory, for tests and small generated files.
    public struct BytesContent: ContentSource {
        /// The bytes.
        public var bytes: [UInt8]

        /// Content made of `bytes`.
        public init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// A reader over the bytes.
        public func open() throws -> any ContentReader { Reader(bytes: bytes) }

        private final class Reader: ContentReader {
            let bytes: [UInt8]
            init(bytes: [UInt8]) { self.bytes = bytes }
            func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
                guard offset + UInt64(buffer.count) <= bytes.count else { throw WriterError.shortContent }
                bytes.withUnsafeBytes {
                    buffer.copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset) + buffer.count]))
                }
            }
            func nextData(from offset: UInt64) throws -> UInt64? { offset < bytes.count ? offset : nil }
            func finish() throws {}
        }
    }
}
