internal import Glibc
internal import struct SystemPackage.Errno

/// Whole files and directory trees by path: what the Python builder does to its staging tree (read a file, write
/// one, copy one, create directories, list and walk them, remove a tree). Each call throws a `SystemError` that
/// names the path and what was being done.
extension FileSystem {
    /// The whole contents of the file at `path`.
    ///
    /// The size from `fstat` sizes the buffer; the file is read to its end all the same, so a file that grows or a
    /// `/proc` file (size 0) is read whole. With `followSymlinks: false` a symbolic link in the last component is
    /// refused (`O_NOFOLLOW`), for files in directories other users could write to. The corresponding C functions
    /// are `open`, `fstat` and `read`.
    public static func contents(_ path: String, followSymlinks: Bool = true) throws(SystemError) -> [UInt8] {
        try withContext("read", path: path) { () throws(Errno) -> [UInt8] in
            let file = try FileDescriptor.open(path, .readOnly, options: followSymlinks ? [] : [.noFollow])
            let size = Int(try file.status().st_size)
            var contents = [UInt8](repeating: 0, count: max(size, 0) + 1)
            var count = 0
            while true {
                if count == contents.count { contents += [UInt8](repeating: 0, count: max(contents.count, 65536)) }
                // Array's withUnsafeMutableBytes rethrows untyped: the Errno is carried out by hand.
                var failure: Errno?
                let n = contents.withUnsafeMutableBytes { (buffer) -> Int in
                    do throws(Errno) {
                        return try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
                    } catch {
                        failure = error
                        return 0
                    }
                }
                if let failure { throw failure }
                if n == 0 { break }
                count += n
            }
            contents.removeLast(contents.count - count)
            return contents
        }
    }

    /// The whole text of the file at `path` if it is valid UTF-8; nil when it cannot be read or is not UTF-8.
    public static func utf8Text(_ path: String) -> String? {
        guard let bytes = try? contents(path) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Writes `bytes` as the file at `path` with exactly `permissions` (the umask does not apply): whatever was
    /// at `path` (a file, a symbolic link) is removed first, so another hard link to it or a link's target is
    /// never written through.
    ///
    /// Not atomic: for files in a staging tree of our own, not for a result others read (`TemporaryFile` is for
    /// those). The corresponding C functions are `unlink`, `open` with `O_CREAT | O_EXCL | O_NOFOLLOW`, `write`
    /// and `fchmod`.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, permissions: UInt32 = 0o644)
        throws(SystemError)
    {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError(code: errno, "replace", path: path) }
        try withContext("write", path: path) { () throws(Errno) in
            let file = try FileDescriptor.open(
                path, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: permissions)
            try file.write(bytes)
            try file.setPermissions(permissions)
            try file.close()
        }
    }

