internal import XarSystem

/// The decompressed start-up blocks servers keep next to their mount points (`<mount point>.startup-blocks`), or
/// in the user's cache directory when the mount root is a tmpfs (docs/lifecycle.md, "Saved blocks"), for
/// `xarctl gc`.
///
/// A server writes one when its session ends and the next server of the image reads it, touching its access time;
/// nothing else removes them, so without pruning every image ever started on the host keeps its start-up set here
/// (~25 MB for `black`).
public enum StartupBlocksInventory {
    /// A removal `prune` made or would make.
    public typealias Removal = Pruning.Removal

    /// Removes abandoned temporary files (their server is gone), then the saved blocks of images that are not
    /// mounted (beside any mount root gc looks at, and in the caller's own cache directory), least recently used
    /// first (the later of their access and modification times), until the saved blocks take at most `limit` bytes.
    /// With `dryRun` nothing is removed. Removing one costs the next cold start of its image the decompression it
    /// saved, nothing else; a server reading it keeps its descriptor.
    public static func prune(limit: Int64, dryRun: Bool) -> [Removal] {
        let info = MountInfo.current()
        // Beside the mounts, and in the caller's cache directory (mounts on a tmpfs keep theirs there); each opened
        // without following links and owned by its user, so root's gc removes nothing through a user's symlink.
        var directories = MountInventory.userDirectories(info).compactMap {
            Pruning.CheckedDirectory.open($0.path, owner: $0.uid)
        }
        if let home = Settings.current.cacheHome,
            let cache = Pruning.CheckedDirectory.open("\(home)/xar/\(cacheLeaf)", owner: Processes.effectiveUserID)
        {
            directories.append(cache)
        }
        let mounted = Set(
            info.entries.filter { $0.value.type == "fuse.xarfs" }.keys.map { $0.split(separator: "/").last ?? "" })
        var removals: [(removal: Removal, directory: Pruning.CheckedDirectory, name: String)] = []
        var saved: [(candidate: Pruning.Candidate, directory: Pruning.CheckedDirectory, name: String)] = []
        for directory in directories {
            directory.forEachOwnedFile { name, st in
                let path = directory.path + "/" + name
                let parts = name.split(separator: ".", omittingEmptySubsequences: false)
                if parts.count == 4, parts[1] == "startup-blocks", parts[2] == "tmp" {
                    // `<mount name>.startup-blocks.tmp.<pid>`: being written, or its server died.
                    guard MountInventory.isMountName(parts[0]), let pid = Int32(parts[3]), Pruning.isGone(pid)
                    else { return }
                    removals.append(
                        (.init(path: path, reason: "abandoned saved blocks (pid \(pid) is gone)"), directory, name))
                } else if name.hasSuffix(suffix), case let mount = name.dropLast(suffix.count),
                    MountInventory.isMountName(mount), !mounted.contains(mount)
                {
                    saved.append((Pruning.Candidate(file: path, status: st), directory, name))
                }
            }
        }
        let byPath = Dictionary(saved.map { ($0.candidate.path, $0) }, uniquingKeysWith: { first, _ in first })
        for chosen in Pruning.leastRecentlyUsed(saved.map(\.candidate), limit: limit) {
            guard let entry = byPath[chosen.path] else { continue }
            removals.append(
                (
                    .init(
                        path: entry.candidate.path,
                        reason: "least recently used, not mounted, \(entry.candidate.bytes) bytes"),
                    entry.directory, entry.name
                ))
        }
        if !dryRun {
            for entry in removals { entry.directory.remove(entry.name) }
        }
        return removals.map(\.removal)
    }

    /// What follows a mount point's path (or, in the cache directory, its name) in the name of its saved blocks.
    static let suffix = ".startup-blocks"

    /// The directory under `$XDG_CACHE_HOME/xar` that holds the saved blocks of mounts on a tmpfs.
    static let cacheLeaf = "startup-blocks"
}
