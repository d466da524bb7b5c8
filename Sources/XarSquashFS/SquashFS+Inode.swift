extension SquashFS {
    /// An inode as stored in the inode table: a 16-byte common header followed by the part for its type.
    ///
    /// The writer picks the basic or extended form; both are encoded here field by field. The reader decodes the
    /// same `InodeType`s (`Reader+Inodes.swift`).
    public struct Inode: Sendable, Equatable {
        /// "The type of item described by the inode which follows this header."
        public enum InodeType: UInt16, Sendable {
            case directory = 1, file, symlink, blockDevice, characterDevice, fifo, socket
            case extendedDirectory, extendedFile, extendedSymlink, extendedBlockDevice, extendedCharacterDevice
            case extendedFifo, extendedSocket

            /// The basic type, which directory entries use even for extended inodes.
            public var basic: InodeType { rawValue > 7 ? InodeType(rawValue: rawValue - 7)! : self }

            /// True for the extended forms (8…14), which carry an xattr index and wider fields.
            public var isExtended: Bool { rawValue > 7 }
        }

        /// One entry of an extended directory's index: where a directory header starts, to skip to it.
        public struct DirectoryIndex: Sendable, Equatable {
            /// "This stores a byte offset from the first directory header to the current header, as if the
            /// uncompressed directory metadata blocks were laid out in memory consecutively."
            public var index: UInt32
            /// "Start offset of a directory table metadata block."
            public var start: UInt32
            /// "The name of the first entry following the header."
            public var name: [UInt8]

            /// An index entry.
            public init(index: UInt32, start: UInt32, name: [UInt8]) {
                self.index = index
                self.start = start
                self.name = name
            }
        }

        /// The type-specific part.
        public enum Body: Sendable, Equatable {
            /// "block_index": the directory table block, relative to its start; "block_offset" into it.
            case directory(
                blockStart: UInt32, linkCount: UInt32, fileSize: UInt32, blockOffset: UInt16, parent: UInt32,
                index: [DirectoryIndex], xattr: UInt32?)
            /// "blocks_start": absolute position of the first data block; "frag_index" is all ones without a
            /// fragment; "sparse": "the number of bytes saved by omitting zero bytes".
            case file(
                blocksStart: UInt64, fileSize: UInt64, sparse: UInt64, linkCount: UInt32, fragment: UInt32,
                fragmentOffset: UInt32, xattr: UInt32?, blockSizes: [UInt32], extended: Bool)
            case symlink(linkCount: UInt32, target: [UInt8], xattr: UInt32?)
            /// "device": the device number, in the kernel's `new_encode_dev` form.
            case device(block: Bool, linkCount: UInt32, device: UInt32, xattr: UInt32?)
            case ipc(socket: Bool, linkCount: UInt32, xattr: UInt32?)
        }

        /// "A bit mask representing Unix file system permissions for the inode" (the lower 12 bits).
        public var permissions: UInt16
        /// "An index into the id table, giving the user id of the owner."
        public var uidIndex: UInt16
        /// "An index into the id table, giving the group id of the owner."
        public var gidIndex: UInt16
        /// "The unsigned number of seconds (not counting leap seconds) since 00:00, Jan 1 1970 UTC when the item
        /// described by the inode was last modified."
        public var mtime: UInt32
        /// "The position of this inode in the full list of inodes." 1-based, unique.
        public var number: UInt32
        public var body: Body

        /// An inode with the given header fields and body.
        public init(permissions: UInt16, uidIndex: UInt16, gidIndex: UInt16, mtime: UInt32, number: UInt32, body: Body)
        {
            self.permissions = permissions
            self.uidIndex = uidIndex
            self.gidIndex = gidIndex
            self.mtime = mtime
            self.number = number
            self.body = body
        }

        /// The type this inode is written as.
        public var type: InodeType {
            switch body {
            case .directory(_, _, let size, _, _, let index, let xattr):
                return index.isEmpty && xattr == nil && size <= UInt16.max ? .directory : .extendedDirectory
            case .file(_, _, _, _, _, _, _, _, let extended): return extended ? .extendedFile : .file
            case .symlink(_, _, let xattr): return xattr == nil ? .symlink : .extendedSymlink
            case .device(let block, _, _, let xattr):
                return block
                    ? (xattr == nil ? .blockDevice : .extendedBlockDevice)
                    : (xattr == nil ? .characterDevice : .extendedCharacterDevice)
            case .ipc(let socket, _, let xattr):
                return socket ? (xattr == nil ? .socket : .extendedSocket) : (xattr == nil ? .fifo : .extendedFifo)
            }
        }

        /// The inode's bytes, header then body, little-endian.
        public func encoded() -> [UInt8] {
            var b: [UInt8] = []
            let type = self.type
            b.appendLE(type.rawValue)
            b.appendLE(permissions)
            b.appendLE(uidIndex)
            b.appendLE(gidIndex)
            b.appendLE(mtime)
            b.appendLE(number)
            switch body {
            case .directory(let start, let links, let size, let offset, let parent, let index, let xattr):
                if type == .directory {
                    b.appendLE(start)
                    b.appendLE(links)
                    b.appendLE(UInt16(size))
                    b.appendLE(offset)
                    b.appendLE(parent)
                } else {
                    b.appendLE(links)
                    b.appendLE(size)
                    b.appendLE(start)
                    b.appendLE(parent)
                    b.appendLE(UInt16(index.count))  // "index_count": the number of index entries that follow
                    b.appendLE(offset)
                    b.appendLE(xattr ?? UInt32.max)
                    for entry in index {
                        b.appendLE(entry.index)
                        b.appendLE(entry.start)
                        b.appendLE(UInt32(entry.name.count - 1))  // "name_size": "one less than the size"
                        b.append(contentsOf: entry.name)
                    }
                }
            case .file(
                let start, let size, let sparse, let links, let fragment, let fragOffset, let xattr,
                let blocks, let extended):
                if extended {
                    b.appendLE(start)
                    b.appendLE(size)
                    b.appendLE(sparse)
                    b.appendLE(links)
                    b.appendLE(fragment)
                    b.appendLE(fragOffset)
                    b.appendLE(xattr ?? UInt32.max)
                } else {
                    b.appendLE(UInt32(start))
                    b.appendLE(fragment)
                    b.appendLE(fragOffset)
                    b.appendLE(UInt32(size))
                }
                for size in blocks { b.appendLE(size) }
            case .symlink(let links, let target, let xattr):
                b.appendLE(links)
                b.appendLE(UInt32(target.count))
                b.append(contentsOf: target)
                if let xattr { b.appendLE(xattr) }
            case .device(_, let links, let device, let xattr):
                b.appendLE(links)
                b.appendLE(device)
                if let xattr { b.appendLE(xattr) }
            case .ipc(_, let links, let xattr):
                b.appendLE(links)
                if let xattr { b.appendLE(xattr) }
            }
            return b
        }

        /// The kernel's `new_encode_dev`: minor's low byte, major in bits 8–19, minor's upper bits from bit 20.
        public static func encodeDevice(major: UInt32, minor: UInt32) -> UInt32 {
            (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)
        }
    }
}