    /// Writes `bytes` as the file at `path` with exactly `permissions`; see `write(_:to:permissions:)`.
    public static func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o644) throws(SystemError) {
        var failure: SystemError?
        bytes.withUnsafeBytes { (buffer) in
            do throws(SystemError) { try write(buffer, to: path, permissions: permissions) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `text` as UTF-8 as the file at `path` with exactly `permissions`; see `write(_:to:permissions:)`.
    public static func write(_ text: String, to path: String, permissions: UInt32 = 0o644) throws(SystemError) {
        try write(Array(text.utf8), to: path, permissions: permissions)
    }

    /// Copies the regular file `source` (symbolic links followed) to the new file `destination`, which must not
    /// exist, with `permissions`, or the source's permission bits when nil.
    ///
    /// The corresponding C functions are `open`, `fstat`, `read`, `write` and `fchmod`.
    public static func copyFile(_ source: String, to destination: String, permissions: UInt32? = nil)
        throws(SystemError)
    {
        let bytes = try contents(source)
        var mode = UInt32(0)
        if let permissions { mode = permissions } else { mode = UInt32(try fileStatus(source).permissions) }
        try withContext("copy \(source) to", path: destination) { () throws(Errno) in
            let file = try FileDescriptor.open(
                destination, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: mode)
            var failure: Errno?
            bytes.withUnsafeBytes { (buffer) in
                do throws(Errno) { try file.write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
            try file.setPermissions(mode)
            try file.close()
        }
    }

    /// Creates the directory `path` and any missing parents with `permissions` (less the umask, as `mkdir -p`
    /// does); an existing directory is fine, anything else in the way is an error.
    ///
    /// The corresponding C functions are `mkdir` and `stat`.
    public static func createDirectories(_ path: String, permissions: UInt32 = 0o777) throws(SystemError) {
        if mkdir(path, mode_t(permissions)) == 0 { return }
        let code = errno
        if code == EEXIST {
            guard isDirectory(path) else { throw SystemError(code: EEXIST, "create the directory", path: path) }
            return
        }
        guard code == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError(code: code, "create the directory", path: path)
        }
        try createDirectories(String(path[..<slash]), permissions: permissions)
        if mkdir(path, mode_t(permissions)) != 0 && !(errno == EEXIST && isDirectory(path)) {
            throw SystemError(code: errno, "create the directory", path: path)
        }
    }

    /// True when `path` is a directory (symbolic links followed).
    public static func isDirectory(_ path: String) -> Bool {
        (try? fileStatus(path))?.kind == .directory
    }

    /// The names in the directory `path` (without `.` and `..`), decoded as UTF-8, in the order the file system
    /// gives them.
    ///
    /// The corresponding C functions are `opendir`, `readdir` and `closedir`.
    public static func directoryEntries(_ path: String) throws(SystemError) -> [String] {
        try entryNames(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// One entry of a tree that `walk` found.
    public struct TreeEntry: Sendable, Equatable {
        /// The path relative to the walked root (`a/b/c.py`).
        public var path: String
        /// The entry's type; a symbolic link is reported as one, never followed.
        public var kind: FileStatus.Kind
    }

    /// Every entry under the directory `root` (not `root` itself), a directory before what it holds, each
    /// directory's entries in byte order of their names; symbolic links are listed, never followed. A
    /// subdirectory that cannot be read is listed but not descended into.
    ///
    /// The corresponding C functions are `openat`, `fdopendir`, `readdir` and `fstatat`.
    public static func walk(_ root: String) throws(SystemError) -> [TreeEntry] {
        let directory = try withContext("open the directory", path: root) { () throws(Errno) in
            try FileDescriptor.open(root, .readOnly, options: [.directory])
        }
        var entries: [TreeEntry] = []
        do { try walk(directory, prefix: "", into: &entries) } catch {
            throw SystemError(error, "read the directory", path: root)
        }
        return entries
    }

    private static func walk(_ directory: borrowing FileDescriptor, prefix: String, into entries: inout [TreeEntry])
        throws(Errno)
    {
        let names = try directory.entryNames().sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for name in names {
            guard let status = try? directory.status(of: name) else { continue }
            let path = prefix + name
            entries.append(TreeEntry(path: path, kind: status.kind))
            guard status.kind == .directory,
                let child = try? directory.open(name, .readOnly, options: [.directory, .noFollow])
            else { continue }
            try? walk(child, prefix: path + "/", into: &entries)
        }
    }

    /// Removes `path` and, when it is a directory, everything below it; symbolic links are removed, never
    /// followed. A missing `path` is not an error.
    ///
    /// The corresponding C functions are `unlinkat`, `openat`, `fdopendir`, `readdir` and `fchmod`
    /// (`TreeRemoval`).
    public static func removeTree(_ path: String) throws(SystemError) {
        do { try TreeRemoval.remove(path, in: AT_FDCWD) } catch { throw SystemError(error, "remove", path: path) }
    }

    /// Creates the symbolic link `path` pointing at `target`.
    ///
    /// The corresponding C function is `symlink`.
    public static func createSymbolicLink(_ path: String, to target: String) throws(SystemError) {
        guard symlink(target, path) == 0 else {
            throw SystemError(code: errno, "create the symbolic link", path: path)
        }
    }

    /// The working directory of this process, or "." when it cannot be had (removed, or too long).
    ///
    /// The corresponding C function is `getcwd`.
    public static var currentDirectory: String {
        guard let path = getcwd(nil, 0) else { return "." }
        defer { free(path) }
        return String(cString: path)
    }

    /// `path` made absolute against the working directory (not resolved: `..` and symbolic links stay).
    public static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : currentDirectory + "/" + path
    }

    /// The directory for temporary files: `TMPDIR` when it is set and not empty, else `/tmp`; without a trailing
    /// slash.
    public static var temporaryDirectory: String {
        var directory = Environment.value("TMPDIR") ?? ""
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        return directory.isEmpty ? "/tmp" : directory
    }
}
