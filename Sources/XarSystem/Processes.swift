internal import Glibc

/// This process's identity and other processes' existence: what the launcher and `xarctl` ask about processes
/// outside `/proc` (`ProcessStatus`, `ProcScan`).
public enum Processes {
    /// This process's id.
    ///
    /// The corresponding C function is `getpid`.
    public static var currentID: Int32 { getpid() }

    /// The user this process acts as (its effective user id).
    ///
    /// The corresponding C function is `geteuid`.
    public static var effectiveUserID: UInt32 { geteuid() }

    /// True while a process `pid` exists, ours to signal or not (a zombie counts until it is reaped).
    ///
    /// The corresponding C function is `kill` with signal 0: only `ESRCH` means there is none.
    public static func exists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Ends this process with `status`, after the handlers `atexit` registered (libc flushes its streams).
    ///
    /// The corresponding C function is `exit`.
    public static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }
}

/// Seconds on the wall clock, for times that are compared with file times and written to state files.
public enum WallClock {
    /// Seconds since the epoch.
    ///
    /// The corresponding C function is `time`.
    public static func now() -> Int64 { Int64(time(nil)) }
}
