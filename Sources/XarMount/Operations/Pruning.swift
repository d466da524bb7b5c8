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
        init(file path: String, status: FileStatus) {
            self.init(
                path: path, bytes: status.allocatedBytes,
                lastUsed: Int64(max(status.accessTime, status.modificationTime)))
        }
    }

    /// True when process `pid`, which was writing a temporary file, is gone: the file is abandoned.
    static func isGone(_ pid: Int32) -> Bool { !Processes.exists(pid) }

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
            guard let parent = try? FileDescriptor.open(parentPath, .readOnly, options: .directory) else { return nil }
            return Self.open(String(path[path.index(after: slash)...]), in: parent, path: path, owner: owner)
        }

        /// Opens the subdirectory `name`, which must have the same owner.
        func child(_ name: String) -> CheckedDirectory? {
            Self.open(name, in: descriptor, path: path + "/" + name, owner: owner)
        }

        private static func open(
            _ name: String, in parent: borrowing FileDescriptor, path: String, owner: UInt32
        ) -> CheckedDirectory? {
            guard let fd = try? parent.open(name, .readOnly, options: [.directory, .noFollow]),
                let status = try? fd.fileStatus(), status.kind == .directory, status.uid == owner
            else { return nil }
            return CheckedDirectory(path: path, owner: owner, descriptor: fd)
        }

        /// Calls `body` with the name and `lstat` of each regular file directly inside that belongs to the owner.
        func forEachOwnedFile(_ body: (String, FileStatus) -> Void) {
            guard let names = try? descriptor.entryNames() else { return }
            for name in names {
                guard let status = ownedFileStatus(name) else { continue }
                body(name, status)
            }
        }

        /// Removes the file `name` inside, if it is still a regular file of the owner; true when it is gone.
        @discardableResult
        func remove(_ name: String) -> Bool {
            guard ownedFileStatus(name) != nil else { return false }
            return (try? descriptor.removeFile(name)) != nil
        }

        /// The `lstat` of `name` inside (`fstatat` without following links), when it is a regular file of the owner.
        private func ownedFileStatus(_ name: String) -> FileStatus? {
            guard let status = try? descriptor.status(of: name), status.kind == .regular, status.uid == owner else {
                return nil
            }
            return status
        }
    }
}
