internal import struct SystemPackage.Errno

/// Why the launcher could not run a `.xar`; each case has its own exit status so a caller can tell the
/// launcher's failures from the application's own (which uses 0–117, 126–127 or 128 + signal by convention).
///
/// | status | meaning |
/// | --- | --- |
/// | 64 | usage: no `.xar` given, unknown option |
/// | 118 | a thin image's runtime is missing or is not the one its header names (`RuntimeLocator`) |
/// | 119 | the host is older than the image's recorded floor (glibc or kernel; `HostFloor`) |
/// | 120 | the file is not a usable `.xar` (missing, unreadable, bad header, truncated or corrupt image) |
/// | 121 | the mount root or a directory or lock file under it is unsafe or unusable |
/// | 122 | FUSE is unavailable and the extraction fallback failed |
/// | 123 | the FUSE server failed to start or to mount |
/// | 124 | the mount is stuck: a stopped server or a lock held for too long |
/// | 125 | the target could not be executed |
public struct LaunchError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the exit status.
    public enum Kind: Int32, Sendable {
        case usage = 64
        case runtimeMissing = 118
        case hostTooOld = 119
        case badImage = 120
        case unsafePath = 121
        case noFuse = 122
        case serverFailed = 123
        case stuck = 124
        case execFailed = 125
    }

    /// The kind, which decides the exit status.
    public var kind: Kind
    /// One sentence naming the file, the cause and the fix.
    public var message: String

    /// Creates an error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The process exit status for this error.
    public var exitStatus: Int32 { kind.rawValue }

    /// `message`.
    public var description: String { message }
}
