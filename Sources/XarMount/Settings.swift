internal import XarSystem

/// Every setting the runtime takes from the environment, read once per process and passed down.
///
/// The launcher reads these on every launch, so reading them is a handful of `getenv` calls and nothing more;
/// the server (the same executable as `xarfs`) reads its own copy once at start and hands the C server its
/// knobs through `FuseSession`. docs/settings.md has the table; keep it in step with this type.
public struct Settings: Sendable, Equatable {
    /// `XAR_MOUNT_ROOT`: the mount root to use instead of the defaults; nil when unset or empty.
    public var mountRoot: String?
    /// `XAR_MOUNT_TIMEOUT`: the idle seconds before a server unmounts, over the header's; nil when unset or bad.
    public var mountTimeout: Int?
    /// `XAR_LOCAL_COPY`: `always`, `never` or `network`, over the header's; nil when unset.
    public var localCopy: String?
    /// `XAR_LOCAL_COPY_DELAY`: seconds the local copy waits after the mount before it starts (default 0; negative
    /// is 0); tests use it to lose the source first.
    public var localCopyDelay: Double
    /// `XAR_VERIFY_DELAY`: seconds after the mount before the server hashes its image for the digest cache
    /// (default 1); negative: never.
    public var verifyDelay: Double
    /// `XAR_NETWORK_FS_TYPES`: more file system types to treat as network file systems (`statfs` magic numbers
    /// in hex, comma-separated); nil when unset.
    public var networkFileSystemTypes: String?
    /// `XAR_FUSE_DEVICE`: the FUSE device to check (default `/dev/fuse`; tests point it at a missing path).
    public var fuseDevice: String
    /// `XAR_QUIET=1`: no notice when an image runs from an extracted copy.
    public var quiet: Bool
    /// `XAR_SERVER_LOG`: the file a detached server appends its log lines to; nil: /dev/null.
    public var serverLog: String?
    /// `XAR_STARTUP_PLAN=0`: the server neither follows nor records a start-up plan.
    public var startupPlan: Bool
    /// `XAR_STARTUP_BLOCKS=0`: the server neither uses nor saves decompressed start-up blocks.
    public var startupBlocks: Bool
    /// `XAR_PREFETCH=0`: the server's read-ahead thread does not run.
    public var prefetch: Bool
    /// `XAR_NO_OPEN=0`: the server answers `open` and `opendir` instead of asking the kernel not to send them.
    public var noOpen: Bool
    /// `XAR_SERVER_TRACE=1`: the server logs every request.
    public var serverTrace: Bool
    /// `XAR_SERVER_FAULT=abort-on-lookup:NAME` (tests only): the server aborts when it looks `NAME` up.
    public var abortOnLookup: String?
    /// `XAR_RUNTIME_PATH`: colon-separated directories searched first for a thin image's runtime (docs/runtimes.md);
    /// empty entries are skipped.
    public var runtimePath: [String]
    /// `XDG_RUNTIME_DIR`: one of the default mount roots; nil when unset or empty.
    public var runtimeDirectory: String?
    /// `XDG_CACHE_HOME` when absolute, else `$HOME/.cache` when `HOME` is absolute: the user's cache directory.
    public var cacheHome: String?

    /// The settings `lookup` gives (the environment, or a test's dictionary); unset or malformed values are the
    /// defaults.
    public init(lookup: (String) -> String?) {
        func nonEmpty(_ name: String) -> String? { lookup(name).flatMap { $0.isEmpty ? nil : $0 } }
        mountRoot = nonEmpty("XAR_MOUNT_ROOT")
        mountTimeout = lookup("XAR_MOUNT_TIMEOUT").flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        localCopy = lookup("XAR_LOCAL_COPY")
        localCopyDelay = lookup("XAR_LOCAL_COPY_DELAY").flatMap { Double($0) }.map { max(0, $0) } ?? 0
        networkFileSystemTypes = lookup("XAR_NETWORK_FS_TYPES")
        verifyDelay = lookup("XAR_VERIFY_DELAY").flatMap { Double($0) } ?? 1
        fuseDevice = lookup("XAR_FUSE_DEVICE") ?? "/dev/fuse"
        quiet = lookup("XAR_QUIET") == "1"
        serverLog = lookup("XAR_SERVER_LOG")
        startupPlan = lookup("XAR_STARTUP_PLAN") != "0"
        startupBlocks = startupPlan && lookup("XAR_STARTUP_BLOCKS") != "0"
        prefetch = lookup("XAR_PREFETCH") != "0"
        noOpen = lookup("XAR_NO_OPEN") != "0"
        serverTrace = lookup("XAR_SERVER_TRACE") == "1"
        let fault = lookup("XAR_SERVER_FAULT") ?? ""
        abortOnLookup = fault.hasPrefix("abort-on-lookup:") ? String(fault.dropFirst("abort-on-lookup:".count)) : nil
        runtimePath = (lookup("XAR_RUNTIME_PATH") ?? "").split(separator: ":").map(String.init)
        runtimeDirectory = nonEmpty("XDG_RUNTIME_DIR")
        if let xdg = lookup("XDG_CACHE_HOME"), xdg.hasPrefix("/") {
            cacheHome = xdg
        } else if let home = lookup("HOME"), home.hasPrefix("/") {
            cacheHome = home + "/.cache"
        } else {
            cacheHome = nil
        }
    }

    /// The settings in the process's environment, read now.
    public static func fromEnvironment() -> Settings { Settings(lookup: Environment.value) }

    /// The process's settings, read from its environment once, on first use. The server hands them down from
    /// its start (to `FuseSession`, the start-up plan, the copier, the verifier); the launcher's steps and
    /// `xarctl`'s operations, reached from many entry points, take them from here.
    public static let current = fromEnvironment()
}
