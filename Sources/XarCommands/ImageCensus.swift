import XarSquashFS

/// What an image holds, counted by walking its tree: the numbers `xarctl inspect` shows and `xarctl verify`
/// checks while it reads every file.
struct ImageCensus: Sendable, Equatable {
    /// Regular files (each hard link counted once per name).
    var files = 0
    /// Directories, the root included.
    var directories = 0
    /// Symbolic links.
    var symlinks = 0
    /// FIFOs, sockets and device nodes.
    var others = 0
    /// The sum of the regular files' sizes.
    var fileBytes: UInt64 = 0

    /// Walks `reader`'s tree; with `readContents`, also decodes every file's data and every symlink's target,
    /// checking that a file yields exactly its size, and throws the first problem.
    init(_ reader: SquashFS.Reader, readContents: Bool) throws {
        try reader.walk { path, inode in
            switch inode.kind {
            case .directory:
                directories += 1
            case .regularFile:
                files += 1
                fileBytes += inode.size
                guard readContents else { return }
                var read: UInt64 = 0
                try reader.forEachBlock(of: inode) { read += UInt64($0.count) }
                guard read == inode.size else {
                    throw SquashFS.ReadError(
                        "The file /\(String(decoding: path, as: UTF8.self)) gave \(read) bytes; its inode says "
                            + "\(inode.size).")
                }
            case .symlink:
                symlinks += 1
                if readContents { _ = try reader.readLink(inode) }
            default:
                others += 1
            }
        }
    }
}
