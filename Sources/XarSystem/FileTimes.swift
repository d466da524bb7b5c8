internal import Glibc

/// A file's access and modification times to the nanosecond, read to be set back later: a rewrite that must not
/// look like a use (the server's state file, whose modification time records when its mount was last used).
public struct FileTimes: Sendable, Equatable {
    /// The last access: seconds since the epoch, and nanoseconds after them.
    public var access: (seconds: Int, nanoseconds: Int)
    /// The last modification: seconds since the epoch, and nanoseconds after them.
    public var modification: (seconds: Int, nanoseconds: Int)

    public static func == (a: FileTimes, b: FileTimes) -> Bool {
        a.access == b.access && a.modification == b.modification
    }
}

extension FileSystem {
    /// The access and modification times of `path` (symbolic links followed).
    ///
    /// The corresponding C function is `stat`.
    public static func times(_ path: String) throws(SystemError) -> FileTimes {
        let st = try status(path)
        return FileTimes(
            access: (Int(st.st_atim.tv_sec), Int(st.st_atim.tv_nsec)),
            modification: (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)))
    }

    /// Sets the access and modification times of `path` (a symbolic link's own, never its target's) to `times`,
    /// or to now when `times` is nil.
    ///
    /// The corresponding C function is `utimensat` with `AT_SYMLINK_NOFOLLOW`.
    public static func setTimes(_ path: String, to times: FileTimes? = nil) throws(SystemError) {
        let result: Int32
        if let times {
            let values = [
                timespec(tv_sec: times.access.seconds, tv_nsec: times.access.nanoseconds),
                timespec(tv_sec: times.modification.seconds, tv_nsec: times.modification.nanoseconds),
            ]
            result = utimensat(AT_FDCWD, path, values, AT_SYMLINK_NOFOLLOW)
        } else {
            result = utimensat(AT_FDCWD, path, nil, AT_SYMLINK_NOFOLLOW)
        }
        guard result == 0 else { throw SystemError(code: errno, "set the times of", path: path) }
    }
}
