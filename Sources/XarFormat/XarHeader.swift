/// The text header at the start of every `.xar`: a shebang, `NAME="value"` lines, `#xar_stop`, a shell trailer,
/// padding to `OFFSET`; the SquashFS image starts at `OFFSET`.
///
/// The layout follows Facebook's XAR so that their tools and ours read each other's files:
///
///     #!/usr/bin/env xarexec                  <- shebang: the kernel runs the launcher on ./tool.xar
///     OFFSET="4096"                           <- always the first key (Facebook's parser requires it)
///     UUID="0123456789abcdef"
///     VERSION="1764115200"
///     ...                                     <- more NAME="value" lines, in any order
///     #xar_stop                               <- end of the keys
///     echo "... install xarexec ..." >&2      <- `sh tool.xar` prints this and stops
///     exit 1
///     # the SquashFS image begins at OFFSET
///     \n\n\n...                               <- newlines up to OFFSET
///
/// A header is a value: it keeps its entries in file order (unknown keys included, so a parsed header renders
/// back to the same keys) and validates every known key when it is made, so the typed accessors never fail.
public struct XarHeader: Sendable, Hashable {
    /// One `NAME="value"` line.
    public struct Entry: Sendable, Hashable {
        /// The key, a shell variable name.
        public var key: String
        /// The value between the double quotes.
        public var value: String

        /// An entry `key="value"`.
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The header keys this project knows: Facebook's and ours (see docs/architecture.md).
    public enum Key {
        /// Where the image starts; a positive multiple of 4096. Required.
        public static let offset = "OFFSET"
        /// The image's identity, used in mount paths. Required.
        public static let uuid = "UUID"
        /// The build's version; we write the build time. Required.
        public static let version = "VERSION"
        /// The path, inside the image, of the program the launcher executes.
        public static let target = "XAREXEC_TARGET"
        /// Where to mount, overriding the launcher's search.
        public static let mountRoot = "MOUNT_ROOT"
        /// Other `.xar` files this one needs (Facebook's partitioned XARs); space-separated names.
        public static let dependencies = "DEPENDENCIES"
        /// The names under which the target may be invoked through a trampoline, `'a' 'b'`.
        public static let trampolineNames = "XAREXEC_TRAMPOLINE_NAMES"
        /// The SHA-256 of the image bytes (from `OFFSET` to the end), lowercase hex.
        public static let imageSHA256 = "XAR_IMAGE_SHA256"
        /// The builder and its version.
        public static let builder = "XAR_BUILDER"
        /// Build time, seconds since the epoch.
        public static let buildTime = "XAR_BUILD_TIME"
        /// Arguments the launcher puts between `argv[0]` and the user's arguments.
        public static let execArgs = "XAREXEC_ARGS"
        /// Idle grace period in seconds before the mount goes away (0 = never).
        public static let mountTimeout = "XAR_MOUNT_TIMEOUT"
        /// The oldest host glibc the image runs on (`2.34`): present when the image uses the host's C library.
        public static let glibcFloor = "XAR_GLIBC_FLOOR"
        /// The oldest Linux kernel the image's C library supports (`3.2.0`, from its ELF ABI tag).
        public static let kernelFloor = "XAR_KERNEL_FLOOR"
        /// When to copy the image locally: `always`, `never`, `network`.
        public static let localCopy = "XAR_LOCAL_COPY"
    }

    /// When the launcher copies the image to local storage, so the mount survives the source going away.
    public enum LocalCopyPolicy: String, Sendable, CaseIterable {
        /// Always serve reads from a local copy.
        case always
        /// Never copy; reads fail if the source disappears.
        case never
        /// Copy when the image lives on a network file system (the default).
        case network
    }

    /// The shebang our builder writes: the kernel hands the file to `xarexec` found on `PATH`.
    public static let defaultShebang = "#!/usr/bin/env xarexec"
    /// The header size, and the granularity of `OFFSET` (Facebook's `kHeaderSizeBase`).
    public static let headerSizeBase = 4096
    /// The line that ends the keys (Facebook's `kXarStop`).
    public static let stopLine = "#xar_stop"
    /// The trampoline name Facebook's parser requires whenever `XAREXEC_TRAMPOLINE_NAMES` is present
    /// (`kGuaranteedTrampolineName`).
    public static let guaranteedTrampolineName = "invoke_xar_via_trampoline"
    /// How many hex digits of the image digest make the `UUID`.
    public static let uuidLength = 16

