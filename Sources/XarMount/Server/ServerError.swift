extension XarMount {
    /// Why the FUSE server could not start or could not unmount; each message is one sentence naming the path.
    public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The command line is wrong (a launcher bug, or a person running `xarfs` by hand).
        case usage(String)
        /// The image cannot be served: `path`, then why (from the superblock checks or libsquashfuse).
        case badImage(path: String, reason: String)
        /// libfuse could not mount: the mount point, then libfuse's reason.
        case mountFailed(mountPoint: String, reason: String)
        /// A system call failed: what we were doing (naming the path), and errno's text.
        case system(String, reason: String)

        public var description: String {
            switch self {
            case .usage(let message):
                "usage: \(message); expected: xarfs IMAGE_PATH --image-fd N --offset BYTES --mountpoint DIR "
                    + "--lock PATH --state PATH --idle-timeout SECONDS --ready-fd N [--digest HEX] [--uuid HEX]"
            case .badImage(let path, let reason): "cannot serve \(path): \(reason)"
            case .mountFailed(let mountPoint, let reason): "cannot mount on \(mountPoint): \(reason)"
            case .system(let what, let reason): "\(what): \(reason)"
            }
        }

        /// The exit status for this error (sysexits.h): 64 usage, 65 bad image, 69 mount unavailable, 71 system.
        public var exitStatus: Int32 {
            switch self {
            case .usage: 64
            case .badImage: 65
            case .mountFailed: 69
            case .system: 71
            }
        }
    }
}
