internal import XarSystem

/// `xarctl unmount`: takes one mount (named by its `.xar` or its path) away, holding the image's lock
/// exclusively as the server does, and refuses while any process uses it unless forced.
public enum MountRemover {
    /// The longest `unmount` waits for the image's lock (a launch holds it only for milliseconds).
    static let lockTimeout = 15.0

    /// Finds the mount that `target` names: a mount path, or a `.xar` whose mount in this namespace is wanted.
    public static func find(_ target: String) throws(OperationError) -> MountRecord {
        let canonicalPath = ProcScan.canonical(target)
        let parent = canonicalPath.split(separator: "/").dropLast().last.map(String.init) ?? ""
        let me = Processes.effectiveUserID
        if parent.hasPrefix("uid-"), let uid = UInt32(parent.dropFirst(4)), uid != me, me != 0 {
            throw OperationError(
                "\(target) belongs to uid \(uid), not to you (uid \(me)); only its owner or root can unmount it")
        }
        if let record = MountInventory.record(at: target) { return record }
        guard let status = try? FileSystem.fileStatus(target), status.kind == .regular else {
            throw OperationError("\(target) is neither a .xar file nor a .xar mount; see xarctl list")
        }
        let header: LaunchHeader
        do {
            let image = try FileDescriptor.open(target, .readOnly)
            header = try Launcher.readHeader(image, path: target)
        } catch let error as LaunchError {
            throw OperationError(error)
        } catch {
            throw OperationError("cannot open \(target): \(error)")
        }
        let name = MountNamespace.current().map { "\(header.uuid)-ns-\($0)" } ?? header.uuid
        guard
            let record = MountInventory.records(withUsers: false).first(where: {
                $0.name == name && $0.uid == me
            })
        else {
            throw OperationError(
                "\(target) is not mounted (no \(name) under \(MountInventory.roots().joined(separator: ", ")))")
        }
        return record
    }

    /// Unmounts `record`'s mount and removes its state, pin and directory; returns what was there.
    ///
    /// Without `force` it refuses while any process uses the mount (naming them), and unmounts without
    /// `MNT_DETACH`, so the kernel's EBUSY catches a user that arrives at the last moment. With `force` it
    /// detaches lazily: the mount leaves the tree at once and goes away when its last user does.
    public static func unmount(_ record: MountRecord, force: Bool) throws(OperationError) {
        if record.status == .foreign {
            throw OperationError("\(record.mountPoint) is not a .xar mount (another file system is mounted there)")
        }
        guard
            let lock = try? FileDescriptor.open(
                record.mountPoint + ".lock", .readWrite, options: [.create, .noFollow], permissions: 0o600)
        else { throw OperationError("cannot open \(record.mountPoint).lock; check its owner and mode") }
        // Root unmounting a user's mount: a lock file it had to create must be the user's, or their launcher
        // would refuse it.
        if let status = try? lock.fileStatus(), status.uid == Processes.effectiveUserID, status.uid != record.uid {
            _ = try? lock.changeOwner(uid: record.uid, gid: status.gid)
        }
        let locked = FileLock(file: lock)
        guard (try? locked.lock(.exclusive, timeout: lockTimeout)) == true else {
            throw OperationError(
                "\(record.mountPoint).lock stayed locked for \(Int(lockTimeout)) s; find the holder with fuser -v on it"
            )
        }
        if !force && record.status != .leftover {
            let users = MountInventory.users(of: record.mountPoint)
            if !users.isEmpty {
                let list = users.map { "pid \($0.pid) (\($0.command): \($0.uses.joined(separator: ", ")))" }
                throw OperationError(
                    "\(record.mountPoint) is in use by \(list.joined(separator: ", ")); end them first, or detach it "
                        + "lazily with --force")
            }
        }
        do {
            switch record.status {
            case .live, .stopped: try XarMount.MountTable.unmount(record.mountPoint, lazy: force)
            case .dead: try XarMount.MountTable.removeDeadMount(record.mountPoint)
            case .leftover, .foreign: break
            }
        } catch {
            throw OperationError("\(error); a process started using it just now, or try --force")
        }
        removeLeftovers(of: record.mountPoint)
    }

    /// Removes the pin, the state file and the (now empty, unmounted) mount directory; the caller holds the
    /// image's lock. The lock file stays: launchers may have it open.
    static func removeLeftovers(of mountPoint: String) {
        try? FileSystem.removeFile(mountPoint + ".pin")
        try? FileSystem.removeFile(mountPoint + ".state")
        try? FileSystem.removeDirectory(mountPoint)
    }
}
