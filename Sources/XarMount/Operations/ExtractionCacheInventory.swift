internal import XarSystem

/// The entries of the no-FUSE extraction cache (`ExtractionCache`), for `xarctl list` and `xarctl gc`.
public enum ExtractionCacheInventory {
    /// One extracted tree.
    public struct Entry: Sendable, Codable, Equatable {
        /// The cache key: the image's SHA-256, or `uuid-<UUID>`.
        public var key: String
        /// The tree's path.
        public var path: String
        /// Disk space used (allocated blocks), in bytes.
        public var bytes: Int64
        /// When the tree was last extracted or read (the later of its directory's access and change times),
        /// seconds since the epoch.
        public var lastUsed: Int64
        /// Processes with their working directory, an open file or a mapping in the tree.
        public var users: Int
    }

    /// A removal `prune` made or would make.
    public typealias Removal = Pruning.Removal

    /// The cache's entries, least recently used first; empty when there is no cache.
    public static func entries() -> [Entry] {
        guard let cache = try? ExtractionCache.path() else { return [] }
        var result: [Entry] = []
        MountInventory.forEachEntry(of: cache) { key in
            guard !key.hasPrefix(".") else { return }
            let path = cache + "/" + key
            guard let status = try? FileSystem.fileStatus(path, followSymlinks: false), status.kind == .directory
            else { return }
            result.append(
                Entry(
                    key: key, path: path, bytes: diskUsage(path),
                    lastUsed: Int64(max(status.accessTime, status.changeTime)),
                    users: ProcScan.users(of: path).count))
        }
        return result.sorted { $0.lastUsed < $1.lastUsed }
    }

    /// Removes abandoned temporary extractions (their process is gone), then whole trees, least recently
    /// used first, until the cache holds at most `limit` bytes. A tree in use is never removed.
    public static func prune(limit: Int64, dryRun: Bool) -> [Removal] {
        guard let cache = try? ExtractionCache.path() else { return [] }
        var removals: [Removal] = []
        MountInventory.forEachEntry(of: cache) { name in
            // `.tmp-<key>-<pid>`: an extraction in progress, or one whose process died.
            guard name.hasPrefix(".tmp-"), let pid = name.split(separator: "-").last.flatMap({ Int32($0) }),
                Pruning.isGone(pid)
            else { return }
            removals.append(Removal(path: cache + "/" + name, reason: "abandoned extraction (pid \(pid) is gone)"))
        }
        let trees = entries().map {
            Pruning.Candidate(path: $0.path, bytes: $0.bytes, lastUsed: $0.lastUsed, inUse: $0.users > 0)
        }
        for tree in Pruning.leastRecentlyUsed(trees, limit: limit) {
            removals.append(Removal(path: tree.path, reason: "least recently used, \(tree.bytes) bytes"))
        }
        if !dryRun {
            guard let fd = try? FileDescriptor.open(cache, .readOnly, options: [.directory, .noFollow]) else {
                return []
            }
            for removal in removals {
                let name = String(removal.path.dropFirst(cache.count + 1))
                // Renamed away first, so a launch never finds a half-removed tree under its final name.
                let doomed = ".tmp-gc-\(name.hasPrefix(".") ? String(name.dropFirst()) : name)-\(Processes.currentID)"
                if (try? fd.rename(name, to: doomed)) != nil {
                    try? TreeRemoval.remove(doomed, in: fd.rawValue)
                }
            }
        }
        return removals
    }

    /// Allocated bytes of the tree at `path` (no symlinks followed).
    static func diskUsage(_ path: String) -> Int64 {
        guard let status = try? FileSystem.fileStatus(path, followSymlinks: false) else { return 0 }
        var total = status.allocatedBytes
        if status.kind == .directory {
            MountInventory.forEachEntry(of: path) { total += diskUsage(path + "/" + $0) }
        }
        return total
    }
}
