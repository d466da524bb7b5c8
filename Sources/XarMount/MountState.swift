/// The state file the FUSE server writes next to its mount point (`<UUID>-ns-<ns>.state`), atomically
/// (temporary file, rename) once the mount is up, and removes when it unmounts.
///
/// Format: text, one `key=value` per line, keys in any order, unknown keys ignored:
/// `pid` (the server's pid), `uuid`, `digest` (empty for Facebook's images), `image` (the `.xar` path),
/// `source` (the file the server reads from: the image or its local copy). The launcher trusts a mount only
/// when `uuid` and `digest` match the image it is launching and `pid` is alive and not stopped.
public struct MountState: Sendable, Equatable {
    /// The server's process id.
    public var pid: Int32
    /// The image identity (`UUID`).
    public var uuid: String
    /// `XAR_IMAGE_SHA256`, or empty for Facebook's images.
    public var digest: String
    /// The `.xar` path the server was started for.
    public var image: String
    /// The file the server reads the image from (the `.xar` or its local copy).
    public var source: String

    /// Creates a state record.
    public init(pid: Int32, uuid: String, digest: String, image: String, source: String) {
        self.pid = pid
        self.uuid = uuid
        self.digest = digest
        self.image = image
        self.source = source
    }

    /// Parses the file's bytes; nil when `pid` or `uuid` is missing (a damaged or foreign file).
    public init?(parsing bytes: some Collection<UInt8>) {
        var pid: Int32?
        var uuid: String?
        var digest = "", image = "", source = ""
        for line in bytes.split(separator: 0x0A) {
            guard let equals = line.firstIndex(of: 0x3D) else { continue }
            let key = String(decoding: line[..<equals], as: UTF8.self)
            let value = String(decoding: line[line.index(after: equals)...], as: UTF8.self)
            switch key {
            case "pid": pid = Int32(value)
            case "uuid": uuid = value
            case "digest": digest = value
            case "image": image = value
            case "source": source = value
            default: break
            }
        }
        guard let pid, pid > 0, let uuid else { return nil }
        self.init(pid: pid, uuid: uuid, digest: digest, image: image, source: source)
    }

    /// The file's text.
    public var rendered: String {
        "pid=\(pid)\nuuid=\(uuid)\ndigest=\(digest)\nimage=\(image)\nsource=\(source)\n"
    }
}
