import Glibc
import XarSquashFS

/// Turns a directory on disk into a `SquashFS.Tree`: names sorted by bytes, owners root unless kept, mtimes
/// clamped to `SOURCE_DATE_EPOCH`, hard links found by device and inode number.
///
/// The result depends only on the tree's content and metadata, never on the order the file system lists
/// directories in, the umask, the locale or the time zone.
struct DirectoryScanner {
    var keepOwners: Bool
    var sourceDateEpoch: Int?
    /// The relative paths whose node indices the caller wants back (the `sortFirst` list); only these are
    /// kept, since a map of every path costs ~200 bytes per file.
    var wantedPaths: Set<String> = []

    /// What a scan found.
    struct Result {
        var tree: SquashFS.Tree
        /// Node index by path relative to the root (no leading `/`), for the `wantedPaths`.
        var nodesByPath: [String: Int]
        var inputBytes: UInt64
        var fileCount: Int
    }

    func scan(_ root: String) throws -> Result {
        let st = try lstatOrThrow(root)
        guard st.st_mode & S_IFMT == S_IFDIR else { throw XarBuildError.notADirectory(path: root) }
        var result = Result(
            tree: SquashFS.Tree(root: node(.directory, st)), nodesByPath: [:], inputBytes: 0, fileCount: 0)
        var hardLinks: [HardLinkKey: Int] = [:]
        try scanDirectory(root, relative: "", index: SquashFS.Tree.root, into: &result, hardLinks: &hardLinks)
        return result
    }

    private struct HardLinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private func scanDirectory(
        _ path: String, relative: String, index: Int, into result: inout Result, hardLinks: inout [HardLinkKey: Int]
    ) throws {
        for name in try names(in: path) {
            let childPath = path + "/" + String(decoding: name, as: UTF8.self)
            let childRelative =
                relative.isEmpty
                ? String(decoding: name, as: UTF8.self)
                : relative + "/" + String(decoding: name, as: UTF8.self)
            guard name.count <= 256 else { throw XarBuildError.nameTooLong(path: childPath) }
            let st = try lstatOrThrow(childPath)
            let type = st.st_mode & S_IFMT
            let key = HardLinkKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if type != S_IFDIR, st.st_nlink > 1, let existing = hardLinks[key] {
                result.tree.link(existing, named: name, in: index)
                if wantedPaths.contains(childRelative) { result.nodesByPath[childRelative] = existing }
                continue
            }
            let kind: SquashFS.Node.Kind
            switch type {
            case S_IFDIR: kind = .directory
            case S_IFREG:
                let size = UInt64(st.st_size)
                kind = .file(size: size, content: FileContent(path: childPath, size: size))
                result.inputBytes += size
                result.fileCount += 1
            case S_IFLNK: kind = .symlink(target: try readLink(childPath))
            case S_IFBLK: kind = .blockDevice(major: Self.major(st.st_rdev), minor: Self.minor(st.st_rdev))
            case S_IFCHR: kind = .characterDevice(major: Self.major(st.st_rdev), minor: Self.minor(st.st_rdev))
            case S_IFIFO: kind = .fifo
            default: kind = .socket
            }
            let child = result.tree.add(node(kind, st), named: name, in: index)
            if wantedPaths.contains(childRelative) { result.nodesByPath[childRelative] = child }
            if type != S_IFDIR, st.st_nlink > 1 { hardLinks[key] = child }
            if type == S_IFDIR {
                try scanDirectory(
                    childPath, relative: childRelative, index: child, into: &result, hardLinks: &hardLinks)
            }
        }
    }

    private func node(_ kind: SquashFS.Node.Kind, _ st: stat) -> SquashFS.Node {
        var mtime = Int(st.st_mtim.tv_sec)
        if let sourceDateEpoch { mtime = min(mtime, sourceDateEpoch) }
        return SquashFS.Node(
            kind, permissions: UInt16(st.st_mode & 0o7777), uid: keepOwners ? st.st_uid : 0,
            gid: keepOwners ? st.st_gid : 0, mtime: UInt32(clamping: max(0, mtime)))
    }

    /// The names in a directory, sorted by their bytes (the order SquashFS stores them in).
    private func names(in path: String) throws -> [[UInt8]] {
        guard let dir = opendir(path) else {
            let code = errno
            if code == ENOENT { throw XarBuildError.vanished(path: path) }
            throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(errno))) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    private func lstatOrThrow(_ path: String) throws -> stat {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            let code = errno
            if code == ENOENT { throw XarBuildError.vanished(path: path) }
            throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        return st
    }

    private func readLink(_ path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = readlink(path, &buffer, buffer.count)
        guard n >= 0 else {
            let code = errno
            if code == ENOENT { throw XarBuildError.vanished(path: path) }
            throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        guard n <= 4095 else { throw XarBuildError.symlinkTargetTooLong(path: path, length: n) }
        return Array(buffer[0..<n])
    }

    /// glibc's `gnu_dev_major`.
    static func major(_ dev: UInt) -> UInt32 {
        let d = UInt64(dev)
        return UInt32(truncatingIfNeeded: ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff))
    }

    /// glibc's `gnu_dev_minor`.
    static func minor(_ dev: UInt) -> UInt32 {
        let d = UInt64(dev)
        return UInt32(truncatingIfNeeded: (d & 0xff) | ((d >> 12) & ~0xff))
    }
}
