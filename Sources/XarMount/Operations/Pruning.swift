internal import Glibc

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
