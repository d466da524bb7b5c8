internal import CXattr
public import Glibc
internal import struct SystemPackage.Errno

/// Calls on paths: status, links, directory entries, extended attributes, renames and removals. Each throws a
/// `SystemError` that names the path and what was being done.
public enum FileSystem {
    /// The status of `path`; with `followSymlinks: false` a symbolic link's own (`lstat`).
    ///
    /// The corresponding C functions are `stat` and `lstat`.
    public static func status(_ path: String, followSymlinks: Bool = true) throws(SystemError) -> stat {
        var st = stat()
        let result = followSymlinks ? stat(path, &st) : lstat(path, &st)
        guard result == 0 else { throw SystemError(code: errno, "read the status of", path: path) }
        return st
    }

    /// The status of `path`, or nil when it cannot be had (missing, unreadable).
    public static func statusIfAny(_ path: String, followSymlinks: Bool = true) -> stat? {
        try? status(path, followSymlinks: followSymlinks)
    }

    /// The target of the symbolic link at `path`, as bytes; at most `capacity` bytes are read.
    ///
    /// The corresponding C function is `readlink`.
    public static func symbolicLinkTarget(_ path: String, capacity: Int = 8192) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let n = readlink(path, &buffer, buffer.count)
        guard n >= 0 else { throw SystemError(code: errno, "read the symbolic link", path: path) }
        return Array(buffer[0..<n])
    }

    /// The names in the directory `path` (without `.` and `..`), in the order the file system gives them.
    ///
    /// The corresponding C functions are `opendir`, `readdir` and `closedir`.
    public static func entryNames(_ path: String) throws(SystemError) -> [[UInt8]] {
        guard let directory = opendir(path) else { throw SystemError(code: errno, "open the directory", path: path) }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw SystemError(code: errno, "read the directory", path: path) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
    }

    /// The extended attribute names of `path` (symbolic links not followed), each without its NUL; none on a
    /// file system without extended attributes.
    ///
    /// The corresponding C function is `llistxattr`.
    public static func extendedAttributeNames(_ path: String) throws(SystemError) -> [[UInt8]] {
        while true {
            let size = llistxattr(path, nil, 0)
            if size < 0 && errno == ENOTSUP { return [] }
            if size < 0 { throw SystemError(code: errno, "read the extended attributes of", path: path) }
            if size == 0 { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            let n = llistxattr(path, &buffer, size)
            if n < 0 && errno == ERANGE { continue }  // grew between the two calls
            if n < 0 { throw SystemError(code: errno, "read the extended attributes of", path: path) }
            return buffer[0..<n].split(separator: 0).map { $0.map { UInt8(bitPattern: $0) } }
        }
    }

    /// True when `path` (symbolic links not followed) carries at least one extended attribute.
    ///
    /// The corresponding C function is `llistxattr`.
    public static func hasExtendedAttributes(_ path: String) -> Bool { llistxattr(path, nil, 0) > 0 }

    /// The value of the extended attribute `name` of `path` (symbolic links not followed), or nil when it does
    /// not exist (any more).
    ///
    /// The corresponding C function is `lgetxattr`.
    public static func extendedAttribute(_ name: [UInt8], of path: String) throws(SystemError) -> [UInt8]? {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        while true {
            let size = lgetxattr(path, cName, nil, 0)
            if size < 0 && errno == ENODATA { return nil }
            if size < 0 { throw SystemError(code: errno, "read the extended attributes of", path: path) }
            var buffer = [UInt8](repeating: 0, count: max(size, 1))
            let n = lgetxattr(path, cName, &buffer, size)
            if n < 0 && errno == ERANGE { continue }
            if n < 0 && errno == ENODATA { return nil }
            if n < 0 { throw SystemError(code: errno, "read the extended attributes of", path: path) }
            return Array(buffer[0..<n])
        }
    }

    /// Renames `source` to `target`, replacing it.
    ///
    /// The corresponding C function is `rename`.
    public static func rename(_ source: String, to target: String) throws(SystemError) {
        guard Glibc.rename(source, target) == 0 else {
            throw SystemError(code: errno, "rename \(source) to", path: target)
        }
    }

    /// Removes the file (not directory) at `path`.
    ///
    /// The corresponding C function is `unlink`.
    public static func removeFile(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw SystemError(code: errno, "remove", path: path) }
    }

    /// Removes the empty directory at `path`.
    ///
    /// The corresponding C function is `rmdir`.
    public static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 else { throw SystemError(code: errno, "remove the directory", path: path) }
    }

    /// Creates the directory `path` with `mode` (less the umask).
    ///
    /// The corresponding C function is `mkdir`.
    public static func createDirectory(_ path: String, mode: UInt32) throws(SystemError) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw SystemError(code: errno, "create the directory", path: path) }
    }

    /// `path` made absolute with every symbolic link resolved, or nil when it cannot be.
    ///
    /// The corresponding C function is `realpath`.
    public static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// True when this process may execute the file at `path`.
    ///
    /// The corresponding C function is `access` with `X_OK`.
    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// The number of processors online.
    ///
    /// The corresponding C function is `sysconf(_SC_NPROCESSORS_ONLN)`.
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
