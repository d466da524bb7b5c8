internal import Glibc
internal import XarSystem

/// Removing what a server that died without unmounting left behind: a mount that answers ENOTCONN, and its
/// state file.
enum DeadMount {
    /// Detaches the mount at `location` (lazily, so it cannot block) and removes the stale state file.
    ///
    /// Root detaches with `umount2(MNT_DETACH)`; other users go through `fusermount3 -u -z`, the only way they
    /// may unmount. Being unable to is an error naming the command to run by hand.
    static func clean(_ location: borrowing MountLocation) throws(LaunchError) {
        let path = location.mountPoint
        var detached = false
        if geteuid() == 0 {
            detached = umount2(path, Int32(MNT_DETACH)) == 0 || errno == EINVAL || errno == ENOENT
        } else if let fusermount = FuseAvailability.fusermount3() {
            let status = try? Spawn.run(path: fusermount, arguments: ["fusermount3", "-u", "-z", "-q", path])
            detached = status == 0 || !isMountPoint(location)
        }
        guard detached else {
            throw LaunchError(
                .stuck, "cannot remove the dead mount at \(path); run fusermount3 -u -z \(path) and try again")
        }
        _ = unlinkat(location.userDirectory.rawValue, location.stateName, 0)
    }

    /// True when something is still mounted on the mount point (its device differs from its parent's).
    private static func isMountPoint(_ location: borrowing MountLocation) -> Bool {
        var here = stat()
        var parent = stat()
        guard fstatat(location.userDirectory.rawValue, location.name, &here, AT_SYMLINK_NOFOLLOW) == 0 else {
            return errno == ENOTCONN
        }
        guard fstat(location.userDirectory.rawValue, &parent) == 0 else { return true }
        return here.st_dev != parent.st_dev
    }
}
