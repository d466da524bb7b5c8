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

    /// The user who started this process (its real user id): not the effective one when it runs setuid.
    ///
    /// The corresponding C function is `getuid`.
    public static var realUserID: UInt32 { getuid() }

    /// The group this process acts as (its effective group id).
    ///
    /// The corresponding C function is `getegid`.
    public static var effectiveGroupID: UInt32 { getegid() }

    /// The group of the user who started this process (its real group id): not the effective one when it runs
    /// setgid.
    ///
    /// The corresponding C function is `getgid`.
    public static var realGroupID: UInt32 { getgid() }

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
