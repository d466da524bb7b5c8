/// One `.xar` mount (or what is left of one) under a user directory of a mount root, as `xarctl list` shows
/// it and `xarctl gc` judges it.
///
/// Built by `MountInventory` from the mount table (`/proc/self/mountinfo`), the server's state file, the
/// `<mount>.pin` marker and a `/proc` scan for users. Codable so that `xarctl list --json` prints it as is.
public struct MountRecord: Sendable, Codable, Equatable {
    /// What the mount point is.
    public enum Status: String, Sendable, Codable {
        /// Mounted by a running `xarfs` server.
        case live
        /// Mounted, but the server is gone ("Transport endpoint is not connected").
        case dead
        /// Mounted by a server that is stopped (SIGSTOP) or did not answer within a bound: touching the mount would
        /// block, so nothing does.
        case stopped
        /// Not mounted: a mount directory, lock, state or pin file left behind.
        case leftover
        /// Something other than our server is mounted there: never touched.
        case foreign
    }

    /// A process that uses the mount.
    public struct User: Sendable, Codable, Equatable {
        /// Its process id.
        public var pid: Int32
        /// Its command name (`/proc/PID/comm`).
        public var command: String
        /// How it uses the mount: `cwd`, `root`, `fd N`, `mmap`.
        public var uses: [String]
    }

    /// The mount point's name in its user directory (`<UUID>-ns-<mntns>`).
    public var name: String
    /// The mount point's path, canonical (as `/proc/self/mountinfo` spells it).
    public var mountPoint: String
    /// The owner's uid, from the user directory's name `uid-<uid>`.
    public var uid: UInt32
    /// What is there.
    public var status: Status
    /// The `.xar` the server was started for (empty without a state file).
    public var image: String
    /// The image identity (`UUID`), from the state file, else from the name.
    public var uuid: String
    /// The image's SHA-256, when known.
    public var digest: String
    /// The server's process id, when known.
    public var serverPid: Int32?
    /// When the mount went live, seconds since the epoch.
    public var started: Int64?
    /// The server's idle grace period in seconds (0 = never).
    public var idleTimeout: Double?
    /// Where reads are served from: `source`, `copying N%`, `local copy`.
    public var readSource: String
    /// The processes using the mount now.
    public var users: [User]
    /// True while `<mount>.pin` exists (`xarctl mount --pin`): the server does not unmount it when idle.
    public var pinned: Bool
    /// Seconds since the mount was last seen in use; nil while it is in use or pinned, when not mounted, and for
    /// servers with idle timeout 0 (they track no use).
    public var idleSeconds: Int?
    /// Which of the mount directory, `.lock`, `.state`, `.pin` exist.
    public var files: [String]
    /// When the mount was last seen in use (the state file's modification time, which the server sets when
    /// its last user goes), seconds since the epoch; 0 when unknown.
    public var lastUse: Int64 = 0
    /// For a mount of a thin image (docs/runtimes.md): the SHA-256 of the runtime its header's `DEPENDENCIES`
    /// names; empty for other images and when the image file is gone or no longer the one mounted.
    public var runtime: String = ""
    /// The live mount of that runtime (same owner, the digest its state file records), empty when none is live.
    public var runtimeMount: String = ""
    /// For a runtime's mount: the mount points of the live mounts of thin images that run on it.
    public var dependents: [String] = []
}
