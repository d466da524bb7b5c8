internal import Glibc

/// Seconds since the epoch, for comparing with file times (`FileStatus.modificationTime`).
public enum WallClock {
    /// The current time in whole seconds since the epoch.
    ///
    /// The corresponding C function is `clock_gettime` (`CLOCK_REALTIME`).
    public static func seconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec
    }
}
