import Glibc

/// Facts about the machine that decide whether a test can run; a test that needs one says so with
/// `.enabled(if:)` so it is reported as skipped, never passed, when it could not run.
public enum TestEnvironment {
    /// True when the tests run as root (CI does).
    public static var isRoot: Bool { geteuid() == 0 }

    /// True when `/dev/fuse` can be opened for reading and writing by this process.
    public static var hasFuse: Bool {
        let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if fd < 0 { return false }
        close(fd)
        return true
    }

    /// True when `name` is an executable file in one of the directories of `PATH`.
    public static func hasTool(_ name: String) -> Bool { which(name) != nil }

    /// The full path of `name` found in `PATH`, or nil.
    public static func which(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The directory holding the built products (`xarexec`, `xarctl`, `xarbuild`): `XAR_BIN_DIR` when set,
    /// else the directory of the running test binary, which SwiftPM places next to the products.
    public static var binDirectory: String {
        if let dir = getenv("XAR_BIN_DIR") { return String(cString: dir) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        precondition(n > 0, "cannot read /proc/self/exe")
        let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        // Inside an .xctest bundle on Linux the binary is the bundle itself; its directory is the product dir.
        return parts.joined(separator: "/")
    }

    /// The path of a built product, e.g. `product("xarexec")`.
    public static func product(_ name: String) -> String { "\(binDirectory)/\(name)" }
}
