extension SquashFS.Reader {
    /// "Directory headers … count (u32): the number of entries following the header, minus one; start (u32):
    /// the location of the metadata block in the inode table where the inodes are stored; inode_number (u32):
    /// an arbitrary inode number, the entries store theirs as a difference to it."
    static let directoryHeaderSize = 12
    /// "Directory entries: offset (u16), inode_offset (i16), type (u16), name_size (u16, minus one), name."
    static let directoryEntrySize = 8
    /// "A header must be followed by at most 256 entries."
    static let maximumRunLength = 256

    /// The entries of `directory`, in the listing's order, checked: names, kinds and inode numbers are valid and
    /// no name repeats.
    public func listDirectory(_ directory: Inode) throws -> [DirectoryEntry] {
        guard let layout = directory.directory else {
            throw SquashFS.ReadError("The inode \(directory.inodeNumber) is not a directory.")
        }
        let what = Subject(.listing(directory.inodeNumber))
        var cursor = try cursor(
            start: superblock.directoryTableStart, end: directoryTableEnd, block: UInt64(layout.blockIndex),
            offset: Int(layout.blockOffset), what: what)
        var d = try decoder(&cursor, count: Int(layout.listingSize))
        var entries: [DirectoryEntry] = []
        // Writers sort a listing by name (the kernel's lookup relies on it), so a name after a smaller one is new;
        // the set of names is built only for a listing out of order.
        var names: Set<[UInt8]>?
        while d.remaining > 0 {
            let count = Int(try d.u32()) + 1
            let start = try d.u32()
            let base = try d.u32()
            guard count <= Self.maximumRunLength else {
                throw SquashFS.ReadError("\(what) has a run of \(count) entries; at most 256 are allowed.")
            }
            guard UInt64(start) < superblock.directoryTableStart - superblock.inodeTableStart else {
                throw SquashFS.ReadError("\(what) points to inode block \(start), outside the inode table.")
            }
            for _ in 0..<count {
                let offset = try d.u16()
                let delta = Int16(bitPattern: try d.u16())
                let type = try d.u16()
                let nameSize = Int(try d.u16()) + 1
                guard nameSize <= Self.maximumNameLength else {
                    throw SquashFS.ReadError("\(what) has a name of \(nameSize) bytes; at most 256 are allowed.")
                }
                let name = try d.bytes(nameSize)
                let number = Int64(base) + Int64(delta)
                guard number >= 1, number <= Int64(superblock.inodeCount) else {
                    throw SquashFS.ReadError(
                        "\(what) gives \"\(printable(name))\" inode number \(number), out of range.")
                }
                guard let kind = Self.basicKind(type) else {
                    throw SquashFS.ReadError("\(what) gives \"\(printable(name))\" the invalid type \(type).")
                }
                guard offset < Self.metadataBlockSize else {
                    throw SquashFS.ReadError("\(what) gives \"\(printable(name))\" an invalid inode offset \(offset).")
                }
                try checkName(name, what: what)
                if names == nil, let previous = entries.last?.name, !previous.lexicographicallyPrecedes(name) {
                    names = Set(entries.map(\.name))
                }
                guard names?.insert(name).inserted ?? true else {
                    throw SquashFS.ReadError("\(what) holds the name \"\(printable(name))\" twice.")
                }
                entries.append(
                    DirectoryEntry(
                        name: name, inodeReference: UInt64(start) << 16 | UInt64(offset), inodeNumber: UInt32(number),
                        kind: kind))
            }
        }
        return entries
    }

    /// The inode an entry leads to, checked against what the listing says about it.
    public func inode(of entry: DirectoryEntry) throws -> Inode {
        let inode = try inode(at: entry.inodeReference)
        guard inode.kind == entry.kind, inode.inodeNumber == entry.inodeNumber else {
            throw SquashFS.ReadError(
                "The directory entry \"\(printable(entry.name))\" says inode \(entry.inodeNumber) (\(entry.kind)), "
                    + "but its inode is number \(inode.inodeNumber) (\(inode.kind)).")
        }
        return inode
    }

    /// The inode at `path` (components separated by `/`, relative to the root; empty components ignored), or nil
    /// when no such entry exists.
    public func lookup(_ path: String) throws -> Inode? {
        var current = try root
        for component in path.utf8.split(separator: UInt8(ascii: "/")) {
            guard current.isDirectory else { return nil }
            guard let entry = try listDirectory(current).first(where: { $0.name.elementsEqual(component) }) else {
                return nil
            }
            current = try inode(of: entry)
        }
        return current
    }

    /// The kind for a directory entry's type, which "is always the basic type".
    static func basicKind(_ type: UInt16) -> Inode.Kind? {
        switch SquashFS.Inode.InodeType(rawValue: type) {
        case .directory: .directory
        case .file: .regularFile
        case .symlink: .symlink
        case .blockDevice: .blockDevice
        case .characterDevice: .characterDevice
        case .fifo: .fifo
        case .socket: .socket
        default: nil  // an extended type, or none of the format's
        }
    }

    /// Refuses names an extractor could not use safely.
    private func checkName(_ name: [UInt8], what: Subject) throws {
        if name.isEmpty || name == [0x2E] || name == [0x2E, 0x2E] || name.contains(0x2F) || name.contains(0) {
            throw SquashFS.ReadError("\(what) holds the unsafe name \"\(printable(name))\".")
        }
    }
}

/// `name` for an error message: UTF-8 where valid, control bytes escaped.
func printable(_ name: [UInt8]) -> String {
    String(decoding: name, as: UTF8.self).unicodeScalars.map {
        $0.value < 0x20 || $0.value == 0x7F ? "\\x\(String($0.value, radix: 16))" : String($0)
    }.joined()
}