    /// The shebang that runs the file with the launcher at `launcher` directly (`#!/usr/local/bin/xarexec`), for
    /// hosts where the launcher's place is fixed: the kernel then starts it without `/usr/bin/env` first.
    public static func shebang(launcher: String) throws(XarHeaderError) -> String {
        let bytes = Array(launcher.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.count <= 120, !bytes.contains(where: { $0 <= 0x20 || $0 == 0x7f })
        else { throw .badLauncher(launcher) }
        return "#!" + launcher
    }

    /// The first line, starting with `#!`.
    public internal(set) var shebang: String
    /// Every `NAME="value"` line, in file order.
    public internal(set) var entries: [Entry]
    /// Where the image starts in the file, a positive multiple of 4096.
    public internal(set) var offset: Int

    /// Makes a header from its lines, checking them as the parser does.
    public init(shebang: String = XarHeader.defaultShebang, entries: [Entry]) throws(XarHeaderError) {
        self.shebang = shebang
        self.entries = entries
        self.offset = 0
        self.offset = try validate()
    }

    /// Makes the header our builder writes for an image whose SHA-256 is `imageSHA256` (lowercase hex):
    /// `UUID` is its first 16 digits, `VERSION` the build time, keys in Facebook's order then ours.
    public init(
        imageSHA256: String, buildTime: Int64, builder: String, target: String? = nil, mountRoot: String? = nil,
        trampolineNames: [String] = [], execArgs: String? = nil, mountTimeout: Int? = nil,
        localCopyPolicy: LocalCopyPolicy? = nil, dependencies: [String] = [], glibcFloor: String? = nil,
        kernelFloor: String? = nil, offset: Int = XarHeader.headerSizeBase, shebang: String = XarHeader.defaultShebang
    ) throws(XarHeaderError) {
        guard Self.isLowerHex(imageSHA256.utf8), imageSHA256.utf8.count == 64 else {
            throw .badImageDigest(imageSHA256)
        }
        var lines: [Entry] = [
            Entry(key: Key.offset, value: String(offset)),
            Entry(key: Key.uuid, value: String(imageSHA256.prefix(Self.uuidLength))),
            Entry(key: Key.version, value: String(buildTime)),
            Entry(key: Key.dependencies, value: dependencies.joined(separator: " ")),
        ]
        if let mountRoot { lines.append(Entry(key: Key.mountRoot, value: mountRoot)) }
        if let target { lines.append(Entry(key: Key.target, value: target)) }
        if !trampolineNames.isEmpty {
            var names = trampolineNames
            if !names.contains(Self.guaranteedTrampolineName) { names.append(Self.guaranteedTrampolineName) }
            lines.append(Entry(key: Key.trampolineNames, value: names.map { "'\($0)'" }.joined(separator: " ")))
        }
        lines.append(Entry(key: Key.imageSHA256, value: imageSHA256))
        lines.append(Entry(key: Key.builder, value: builder))
        lines.append(Entry(key: Key.buildTime, value: String(buildTime)))
        if let execArgs { lines.append(Entry(key: Key.execArgs, value: execArgs)) }
        if let mountTimeout { lines.append(Entry(key: Key.mountTimeout, value: String(mountTimeout))) }
        if let localCopyPolicy { lines.append(Entry(key: Key.localCopy, value: localCopyPolicy.rawValue)) }
        if let glibcFloor { lines.append(Entry(key: Key.glibcFloor, value: glibcFloor)) }
        if let kernelFloor { lines.append(Entry(key: Key.kernelFloor, value: kernelFloor)) }
        try self.init(shebang: shebang, entries: lines)
    }

    /// The value of `key`, or nil when the header does not set it.
    public func value(for key: String) -> String? {
        for entry in entries where entry.key == key { return entry.value }
        return nil
    }

    /// The image's identity: hex digits (8 in Facebook's files, 16 in ours).
    public var uuid: String { value(for: Key.uuid) ?? "" }
    /// The build's version string.
    public var version: String { value(for: Key.version) ?? "" }
    /// The program to run, relative to the image root, if the file is executable.
    public var target: String? { value(for: Key.target) }
    /// The mount root the builder asked for.
    public var mountRoot: String? { value(for: Key.mountRoot) }
    /// Other `.xar` files this one depends on.
    public var dependencies: [String] { value(for: Key.dependencies).map(Self.words) ?? [] }
    /// The trampoline names, unquoted; empty when the key is absent.
    public var trampolineNames: [String] {
        guard let raw = value(for: Key.trampolineNames) else { return [] }
        return (try? Self.parseTrampolineNames(raw)) ?? []
    }
    /// The launcher's extra arguments, split on spaces; nil when the key is absent.
    public var execArgs: [String]? { value(for: Key.execArgs).map(Self.words) }
    /// The SHA-256 of the image bytes, lowercase hex, when the builder recorded it.
    public var imageSHA256: String? { value(for: Key.imageSHA256) }
    /// The builder that wrote the file, e.g. `xarbuild 0.1.0`.
    public var builder: String? { value(for: Key.builder) }
    /// The build time in seconds since the epoch.
    public var buildTime: Int64? { value(for: Key.buildTime).flatMap { Self.decimal($0.utf8) }.map(Int64.init) }
    /// The idle grace period in seconds (0 = never unmount), when the builder set one.
    public var mountTimeout: Int? { value(for: Key.mountTimeout).flatMap { Self.decimal($0.utf8) } }
    /// When to copy the image locally; `network` unless the header says otherwise.
    public var localCopyPolicy: LocalCopyPolicy {
        value(for: Key.localCopy).flatMap(LocalCopyPolicy.init(rawValue:)) ?? .network
    }

    static func words(_ value: String) -> [String] {
        value.split(separator: " ").map(String.init)
    }
}
