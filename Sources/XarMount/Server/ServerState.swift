import XarSystem
import struct SystemPackage.Errno

extension XarMount {
    /// The state file a FUSE server writes next to its mount point once mounted, for the launcher and `xarctl`.
    ///
    /// `key=value` lines, one per field, in this order:
    /// `pid`, `image`, `uuid`, `digest`, `mountpoint`, `started` (seconds since the epoch), `idle_timeout`,
    /// `lock`, `source` (where reads go: `source`, `copying N%`, `local copy`), `copy` (the local copy's path,
    /// empty until there is one; `xarctl gc` keeps copies that a live server names), `dev` (the mount's device
    /// number, `st_dev`; 0 when unknown: the launcher's proof that the mount point holds this server's mount, without
    /// a request to it), `image_id` (the served file's `dev-ino-size-ctime`: docs/lifecycle.md, "Identity").
    /// Unknown keys are ignored on
    /// reading, so later servers may add some. Written to a temporary name and renamed, so a reader sees a
    /// whole file or none; not fsynced, because it describes a mount that does not outlive a reboot either.
    public struct ServerState: Sendable, Equatable {
        /// The server's process id.
        public var pid: Int32
        /// The `.xar` path the server was started for.
        public var imagePath: String
        /// The image's `UUID`, empty when unknown.
        public var uuid: String
        /// The image's SHA-256, empty when unknown.
        public var digest: String
        /// The mount point.
        public var mountPoint: String
        /// When the mount went live, seconds since the epoch.
        public var started: Int64
        /// The idle grace period in seconds (0 = never unmount).
        public var idleTimeout: Double
        /// The lock file that pins the mount.
        public var lockPath: String
        /// Where reads are served from: `source` (the original file), `copying N%`, `local copy`.
        public var readSource: String
        /// The local copy reads are (or will be) served from, empty when there is none.
        public var copyPath: String
        /// The mount's device number (`st_dev` of the mount point once mounted), 0 when unknown.
        public var device: UInt64
        /// The identity of the file the server serves (`dev-ino-size-ctime`, `FileIdentity`), empty when unknown:
        /// a launch of the very same file joins the mount at once, any other file must prove the same digest.
        public var imageID: String

        /// A state with every field given.
        public init(
            pid: Int32, imagePath: String, uuid: String, digest: String, mountPoint: String, started: Int64,
            idleTimeout: Double, lockPath: String, readSource: String, copyPath: String = "", device: UInt64 = 0,
            imageID: String = ""
        ) {
            self.pid = pid
            self.imagePath = imagePath
            self.uuid = uuid
            self.digest = digest
            self.mountPoint = mountPoint
            self.started = started
            self.idleTimeout = idleTimeout
            self.lockPath = lockPath
            self.readSource = readSource
            self.copyPath = copyPath
            self.device = device
            self.imageID = imageID
        }

        /// The file's text.
        public var rendered: String {
            """
            pid=\(pid)
            image=\(imagePath)
            uuid=\(uuid)
            digest=\(digest)
            mountpoint=\(mountPoint)
            started=\(started)
            idle_timeout=\(idleTimeout)
            lock=\(lockPath)
            source=\(readSource)
            copy=\(copyPath)
            dev=\(device)
            image_id=\(imageID)

            """
        }

        /// Parses a state file's text; nil when `pid` or `mountpoint` is missing.
        public init?(parsing text: String) {
            var values: [Substring: Substring] = [:]
            for line in text.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                values[line[..<equals]] = line[line.index(after: equals)...]
            }
            guard let pid = values["pid"].flatMap({ Int32($0) }), let mountPoint = values["mountpoint"] else {
                return nil
            }
            self.init(
                pid: pid, imagePath: String(values["image"] ?? ""), uuid: String(values["uuid"] ?? ""),
                digest: String(values["digest"] ?? ""), mountPoint: String(mountPoint),
                started: values["started"].flatMap { Int64($0) } ?? 0,
                idleTimeout: values["idle_timeout"].flatMap { Double($0) } ?? 0,
                lockPath: String(values["lock"] ?? ""), readSource: String(values["source"] ?? ""),
                copyPath: String(values["copy"] ?? ""), device: values["dev"].flatMap { UInt64($0) } ?? 0,
                imageID: String(values["image_id"] ?? ""))
        }

        /// Reads and parses the state file at `path`; nil when it does not exist or is not a state file.
        public static func read(from path: String) -> ServerState? {
            guard let bytes = SmallFile.read(path, followSymlinks: false) else { return nil }
            return ServerState(parsing: String(decoding: bytes, as: UTF8.self))
        }

        /// Writes the file at `path` atomically: a temporary file next to it, then `rename`.
        public func write(to path: String) throws(ServerError) {
            do throws(SmallFile.WriteError) {
                try SmallFile.replace(path, with: Array(rendered.utf8))
            } catch {
                let step =
                    error.renaming
                    ? "cannot rename the state file to \(path)" : "cannot write the state file \(error.temporary)"
                throw .system(step, reason: Errno(rawValue: error.code).description)
            }
        }
    }
}
