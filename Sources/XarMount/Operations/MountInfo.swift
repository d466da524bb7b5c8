internal import XarSystem

/// The mount table as this process sees it (`/proc/self/mountinfo`): which paths are mount points and of which
/// file system type, read without touching any mount (so a stopped FUSE server cannot block us).
struct MountInfo {
    /// One mount: its file system type (`fuse.xarfs` for ours) and source (`xarfs:IMAGE`).
    struct Entry {
        var type: String
        var source: String
    }

    /// Mount point → entry; a path mounted more than once keeps the last (topmost) entry.
    var entries: [String: Entry] = [:]

    /// Reads `/proc/self/mountinfo`.
    ///
    /// Line format (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER`;
    /// spaces, tabs, newlines and backslashes in paths are written as `\ooo` octal escapes.
    static func current() -> MountInfo {
        var info = MountInfo()
        for line in SmallFile.text("/proc/self/mountinfo").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { continue }
            info.entries[unescape(fields[4])] = Entry(
                type: String(fields[dash + 1]), source: unescape(fields[dash + 2]))
        }
        return info
    }

    /// True when `path` (absolute, canonical) lies on a file system whose files can hang or vanish while open: a
    /// network or cluster file system, or any FUSE file system (sshfs, bindfs, ours). Judged from the table alone,
    /// by the deepest mount point above `path`, so nothing on that file system is touched.
    func isOnNetworkFileSystem(_ path: String) -> Bool {
        var best: (point: String, entry: Entry)?
        for (point, entry) in entries
        where path == point || point == "/" || path.hasPrefix(point.hasSuffix("/") ? point : point + "/") {
            if best == nil || point.count > best!.point.count { best = (point, entry) }
        }
        guard let type = best?.entry.type else { return true }
        return type.hasPrefix("fuse") || Self.networkTypes.contains(type)
    }

    /// File system types (as the mount table names them) whose files can hang or vanish while open.
    static let networkTypes: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "lustre", "afs", "gpfs", "glusterfs", "coda", "ncpfs",
        "gfs2", "ocfs2", "sshfs", "davfs",
    ]

    /// The mount points of our servers (`fuse.xarfs`).
    var xarfsMountPoints: [String] {
        entries.filter { $0.value.type == "fuse.xarfs" }.map(\.key)
    }

    /// Undoes the kernel's `\ooo` escapes.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 4 <= raw.count,
                let value = UInt8(String(decoding: raw[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
