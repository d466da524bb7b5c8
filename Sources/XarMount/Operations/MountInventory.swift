internal import XarSystem

/// Every `.xar` mount of this user (of every user, for root): the mount roots' `uid-<uid>` directories walked
/// entry by entry, joined with the mount table and the servers' state files.
///
/// It uses the launcher's own rules (`MountLocation` for the roots, `ServerState`, `MountTable.isDead`,
/// `ProcessStatus`, `ProcScan`), never a second copy of them, and it never touches a mount before it knows the
/// server is not stopped: everything it needs comes from `/proc`, the state file and one `statfs` asked by a child process within a
/// bound (`MountTable.answer(of:)`).
public enum MountInventory {
    /// The mount roots searched: `$XAR_MOUNT_ROOT` when set (then only it), else the launcher's defaults
    /// (`/mnt/xarfuse`, `$XDG_RUNTIME_DIR`, `/dev/shm`); without `XAR_MOUNT_ROOT`, mounts under a header's own
    /// `MOUNT_ROOT` are found through the mount table too.
    public static func roots() -> [String] {
        if let explicit = Settings.current.mountRoot { return [explicit] }
        return MountLocation.defaultRoots()
    }

    /// A user directory to look in.
    struct UserDirectory: Hashable {
        /// Its canonical path.
        var path: String
        /// The uid in its name.
        var uid: UInt32
    }

    /// All mounts and leftovers, sorted by mount point; `users` and `idleSeconds` are filled in only when
    /// `withUsers` (a pass over every process in `/proc`).
    public static func records(withUsers: Bool = true) -> [MountRecord] {
        let info = MountInfo.current()
        var result: [MountRecord] = []
        for directory in userDirectories(info) {
            for name in managedNames(in: directory.path) {
                result.append(record(name: name, in: directory, info: info))
            }
        }
        linkRuntimes(&result, info: info)
        // One pass over /proc for every mount: reading each process's maps once per mount would take seconds.
        let mounted = result.filter { $0.status != .leftover }.map(\.mountPoint)
        guard withUsers else { return result.sorted { $0.mountPoint < $1.mountPoint } }
        let usage = mounted.isEmpty ? [:] : ProcScan.users(ofAny: mounted)
        for index in result.indices {
            result[index].users = (usage[result[index].mountPoint] ?? []).map(describe)
            // A server with idle timeout 0 runs no usage monitor, so nothing records its last use.
            if result[index].status == .live, result[index].users.isEmpty, !result[index].pinned,
                result[index].idleTimeout != 0
            {
                result[index].idleSeconds = max(0, Int(WallClock.now() - result[index].lastUse))
            }
        }
        return result.sorted { $0.mountPoint < $1.mountPoint }
    }

    /// The record for the mount point `path` (spelled any way that resolves to the same place), or nil; without
    /// its users.
    public static func record(at path: String) -> MountRecord? {
        let wanted = ProcScan.canonical(path)
        return records(withUsers: false).first { $0.mountPoint == wanted }
    }

