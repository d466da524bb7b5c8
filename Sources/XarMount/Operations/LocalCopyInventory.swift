internal import XarSystem

/// The servers' local copies of images (docs/lifecycle.md, "Source loss"), for `xarctl gc`.
///
/// A server copies a network-sourced image to `<digest>.xar` in `images/` next to its mount point and names the
/// copy in its state file's `copy=` line. Only `images/` of each user directory is pruned (a copy made under a
/// server's own `--cache-dir` is not), and only files there that belong to the directory's user. Nothing else removes copies, so without
/// pruning every version ever launched from NFS stays on the local disk.
public enum LocalCopyInventory {
    /// A removal `prune` made or would make.
    public typealias Removal = Pruning.Removal

    /// Removes abandoned temporary copies (their server is gone), then copies that no live server names in its
    /// state file and no process has open, least recently used first (the later of their access and modification
    /// times: a copy is written once, and read whenever a server verifies it for reuse), until the copies take at
    /// most `limit` bytes. With `dryRun` nothing is removed.
    ///
    /// Removing a copy is one `unlink`: a server that opened it in the same instant keeps reading its
    /// descriptor, and a later server makes a new copy.
    public static func prune(limit: Int64, dryRun: Bool) -> [Removal] {
        let records = MountInventory.records(withUsers: false)
        // Only `images/` in each user directory, opened without following links and owned by that user: root's
        // gc never removes a file through a user's symlink, nor one a state file merely names.
        var directories: [String: Pruning.CheckedDirectory] = [:]
        for user in MountInventory.userDirectories(MountInfo.current()) {
            guard let images = Pruning.CheckedDirectory.open(user.path, owner: user.uid)?.child("images") else {
                continue
            }
            directories[images.path] = images
        }
        // A `copy=` line (a file the user can write) only keeps a copy; it never adds a place to remove from.
        var named = Set<String>()
        for record in records where record.status == .live || record.status == .stopped {
            guard let state = XarMount.ServerState.read(from: record.mountPoint + ".state"), !state.copyPath.isEmpty
            else { continue }
            named.insert(ProcScan.canonical(state.copyPath))
        }
        var removals: [Removal] = []
        var copies: [Pruning.Candidate] = []
        for (path, directory) in directories.sorted(by: { $0.key < $1.key }) {
            directory.forEachOwnedFile { name, st in
                let file = path + "/" + name
                if name.hasPrefix(".tmp-") {
                    // `.tmp-<digest>-<pid>`: a copy in progress, or one whose server died.
                    guard let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), Pruning.isGone(pid)
                    else { return }
                    removals.append(Removal(path: file, reason: "abandoned copy (pid \(pid) is gone)"))
                } else if isCopyName(name) {
                    copies.append(Pruning.Candidate(file: file, status: st))
                }
            }
        }
        let open = copies.isEmpty ? [:] : ProcScan.users(ofAny: copies.map(\.path))
        for index in copies.indices {
            copies[index].inUse = named.contains(copies[index].path) || !open[copies[index].path, default: []].isEmpty
        }
        for copy in Pruning.leastRecentlyUsed(copies, limit: limit) {
            removals.append(
                Removal(path: copy.path, reason: "least recently used, no server reads it, \(copy.bytes) bytes"))
        }
        if !dryRun {
            for removal in removals {
                guard let slash = removal.path.lastIndex(of: "/") else { continue }
                directories[String(removal.path[..<slash])]?.remove(
                    String(removal.path[removal.path.index(after: slash)...]))
            }
        }
        return removals
    }

    /// True for `<64 lowercase hex digits>.xar`, the names the server gives verified copies.
    static func isCopyName(_ name: String) -> Bool {
        guard name.hasSuffix(".xar") else { return false }
        let digest = name.dropLast(4)
        return digest.count == 64 && digest.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
