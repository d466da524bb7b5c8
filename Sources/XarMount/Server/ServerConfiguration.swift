extension XarMount.Server {
    /// What the launcher tells a server to do, parsed from (and rendered to) its command line.
    ///
    /// `xarfs IMAGE_PATH --image-fd N --offset BYTES --mountpoint DIR --lock PATH --state PATH
    /// --idle-timeout SECONDS --ready-fd N [--digest HEX] [--uuid HEX] [--local-copy always|never|network]
    /// [--cache-dir DIR]`. The image path comes first so that
    /// `ps` shows what a server serves; the image itself is the inherited descriptor `--image-fd`, so a rename
    /// of the path never changes what is served.
    public struct Configuration: Sendable, Equatable {
        /// The `.xar` path, for `ps`, the file system name and messages; never opened by the server.
        public var imagePath: String
        /// The inherited, open descriptor of the image; every read goes through it.
        public var imageFD: Int32
        /// Where the SquashFS image starts in the file (the header's `OFFSET`).
        public var offset: UInt64
        /// The directory to mount on; it exists and belongs to the user.
        public var mountPoint: String
        /// The image's lock file: the launcher holds it shared while it pins the mount, the server takes it
        /// exclusively before an idle unmount.
        public var lockPath: String
        /// The state file the server writes once mounted (see `ServerState`).
        public var statePath: String
        /// Seconds without any user before the server unmounts; 0 = never.
        public var idleTimeout: Double
        /// The write end of the readiness pipe: `ok\n`, or one line `error: ...\n`.
        public var readyFD: Int32
        /// The image's SHA-256 (`XAR_IMAGE_SHA256`), lowercase hex, when the header has one.
        public var digest: String?
        /// The image's identity (`UUID`).
        public var uuid: String?
        /// When to copy the image to local disk and serve from the copy (`XAR_LOCAL_COPY`); see `LocalCopier`.
        public var localCopy: XarMount.LocalCopyPolicy
        /// Where local copies go; nil for the default, `images/` next to the mount point (see `LocalCopier`).
        public var cacheDirectory: String?

        /// A configuration with every field given.
        public init(
            imagePath: String, imageFD: Int32, offset: UInt64, mountPoint: String, lockPath: String,
            statePath: String, idleTimeout: Double, readyFD: Int32, digest: String? = nil, uuid: String? = nil,
            localCopy: XarMount.LocalCopyPolicy = .network, cacheDirectory: String? = nil
        ) {
            self.imagePath = imagePath
            self.imageFD = imageFD
            self.offset = offset
            self.mountPoint = mountPoint
            self.lockPath = lockPath
            self.statePath = statePath
            self.idleTimeout = idleTimeout
            self.readyFD = readyFD
            self.digest = digest
            self.uuid = uuid
            self.localCopy = localCopy
            self.cacheDirectory = cacheDirectory
        }

        /// Parses `arguments` without the program name.
        public init(parsing arguments: [String]) throws(XarMount.ServerError) {
            guard let image = arguments.first, !image.hasPrefix("--") else {
                throw .usage("the image path must come first")
            }
            var values: [String: String] = [:]
            var index = 1
            while index < arguments.count {
                let option = arguments[index]
                guard Self.options.contains(option) else { throw .usage("unknown option \(option)") }
                guard index + 1 < arguments.count else { throw .usage("option \(option) needs a value") }
                values[option] = arguments[index + 1]
                index += 2
            }
            func required(_ option: String) throws(XarMount.ServerError) -> String {
                guard let value = values[option] else { throw .usage("option \(option) is missing") }
                return value
            }
            func number<T: FixedWidthInteger>(_ option: String, _: T.Type) throws(XarMount.ServerError) -> T {
                let text = try required(option)
                guard let value = T(text), value >= 0 else {
                    throw .usage("option \(option) wants a number, not \(text)")
                }
                return value
            }
            var policy = XarMount.LocalCopyPolicy.network
            if let text = values["--local-copy"] {
                guard let value = XarMount.LocalCopyPolicy(rawValue: text) else {
                    throw .usage("option --local-copy wants always, never or network, not \(text)")
                }
                policy = value
            }
            let timeoutText = try required("--idle-timeout")
            guard let timeout = Double(timeoutText), timeout >= 0, timeout.isFinite else {
                throw .usage("option --idle-timeout wants seconds, not \(timeoutText)")
            }
            self.init(
                imagePath: image, imageFD: try number("--image-fd", Int32.self),
                offset: try number("--offset", UInt64.self), mountPoint: try required("--mountpoint"),
                lockPath: try required("--lock"), statePath: try required("--state"), idleTimeout: timeout,
                readyFD: try number("--ready-fd", Int32.self), digest: values["--digest"], uuid: values["--uuid"],
                localCopy: policy, cacheDirectory: values["--cache-dir"])
        }

        /// The command line (without the program name) that parses back into this configuration.
        public var arguments: [String] {
            var list = [
                imagePath, "--image-fd", "\(imageFD)", "--offset", "\(offset)", "--mountpoint", mountPoint,
                "--lock", lockPath, "--state", statePath, "--idle-timeout", Self.render(idleTimeout),
                "--ready-fd", "\(readyFD)",
            ]
            if let digest { list += ["--digest", digest] }
            if let uuid { list += ["--uuid", uuid] }
            if localCopy != .network { list += ["--local-copy", localCopy.rawValue] }
            if let cacheDirectory { list += ["--cache-dir", cacheDirectory] }
            return list
        }

        private static let options: Set<String> = [
            "--image-fd", "--offset", "--mountpoint", "--lock", "--state", "--idle-timeout", "--ready-fd",
            "--digest", "--uuid", "--local-copy", "--cache-dir",
        ]

        private static func render(_ seconds: Double) -> String {
            seconds == seconds.rounded() && seconds < 1e15 ? "\(Int64(seconds))" : "\(seconds)"
        }
    }
}
