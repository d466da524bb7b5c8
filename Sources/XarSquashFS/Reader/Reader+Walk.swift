extension SquashFS.Reader {
    /// Visits every entry of the tree depth-first, parents before children, in listing order: the root first
    /// (with an empty path), then each entry with its path relative to the root (`a/b/c`, as bytes).
    ///
    /// Each directory is listed once; a directory reached twice (a cycle in a crafted image) or nesting deeper
    /// than `maximumDepth` throws. Hard links are visited once per entry, with the same inode.
    public func walk(_ visit: (_ path: [UInt8], _ inode: Inode) throws -> Void) throws {
        try traverse(paths: true, visit)
    }

    /// `walk`, with the paths joined only when `paths` is set (otherwise `visit` gets each entry's name alone):
    /// the structural check needs no paths, and joining one per entry is an allocation per entry. Errors name the
    /// full path either way.
    func traverse(paths: Bool, _ visit: (_ path: [UInt8], _ inode: Inode) throws -> Void) throws {
        let root = try root
        try visit([], root)
        guard root.isDirectory else { throw SquashFS.ReadError("The root inode is not a directory.") }
        var seenDirectories: Set<UInt64> = [root.reference]
        // Each frame is a directory being listed: its path (or, without paths, its name) and the entries still to
        // visit, reversed.
        var stack: [(path: [UInt8], entries: [DirectoryEntry])] = [([], try listDirectory(root).reversed())]
        while !stack.isEmpty {
            guard let entry = stack[stack.count - 1].entries.popLast() else {
                stack.removeLast()
                continue
            }
            let parent = stack[stack.count - 1].path
            let path = !paths ? entry.name : parent.isEmpty ? entry.name : parent + [UInt8(ascii: "/")] + entry.name
            let inode = try inode(of: entry)
            try visit(path, inode)
            guard inode.isDirectory else { continue }
            func fullPath() -> String {
                guard !paths else { return printable(path) }
                return printable(Array((stack.dropFirst().map(\.path) + [entry.name]).joined(separator: [0x2F])))
            }
            guard seenDirectories.insert(inode.reference).inserted else {
                throw SquashFS.ReadError("The directory \"\(fullPath())\" appears twice in the tree (a cycle).")
            }
            guard stack.count < Self.maximumDepth else {
                throw SquashFS.ReadError("The directory \"\(fullPath())\" is nested deeper than \(Self.maximumDepth).")
            }
            stack.append((path, try listDirectory(inode).reversed()))
        }
    }
}
