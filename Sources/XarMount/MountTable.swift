internal import CXarFuse
internal import XarSystem
internal import struct SystemPackage.Errno

extension XarMount {
    /// Finding and removing mounts whose FUSE server is gone, and unmounting ours: as root with `umount2`,
    /// as a user through the setuid `fusermount3` (the only way an unprivileged user can unmount).
    ///
    /// A server killed with SIGKILL leaves its mount behind: every access then fails with ENOTCONN
    /// ("Transport endpoint is not connected") until someone unmounts it. The launcher and `xarctl` call
    /// `isDead` and `removeDeadMount` before mounting afresh. Check the server's process first
    /// (`ProcessStatus.read(pid:)` with the state file's pid): on the mount of a *stopped* server, `stat`
    /// blocks until the server continues.
    public enum MountTable {
        /// What a mount's server says to a `statfs`.
        public enum Answer: Sendable, Equatable {
            /// It answered.
            case alive
            /// It is gone: ENOTCONN ("Transport endpoint is not connected"), or ECONNABORTED after an abort through
            /// /sys/fs/fuse/connections.
            case dead
            /// It did not answer within the bound: stopped, or stuck.
            case noAnswer
            /// Any other failure (no such directory, not a mount we may look at).
            case failed
        }

        /// How long `answer(of:)` waits for a server.
        public static let answerTimeout = 2.0

        /// Asks the server of the mount at `path` with `statfs`, in a child process killed after `timeout` seconds,
        /// so that a stopped or stuck server never blocks the caller (and one stuck mount never blocks `xarctl` for
        /// the others). `statfs`, not `stat`: our mounts cache attributes forever, so `stat` of a dead mount's root
        /// can still succeed from the cache, while `statfs` always asks the server.
        public static func answer(of path: String, timeout: Double = answerTimeout) -> Answer {
            switch xar_probe_statfs(path, Int32(timeout * 1000)) {
            case Int32(XAR_PROBE_ALIVE): .alive
            case Int32(XAR_PROBE_DEAD): .dead
            case Int32(XAR_PROBE_NO_ANSWER): .noAnswer
            default: .failed
            }
        }

        /// True when `path` is a mount whose FUSE server has gone away (see `answer(of:)`; bounded).
        public static func isDead(_ path: String) -> Bool { answer(of: path) == .dead }

        /// Detaches the dead mount at `path` (lazily: nothing can be using a dead mount anyway).
        public static func removeDeadMount(_ path: String) throws(ServerError) {
            try unmount(path, lazy: true)
        }

        /// Unmounts the FUSE mount at `path`.
        ///
        /// Without `lazy`, the kernel refuses (EBUSY) while any process has a file open, a mapping, or its
        /// working directory inside: the server relies on that as the final, race-free check before an idle
        /// unmount. With `lazy` the mount is detached at once and goes away when its last user does.
        /// The corresponding C calls are `umount2` (root) and `fusermount3 -u [-z]`.
        public static func unmount(_ path: String, lazy: Bool) throws(ServerError) {
            if Processes.effectiveUserID == 0 {
                do { try Unmount.unmount(path, detach: lazy) } catch {
                    throw .system("cannot unmount \(path)", reason: error.description)
                }
                return
            }
            let status = try runFusermount(["-u", "-q"] + (lazy ? ["-z"] : []) + ["--", path])
            guard status == 0 else {
                throw .system("cannot unmount \(path)", reason: "fusermount3 -u exited with status \(status)")
            }
        }

        /// The places libfuse itself looks for `fusermount3`, then `PATH`.
        private static let fusermountPaths = ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"]

        /// Runs `fusermount3 arguments` and returns its exit status (128 + signal when killed).
        private static func runFusermount(_ arguments: [String]) throws(ServerError) -> Int32 {
            let program = fusermountPaths.first { FileSystem.isExecutable($0) } ?? "fusermount3"
            do { return try Spawn.run(program: program, arguments: arguments) } catch {
                throw .system("cannot run \(program)", reason: error.description)
            }
        }
    }
}
