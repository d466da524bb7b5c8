internal import Glibc
internal import XarSystem

/// What `xarctl gc`'s pruners (the extraction cache, the local copies of images, the saved start-up blocks)
/// share: their removals, how they tell an abandoned temporary file, and the least-recently-used choice.
public enum Pruning {
    /// A removal a pruner made or would make.
    public struct Removal: Sendable {
        /// What was (or would be) removed.
        public var path: String
        /// Why, in a few words.
        public var reason: String
    }

    /// A file or tree a pruner might remove.
    struct Candidate {
        var path: String
        /// Disk space used (allocated blocks), in bytes.
        var bytes: Int64
        /// Seconds since the epoch.
        var lastUsed: Int64
        /// Never removed, but counted towards the limit.
        var inUse = false

        init(path: String, bytes: Int64, lastUsed: Int64, inUse: Bool = false) {
            self.path = path
            self.bytes = bytes
            self.lastUsed = lastUsed
            self.inUse = inUse
        }

        /// A file with `lstat` result `status`: its allocated bytes, and the later of its access and modification
        /// times (whoever reads it touches the first, whoever rewrites it the second).
        init(file path: String, status: stat) {
            self.init(
                path: path, bytes: Int64(status.st_blocks) * 512,
                lastUsed: Int64(max(status.st_atim.tv_sec, status.st_mtim.tv_sec)))
        }
    }

    /// True when process `pid`, which was writing a temporary file, is gone: the file is abandoned.
    static func isGone(_ pid: Int32) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }

    /// The candidates to remove, least recently used first, until the rest take at most `limit` bytes; ones in use
    /// stay (and count).
    static func leastRecentlyUsed(_ candidates: [Candidate], limit: Int64) -> [Candidate] {
        var total = candidates.reduce(Int64(0)) { $0 + $1.bytes }
        var chosen: [Candidate] = []
        for candidate in candidates.sorted(by: { $0.lastUsed < $1.lastUsed }) where total > limit && !candidate.inUse {
            total -= candidate.bytes
            chosen.append(candidate)
        }
        return chosen
    }
}

extension Pruning {
    /// A directory a pruner removes files from, opened so that a user cannot redirect root's removals: its last
    /// component with `O_NOFOLLOW` (a symlink is refused, never followed), then checked through the open
    /// descriptor to be a directory of its expected owner. Its entries are examined with `fstatat` without
    /// following links and removed with `unlinkat` relative to it, so swapping a path for a symlink midway changes
    /// nothing: only files directly inside it, owned by that owner, are ever judged.
    final class CheckedDirectory {
        /// Its path, for reports.
        let path: String
        /// The uid its entries must belong to.
        let owner: UInt32
        private let descriptor: FileDescriptor

        private init(path: String, owner: UInt32, descriptor: consuming FileDescriptor) {
            self.path = path
            self.owner = owner
            self.descriptor = descriptor
        }

        /// Opens the directory at `path` (its parent is trusted: a mount root, the caller's own cache); nil
        /// when it is missing, a symlink, not a directory, or not `owner`'s.
        static func open(_ path: String, owner: UInt32) -> CheckedDirectory? {
            guard let slash = path.lastIndex(of: "/") else { return nil }
            let parentPath = slash == path.startIndex ? "/" : String(path[..<slash])
            guard let parent = try? FileDescriptor.open(parentPath, flags: O_RDONLY | O_DIRECTORY) else { return nil }
            return open(String(path[path.index(after: slash)...]), in: parent.rawValue, path: path, owner: owner)
        }

        /// Opens the subdirectory `name`, which must have the same owner.
        func child(_ name: String) -> CheckedDirectory? {
            Self.open(name, in: descriptor.rawValue, path: path + "/" + name, owner: owner)
        }

        private static func open(_ name: String, in parent: Int32, path: String, owner: UInt32) -> CheckedDirectory? {
            guard
                let fd = try? FileDescriptor.open(
                    name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, relativeToRaw: parent),
                let st = try? fd.status(), st.st_mode & S_IFMT == S_IFDIR, st.st_uid == owner
            else { return nil }
            return CheckedDirectory(path: path, owner: owner, descriptor: fd)
        }

        /// Calls `body` with the name and `lstat` of each regular file directly inside that belongs to the owner.
        func forEachOwnedFile(_ body: (String, stat) -> Void) {
            let copy = fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else { return }
            guard let stream = fdopendir(copy) else {
                _ = Glibc.close(copy)
                return
            }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                guard name != ".", name != ".." else { continue }
                var st = stat()
                guard fstatat(descriptor.rawValue, name, &st, AT_SYMLINK_NOFOLLOW) == 0,
                    st.st_mode & S_IFMT == S_IFREG, st.st_uid == owner
                else { continue }
                body(name, st)
            }
        }

        /// Removes the file `name` inside, if it is still a regular file of the owner; true when it is gone.
        @discardableResult
        func remove(_ name: String) -> Bool {
            var st = stat()
            guard fstatat(descriptor.rawValue, name, &st, AT_SYMLINK_NOFOLLOW) == 0,
                st.st_mode & S_IFMT == S_IFREG, st.st_uid == owner
            else { return false }
            return unlinkat(descriptor.rawValue, name, 0) == 0
        }
    }
}
