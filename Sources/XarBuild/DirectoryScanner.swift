import XarSquashFS
import struct SystemPackage.Errno
import XarSystem

/// Turns a directory on disk into a `SquashFS.Tree`: names sorted by bytes, owners root unless kept, mtimes
/// clamped to `SOURCE_DATE_EPOCH`, hard links found by device and inode number.
///
/// The result depends only on the tree's content and metadata, never on the order the file system lists
/// directories in, the umask, the locale or the time zone.
struct DirectoryScanner {
    var keepOwners: Bool
    /// Collect each node's extended attributes (those SquashFS can store).
    var keepXattrs: Bool = false
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
        /// The names of extended attributes left out (namespaces SquashFS cannot store), sorted, each once.
        var skippedXattrs: Set<String> = []
        /// Without `keepXattrs`: some entry carried extended attributes (checked until the first one is found).
        var droppedXattrs = false
    }

    func scan(_ root: String) throws -> Result {
        let st = try lstatOrThrow(root)
        var skipped: Set<String> = []
        var dropped = false
        guard st.kind == .directory else { throw XarBuildError.notADirectory(path: root) }
        var result = Result(
            tree: SquashFS.Tree(root: try node(.directory, st, root, &skipped, &dropped)), nodesByPath: [:],
            inputBytes: 0, fileCount: 0)
        var hardLinks: [HardLinkKey: Int] = [:]
        result.skippedXattrs = skipped
        result.droppedXattrs = dropped
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
            guard name.count <= 256 else { throw XarBuildError.refused(.nameTooLong(path: childPath)) }
            let st = try lstatOrThrow(childPath)
            let key = HardLinkKey(device: st.device, inode: st.inode)
            if st.kind != .directory, st.linkCount > 1, let existing = hardLinks[key] {
                result.tree.link(existing, named: name, in: index)
                if wantedPaths.contains(childRelative) { result.nodesByPath[childRelative] = existing }
                continue
            }
            let kind: SquashFS.Node.Kind
            switch st.kind {
            case .directory: kind = .directory
            case .regular:
                kind = .file(size: st.size, content: FileContent(path: childPath, size: st.size))
                result.inputBytes += st.size
                result.fileCount += 1
            case .symbolicLink: kind = .symlink(target: try readLink(childPath))
            case .blockDevice: kind = .blockDevice(major: st.deviceNumbers.major, minor: st.deviceNumbers.minor)
            case .characterDevice:
                kind = .characterDevice(major: st.deviceNumbers.major, minor: st.deviceNumbers.minor)
            case .fifo: kind = .fifo
            case .socket: kind = .socket
            }
            let child = result.tree.add(
                try node(kind, st, childPath, &result.skippedXattrs, &result.droppedXattrs), named: name, in: index)
            if wantedPaths.contains(childRelative) { result.nodesByPath[childRelative] = child }
            if st.kind != .directory, st.linkCount > 1 { hardLinks[key] = child }
            if st.kind == .directory {
                try scanDirectory(
                    childPath, relative: childRelative, index: child, into: &result, hardLinks: &hardLinks)
            }
        }
    }

    private func node(
        _ kind: SquashFS.Node.Kind, _ st: FileStatus, _ path: String, _ skipped: inout Set<String>,
        _ dropped: inout Bool
    ) throws -> SquashFS.Node {
        var mtime = st.modificationTime
        if let sourceDateEpoch { mtime = min(mtime, sourceDateEpoch) }
        var node = SquashFS.Node(
            kind, permissions: st.permissions, uid: keepOwners ? st.uid : 0,
            gid: keepOwners ? st.gid : 0, mtime: UInt32(clamping: max(0, mtime)))
        if keepXattrs {
            let (kept, left) = try XattrReader.read(path)
            node.xattrs = kept
            skipped.formUnion(left)
        } else if !dropped {
            dropped = FileSystem.hasExtendedAttributes(path)
        }
        return node
    }

    /// The names in a directory, sorted by their bytes (the order SquashFS stores them in).
    private func names(in path: String) throws -> [[UInt8]] {
        do { return try FileSystem.entryNames(path).sorted { $0.lexicographicallyPrecedes($1) } } catch {
            throw Self.failure(error, path)
        }
    }

    private func lstatOrThrow(_ path: String) throws -> FileStatus {
        do { return try FileSystem.fileStatus(path, followSymlinks: false) } catch { throw Self.failure(error, path) }
    }

    private func readLink(_ path: String) throws -> [UInt8] {
        let target: [UInt8]
        do { target = try FileSystem.symbolicLinkTarget(path) } catch { throw Self.failure(error, path) }
        guard target.count <= 4095 else {
            throw XarBuildError.refused(.symlinkTargetTooLong(path: path, length: target.count))
        }
        return target
    }

    /// `vanished` when the path is gone, `unreadable` otherwise.
    static func failure(_ error: SystemError, _ path: String) -> XarBuildError {
        if error.errno == .noSuchFileOrDirectory { return .vanished(path: path) }
        return .unreadable(path: path, reason: error.reason)
    }
}
