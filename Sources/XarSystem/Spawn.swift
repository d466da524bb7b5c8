public import Glibc
public import SystemPackage

/// Starting child processes with `posix_spawn`: no Swift code runs between `fork` and `exec`.
public enum Spawn {
    /// Starts `path` with `arguments` (including `argv[0]`) and this environment, with standard input, output
    /// and error on `/dev/null` and, of the launcher's descriptors, only `inherit` kept open (at their numbers).
    ///
    /// Signal mask and dispositions are reset so the child does not inherit the caller's. The child is not
    /// waited for; the caller reaps it.
    public static func detached(path: String, arguments: [String], inherit: [Int32]) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // dup2 onto itself clears FD_CLOEXEC (glibc ≥ 2.29), which is how an O_CLOEXEC descriptor is passed on.
        for fd in inherit { posix_spawn_file_actions_adddup2(&actions, fd, fd) }
        return try spawn(path: path, arguments: arguments, actions: &actions)
    }

    /// Runs `path` with `arguments` and the caller's standard descriptors, and waits for it; returns the raw
    /// wait status.
    ///
    /// The corresponding C functions are `posix_spawn` and `waitpid`.
    public static func run(path: String, arguments: [String]) throws(Errno) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let pid = try spawn(path: path, arguments: arguments, actions: &actions)
        return try wait(pid)
    }

    /// Waits for the child `pid` to end and returns its raw wait status.
    ///
    /// The corresponding C function is `waitpid`.
    public static func wait(_ pid: pid_t) throws(Errno) -> Int32 {
        var status: Int32 = 0
        _ = try retryingEINTR { waitpid(pid, &status, 0) }
        return status
    }

    /// The raw wait status of the child `pid` if it has ended (and is reaped now), nil while it runs.
    ///
    /// The corresponding C function is `waitpid` with `WNOHANG`.
    public static func waitIfEnded(_ pid: pid_t) throws(Errno) -> Int32? {
        var status: Int32 = 0
        let done = try retryingEINTR { waitpid(pid, &status, WNOHANG) }
        return done == pid ? status : nil
    }

    private static func spawn(
        path: String, arguments: [String], actions: inout posix_spawn_file_actions_t
    ) throws(Errno) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        if rc != 0 { throw Errno(rawValue: rc) }
        return pid
    }
}
