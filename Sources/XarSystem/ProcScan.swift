import Glibc

/// Finds the processes that use a directory tree (typically a mount) by reading `/proc`.
///
/// Paths come from `readlink` on the `/proc/PID/{cwd,root,fd/N}` magic links, never from `stat`: a `stat`
/// follows the link into the target's file system, and one process whose working directory sits on a hung
/// NFS mount or behind a stopped FUSE server would hang the scan. `readlink` only formats the kernel's
/// dentry path. The paths are as this process sees them, so the scan covers processes in the same mount
/// namespace, which is the only place a per-namespace mount of ours is reachable. Processes of other users
/// are skipped silently when `/proc` refuses to show them (they cannot use another user's FUSE mount anyway).
/// The tree's path must be canonical (no symlinks), as the kernel spells it in those links.
public enum ProcScan {
    /// How a process uses the tree.
    public enum Use: Sendable, Hashable, CustomStringConvertible {
        /// Its working directory is inside.
        case workingDirectory
        /// Its root directory (chroot) is inside.
        case root
        /// It has this file descriptor open on a file inside.
        case openFile(Int32)
        /// It has a file inside mapped into memory (an executable, a shared library, an `mmap`).
        case mappedFile

        public var description: String {
            switch self {
            case .workingDirectory: "cwd"
            case .root: "root"
            case .openFile(let fd): "fd \(fd)"
            case .mappedFile: "mmap"
            }
        }
    }

    /// One process and the ways it uses the tree.
    public struct User: Sendable, Hashable {
        /// The process id.
        public var pid: Int32
        /// What ties it to the tree, in the order found.
        public var uses: [Use]
    }

    /// The id of a process other than this one that uses `tree` in any way (working directory, root, executable,
    /// an open file, a mapping), or nil when there is none. This is the FUSE server's usage check: its mounts
    /// answer no `open`, so it sees no file handles and must look here for every kind of use.
    ///
    /// `candidate` (typically the user found last time) is checked first, so that a mount with a long-running
    /// user costs a handful of syscalls per check instead of a walk over every process. Only processes whose
    /// effective user is this process's are examined: a FUSE mount without `allow_other` refuses everybody
    /// else, and skipping them keeps a scan by root cheap on hosts with thousands of processes. Per process
    /// the cheap links come first (`cwd`, `root`, `exe`), then the descriptors, then `/proc/PID/maps`.
    public static func anyUser(of tree: String, checkingFirst candidate: Int32? = nil) -> Int32? {
        let prefix = Array(tree.utf8)
        let me = getpid()
        let uid = geteuid()
        if let candidate, candidate != me, uses(pid: candidate, prefix) { return candidate }
        var found: Int32?
        forEachProcess { pid in
            if pid == me || pid == candidate { return true }
            var status = stat()
            guard stat("/proc/\(pid)", &status) == 0, status.st_uid == uid else { return true }
            if uses(pid: pid, prefix) {
                found = pid
                return false
            }
            return true
        }
        return found
    }

    /// True when process `pid` uses the tree in any way; stops at the first use found.
    private static func uses(pid: Int32, _ prefix: [UInt8]) -> Bool {
        if linkIsInside("/proc/\(pid)/cwd", prefix) || linkIsInside("/proc/\(pid)/root", prefix)
            || linkIsInside("/proc/\(pid)/exe", prefix)
        {
            return true
        }
        var found = false
        forEachEntry(of: "/proc/\(pid)/fd") { name in
            if linkIsInside("/proc/\(pid)/fd/\(name)", prefix) {
                found = true
                return false
            }
            return true
        }
        return found || mapsMention(pid: pid, prefix)
    }

    /// Every process other than this one that uses `tree`: working directory, root, open files, mapped files
    /// (read from `/proc/PID/maps`). For operators (`xarctl`), not hot paths.
    public static func users(of tree: String) -> [User] {
        users(ofAny: [tree])[tree] ?? []
    }

    /// `users(of:)` for many trees in one pass over `/proc` (each process's links and maps are read once):
    /// tree → its users; trees nobody uses are absent. For `xarctl list` and `gc` on hosts with many mounts.
    public static func users(ofAny trees: [String]) -> [String: [User]] {
        let prefixes = trees.map { Array($0.utf8) }
        let me = getpid()
        var result: [String: [User]] = [:]
        forEachProcess { pid in
            if pid == me { return true }
            var uses = [[Use]](repeating: [], count: trees.count)
            for (index, prefix) in prefixes.enumerated() {
                if linkIsInside("/proc/\(pid)/cwd", prefix) { uses[index].append(.workingDirectory) }
                if linkIsInside("/proc/\(pid)/root", prefix) { uses[index].append(.root) }
            }
            forEachEntry(of: "/proc/\(pid)/fd") { name in
                guard let fd = Int32(name) else { return true }
                for (index, prefix) in prefixes.enumerated() where linkIsInside("/proc/\(pid)/fd/\(name)", prefix) {
                    uses[index].append(.openFile(fd))
                }
                return true
            }
            for index in mapsMention(pid: pid, prefixes) { uses[index].append(.mappedFile) }
            for (index, found) in uses.enumerated() where !found.isEmpty {
                result[trees[index], default: []].append(User(pid: pid, uses: found))
            }
            return true
        }
        return result
    }

    /// `path` with its parent's symlinks resolved and the last component kept as is, so that a mount point is
    /// never resolved itself (that would send a request to its server): the spelling `/proc`'s links use.
    public static func canonical(_ path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return canonical("./" + trimmed) }
        let parent = slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
        let name = trimmed[trimmed.index(after: slash)...]
        guard let resolved = realpath(parent, nil) else { return trimmed }
        defer { free(resolved) }
        let base = String(cString: resolved)
        return base == "/" ? "/\(name)" : "\(base)/\(name)"
    }

    // MARK: - /proc

    /// Calls `body` with every process id in `/proc` until it returns false.
    private static func forEachProcess(_ body: (Int32) -> Bool) {
        forEachEntry(of: "/proc") { name in
            guard let first = name.utf8.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"),
                let pid = Int32(name)
            else { return true }
            return body(pid)
        }
    }

    private static func forEachEntry(of directory: String, _ body: (String) -> Bool) {
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            if !body(name) { return }
        }
    }

    /// True when the magic link at `path` names `prefix` or something below it.
    private static func linkIsInside(_ path: String, _ prefix: [UInt8]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in
            readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard count >= prefix.count else { return false }
        if !buffer[0..<prefix.count].elementsEqual(prefix) { return false }
        return count == prefix.count || buffer[prefix.count] == UInt8(ascii: "/")
    }

    /// True when a line of `/proc/PID/maps` ends with a path inside the tree.
    private static func mapsMention(pid: Int32, _ prefix: [UInt8]) -> Bool {
        !mapsMention(pid: pid, [prefix]).isEmpty
    }

    /// The indices of the trees in `prefixes` that a line of `/proc/PID/maps` names a path inside of.
    private static func mapsMention(pid: Int32, _ prefixes: [[UInt8]]) -> Set<Int> {
        guard let contents = SmallFile.read("/proc/\(pid)/maps") else { return [] }
        var found = Set<Int>()
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            // The path is the sixth field and starts at the first '/' after the fixed columns.
            guard let slash = line.firstIndex(of: UInt8(ascii: "/")) else { continue }
            let path = line[slash...]
            for (index, prefix) in prefixes.enumerated()
            where path.starts(with: prefix)
                && (path.count == prefix.count || path[path.startIndex + prefix.count] == UInt8(ascii: "/"))
            {
                found.insert(index)
            }
        }
        return found
    }
}