    /// The user directories under the roots that this user may look at, plus, unless `XAR_MOUNT_ROOT` narrows
    /// the search to one root, the parents of every `xarfs` mount in the table (images with their own
    /// `MOUNT_ROOT`).
    static func userDirectories(_ info: MountInfo) -> [UserDirectory] {
        let me = Processes.effectiveUserID
        var found = Set<UserDirectory>()
        func consider(_ path: String) {
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            guard name.hasPrefix("uid-"), let uid = UInt32(name.dropFirst(4)), me == 0 || uid == me else { return }
            guard let status = try? FileSystem.fileStatus(path, followSymlinks: false), status.kind == .directory,
                status.uid == uid
            else { return }
            found.insert(UserDirectory(path: ProcScan.canonical(path), uid: uid))
        }
        for root in roots() {
            let base = root.hasSuffix("/") ? String(root.dropLast()) : root
            if me == 0 {
                forEachEntry(of: base) { consider(base + "/" + $0) }
            } else {
                consider(base + "/uid-\(me)")
            }
        }
        let narrowed = Settings.current.mountRoot != nil
        for mountPoint in narrowed ? [] : info.xarfsMountPoints {
            guard let slash = mountPoint.lastIndex(of: "/") else { continue }
            consider(String(mountPoint[..<slash]))
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The mount names in `directory`: `<hex UUID>-ns-<digits>` (or a bare UUID), from the mount directory itself
    /// or its `.lock`, `.state`, `.pin` siblings. Anything else in the directory is not ours to judge.
    static func managedNames(in directory: String) -> [String] {
        var names = Set<String>()
        forEachEntry(of: directory) { entry in
            var base = Substring(entry)
            for suffix in [".lock", ".state", ".pin"] where base.hasSuffix(suffix) {
                base = base.dropLast(suffix.count)
                break
            }
            if isMountName(base) { names.insert(String(base)) }
        }
        return names.sorted()
    }

    /// True for `<hex>-ns-<digits>` or `<hex>`, the names `MountLocation` gives mount points.
    static func isMountName(_ name: Substring) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        let isHex = { (part: Substring) in !part.isEmpty && part.allSatisfy { $0.isHexDigit && !$0.isUppercase } }
        if parts.count == 1 { return isHex(parts[0]) }
        return parts.count == 3 && isHex(parts[0]) && parts[1] == "ns" && !parts[2].isEmpty
            && parts[2].allSatisfy(\.isNumber)
    }

    /// Builds the record of `name` in `directory`.
    static func record(name: String, in directory: UserDirectory, info: MountInfo) -> MountRecord {
        let mountPoint = directory.path + "/" + name
        var files: [String] = []
        var stateTime: Int64?
        for suffix in ["", ".lock", ".state", ".pin"] {
            guard let status = try? FileSystem.fileStatus(mountPoint + suffix, followSymlinks: false) else { continue }
            files.append(suffix.isEmpty ? "dir" : String(suffix.dropFirst()))
            if suffix == ".state" { stateTime = Int64(status.modificationTime) }
        }
        let state = XarMount.ServerState.read(from: mountPoint + ".state")
        let pinned = files.contains("pin")
        var record = MountRecord(
            name: name, mountPoint: mountPoint, uid: directory.uid, status: .leftover,
            image: state?.imagePath ?? "", uuid: state?.uuid ?? String(name.split(separator: "-").first ?? ""),
            digest: state?.digest ?? "", serverPid: state?.pid, started: state?.started,
            idleTimeout: state?.idleTimeout, readSource: state?.readSource ?? "", users: [], pinned: pinned,
            idleSeconds: nil, files: files)
        guard let entry = info.entries[mountPoint] else { return record }
        guard entry.type == "fuse.xarfs" else {
            record.status = .foreign
            return record
        }
        if record.image.isEmpty, entry.source.hasPrefix("xarfs:") { record.image = String(entry.source.dropFirst(6)) }
        // The state file's pid first (nothing touches the mount); then, whatever state the server or its files are
        // in, a bounded question in a child process: a stuck mount never blocks the listing of the others.
        if let pid = state?.pid, ProcessStatus.read(pid: pid)?.state == .stopped {
            record.status = .stopped
        } else {
            switch XarMount.MountTable.answer(of: mountPoint) {
            case .dead: record.status = .dead
            case .noAnswer: record.status = .stopped
            case .alive, .failed: record.status = .live
            }
        }
        record.lastUse = stateTime ?? state?.started ?? WallClock.now()
        return record
    }

    /// Fills in `runtime`, `runtimeMount` and `dependents`: each live mount's image header is read (one `pread`)
    /// for the runtime it names, when the file there is still the image mounted (the digests agree); that
    /// runtime's live mount of the same owner is the one whose state records its digest.
    ///
    /// An image on a network or FUSE file system is read only through its local copy once the server serves from
    /// it: opening a file of a network file system whose server is gone can block without bound, and one such
    /// mount must never hang the listing of the others. Such a mount shows no dependency until its copy is in.
    static func linkRuntimes(_ records: inout [MountRecord], info: MountInfo) {
        for index in records.indices where records[index].status == .live && !records[index].image.isEmpty {
            var path = records[index].image
            if info.isOnNetworkFileSystem(path) {
                let state = XarMount.ServerState.read(from: records[index].mountPoint + ".state")
                guard let copy = state?.copyPath, !copy.isEmpty, records[index].readSource == "local copy",
                    !info.isOnNetworkFileSystem(copy)
                else { continue }
                path = copy
            }
            guard let image = try? LaunchImage.open(path),
                let header = try? Launcher.readHeader(image, path: path),
                let runtime = header.runtime, header.digest == records[index].digest
            else { continue }
            records[index].runtime = runtime.digest
        }
        for index in records.indices where !records[index].runtime.isEmpty {
            guard
                let provider = records.indices.first(where: {
                    records[$0].status == .live && records[$0].uid == records[index].uid
                        && records[$0].digest == records[index].runtime
                })
            else { continue }
            records[index].runtimeMount = records[provider].mountPoint
            records[provider].dependents.append(records[index].mountPoint)
        }
        for index in records.indices { records[index].dependents.sort() }
    }

    /// The processes using the tree at `path` (canonical), with their command names.
    public static func users(of path: String) -> [MountRecord.User] {
        ProcScan.users(of: path).map(describe)
    }

    /// A `/proc` user with its command name.
    static func describe(_ user: ProcScan.User) -> MountRecord.User {
        MountRecord.User(
            pid: user.pid, command: ProcessStatus.read(pid: user.pid)?.name ?? "?", uses: user.uses.map(\.description))
    }

    /// Calls `body` with each name in `directory` but `.` and `..`.
    static func forEachEntry(of directory: String, _ body: (String) -> Void) {
        guard let names = try? FileSystem.entryNames(directory) else { return }
        for name in names { body(String(decoding: name, as: UTF8.self)) }
    }
}
