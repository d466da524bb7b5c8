internal import Glibc
public import SystemPackage

/// Taking a mount away as root: the one caller of `umount2`. (Users unmount through the setuid `fusermount3`,
/// which `Spawn.run(program:arguments:)` runs.)
public enum Unmount {
    /// Unmounts the file system at `path`, never through a symbolic link in its last component. Without
    /// `detach` the kernel refuses with `EBUSY` while anything uses the mount; with it, the mount leaves the
    /// tree at once and goes away when its last user does.
    ///
    /// The corresponding C function is `umount2` with `UMOUNT_NOFOLLOW` (and `MNT_DETACH`).
    public static func unmount(_ path: String, detach: Bool) throws(Errno) {
        let flags = (detach ? Int32(MNT_DETACH) : 0) | Int32(UMOUNT_NOFOLLOW)
        _ = try retryingEINTR { umount2(path, flags) }
    }
}

extension Spawn {
    /// Runs `program` (a path, or a name looked up in `PATH`) with `arguments` after it and the caller's standard
    /// descriptors, and waits for it; returns its exit status, 128 + the signal's number when a signal ended it.
    ///
    /// The corresponding C functions are `posix_spawnp` and `waitpid`.
    public static func run(program: String, arguments: [String]) throws(Errno) -> Int32 {
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, nil, nil, argv, environ)
        guard spawned == 0 else { throw Errno(rawValue: spawned) }
        let status = try wait(pid)
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
