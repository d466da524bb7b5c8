internal import Glibc

extension FileSystem {
    /// Creates `path` as a hard link to `existing` (symbolic links not followed).
    ///
    /// The corresponding C function is `link`.
    public static func createHardLink(_ path: String, to existing: String) throws(SystemError) {
        guard link(existing, path) == 0 else { throw SystemError(code: errno, "link \(existing) to", path: path) }
    }

    /// Creates a new directory `<prefix>XXXXXX` (six random characters, mode 0700) and returns its path.
    ///
    /// The corresponding C function is `mkdtemp`.
    public static func createTemporaryDirectory(prefix: String) throws(SystemError) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw SystemError(code: errno, "create a temporary directory", path: prefix) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `path` names a file (of any type); with `followSymlinks: false` a symbolic link itself counts,
    /// dangling or not.
    ///
    /// The corresponding C functions are `stat` and `lstat`.
    public static func exists(_ path: String, followSymlinks: Bool = true) -> Bool {
        statusIfAny(path, followSymlinks: followSymlinks) != nil
    }
}
