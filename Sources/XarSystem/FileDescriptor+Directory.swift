internal import Glibc
public import SystemPackage

/// Opening with Swift-valued options, and the calls relative to an open directory (`openat`, `mkdirat`, `renameat`,
/// `fstatat`, `unlinkat`, …): what the extractor, the extraction cache and gc's pruners use, so that a checked
/// directory's descriptor, never a path that could change under them, decides where each entry lands.
extension FileDescriptor {
    /// What a file is opened for: reading, writing or both (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
    public enum Access: Sendable {
        case readOnly, writeOnly, readWrite

        internal var flags: Int32 {
            switch self {
            case .readOnly: O_RDONLY
            case .writeOnly: O_WRONLY
            case .readWrite: O_RDWR
            }
        }
    }

    /// What else `open` does, as Swift values: code above XarSystem never spells an `O_` flag.
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Creates the file when it is missing (`O_CREAT`), with the permissions given to `open`.
        public static let create = OpenOptions(rawValue: O_CREAT)
        /// With `create`: fails with `EEXIST` when anything is there, a symbolic link included (`O_EXCL`).
        public static let exclusive = OpenOptions(rawValue: O_EXCL)
        /// Writes always at the end of the file, also when other processes write to it (`O_APPEND`).
        public static let append = OpenOptions(rawValue: O_APPEND)
        /// Empties a regular file (`O_TRUNC`).
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        /// Refuses a symbolic link in the last component with `ELOOP` instead of following it (`O_NOFOLLOW`).
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
        /// Fails with `ENOTDIR` unless the path is a directory (`O_DIRECTORY`).
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
        /// Opens a FIFO without waiting for its other end (`O_NONBLOCK`).
        public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
    }

    /// Opens `path` (absolute, or relative to the working directory); `O_CLOEXEC` is always added.
    ///
    /// The corresponding C function is `open`.
    public static func open(
        _ path: String, _ access: Access, options: OpenOptions = [], permissions: UInt32 = 0
    ) throws(Errno) -> FileDescriptor {
        try open(path, flags: access.flags | options.rawValue, mode: mode_t(permissions), relativeToRaw: AT_FDCWD)
    }

    /// Opens `name` relative to this directory; `O_CLOEXEC` is always added.
    ///
    /// The corresponding C function is `openat`.
    public func open(
        _ name: String, _ access: Access, options: OpenOptions = [], permissions: UInt32 = 0
    ) throws(Errno) -> FileDescriptor {
        try open(Array(name.utf8), access, options: options, permissions: permissions)
    }

    /// Opens `name`, the exact bytes of an entry's name, relative to this directory; `O_CLOEXEC` is always added.
    ///
    /// The corresponding C function is `openat`.
    public func open(
        _ name: [UInt8], _ access: Access, options: OpenOptions = [], permissions: UInt32 = 0
    ) throws(Errno) -> FileDescriptor {
        let flags = access.flags | options.rawValue | O_CLOEXEC
        let fd = try withCName(name) { (cName) throws(Errno) in
            try retryingEINTR { Glibc.openat(rawValue, cName, flags, mode_t(permissions)) }
        }
        return FileDescriptor(owning: fd)
    }

    /// Creates the directory `name` in this directory with `permissions` (less the umask); fails with `EEXIST`
    /// on anything already there, a symbolic link included.
    ///
    /// The corresponding C function is `mkdirat`.
    public func createDirectory(_ name: [UInt8], permissions: UInt32) throws(Errno) {
        try withCName(name) { (cName) throws(Errno) in
            _ = try retryingEINTR { Glibc.mkdirat(rawValue, cName, mode_t(permissions)) }
        }
    }

    /// Creates the directory `name` in this directory with `permissions` (less the umask).
    public func createDirectory(_ name: String, permissions: UInt32) throws(Errno) {
        try createDirectory(Array(name.utf8), permissions: permissions)
    }

    /// Creates `name` in this directory as a hard link to `existing`, also in it; symbolic links not followed.
    ///
    /// The corresponding C function is `linkat`.
    public func createHardLink(_ name: [UInt8], to existing: [UInt8]) throws(Errno) {
        try withCName(existing) { (from) throws(Errno) in
            try withCName(name) { (to) throws(Errno) in
                _ = try retryingEINTR { Glibc.linkat(rawValue, from, rawValue, to, 0) }
            }
        }
    }

    /// Creates the symbolic link `name` in this directory, pointing at `target` (bytes, as stored).
    ///
    /// The corresponding C function is `symlinkat`.
    public func createSymbolicLink(_ name: [UInt8], target: [UInt8]) throws(Errno) {
        try withCName(target) { (to) throws(Errno) in
            try withCName(name) { (at) throws(Errno) in
                _ = try retryingEINTR { Glibc.symlinkat(to, rawValue, at) }
            }
        }
    }

    /// Creates the FIFO `name` in this directory with `permissions` (less the umask).
    ///
    /// The corresponding C function is `mkfifoat`.
    public func createFIFO(_ name: [UInt8], permissions: UInt32) throws(Errno) {
        try withCName(name) { (cName) throws(Errno) in
            _ = try retryingEINTR { Glibc.mkfifoat(rawValue, cName, mode_t(permissions)) }
        }
    }

    /// Sets the access and modification times of the entry `name` in this directory (`"."` for the directory
    /// itself) to `seconds` since the epoch; a symbolic link's own times, never its target's.
    ///
    /// The corresponding C function is `utimensat` with `AT_SYMLINK_NOFOLLOW`.
    public func setTimes(of name: [UInt8], seconds: Int) throws(Errno) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        try withCName(name) { (cName) throws(Errno) in
            _ = try retryingEINTR { Glibc.utimensat(rawValue, cName, &times, AT_SYMLINK_NOFOLLOW) }
        }
    }

    /// Sets the permission bits (setuid, setgid and sticky included) of the entry `name` in this directory
    /// (`"."` for the directory itself); symbolic links are followed, so callers name only what they created.
    ///
    /// The corresponding C function is `fchmodat`.
    public func setPermissions(of name: [UInt8], _ permissions: UInt32) throws(Errno) {
        try withCName(name) { (cName) throws(Errno) in
            _ = try retryingEINTR { Glibc.fchmodat(rawValue, cName, mode_t(permissions), 0) }
        }
    }

    /// Renames the entry `name` of this directory to `newName`, also in it, replacing a file or an empty
    /// directory there.
    ///
    /// The corresponding C function is `renameat`.
    public func rename(_ name: String, to newName: String) throws(Errno) {
        _ = try retryingEINTR { Glibc.renameat(rawValue, name, rawValue, newName) }
    }

    /// The status of the entry `name` in this directory; a symbolic link's own unless `followSymlinks`.
    ///
    /// The corresponding C function is `fstatat`.
    public func status(of name: String, followSymlinks: Bool = false) throws(Errno) -> FileStatus {
        var st = stat()
        _ = try retryingEINTR { Glibc.fstatat(rawValue, name, &st, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW) }
        return FileStatus(st)
    }

    /// Removes the entry `name` (not a directory) of this directory.
    ///
    /// The corresponding C function is `unlinkat`.
    public func removeFile(_ name: String) throws(Errno) {
        _ = try retryingEINTR { Glibc.unlinkat(rawValue, name, 0) }
    }

    /// The names in this directory (without `.` and `..`), in the order the file system gives them; the
    /// descriptor itself is not moved (a duplicate is read).
    ///
    /// The corresponding C functions are `fdopendir`, `readdir` and `closedir`.
    public func entryNames() throws(Errno) -> [String] {
        let copy = try duplicate()
        guard let stream = fdopendir(copy.rawValue) else { throw Errno(rawValue: errno) }
        _ = copy.release()  // the stream owns it now; closedir closes it
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// Writes all of `bytes` at `offset` without moving the file position.
    ///
    /// The corresponding C function is `pwrite`, retried on `EINTR` and after a short write.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = try retryingEINTR {
                Glibc.pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { throw Errno.ioError }
            done += n
        }
    }

    /// Sets the file's size to `size` bytes: a file grown this way ends in a hole.
    ///
    /// The corresponding C function is `ftruncate`.
    public func truncate(to size: Int64) throws(Errno) {
        _ = try retryingEINTR { Glibc.ftruncate(rawValue, off_t(size)) }
    }

    /// Sets the file's access and modification times to `seconds` since the epoch.
    ///
    /// The corresponding C function is `futimens`.
    public func setTimes(seconds: Int) throws(Errno) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        _ = try retryingEINTR { Glibc.futimens(rawValue, &times) }
    }

    /// Sets the file's permission bits (setuid, setgid and sticky included).
    ///
    /// The corresponding C function is `fchmod`.
    public func setPermissions(_ permissions: UInt32) throws(Errno) {
        _ = try retryingEINTR { Glibc.fchmod(rawValue, mode_t(permissions)) }
    }

    /// Gives the file to `uid` and `gid`.
    ///
    /// The corresponding C function is `fchown`.
    public func changeOwner(uid: UInt32, gid: UInt32) throws(Errno) {
        _ = try retryingEINTR { Glibc.fchown(rawValue, uid, gid) }
    }

    /// The file's status as Swift values.
    ///
    /// The corresponding C function is `fstat`.
    public func fileStatus() throws(Errno) -> FileStatus { FileStatus(try status()) }
}

/// Calls `body` with `bytes` as a NUL-terminated C string, byte for byte (a name that is not UTF-8 stays as is).
@inline(__always)
internal func withCName<T>(
    _ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws(Errno) -> T
) throws(Errno) -> T {
    let terminated = bytes + [0]
    return try terminated.withUnsafeBufferPointer { (buffer) throws(Errno) -> T in
        try buffer.withMemoryRebound(to: CChar.self) { (chars) throws(Errno) -> T in try body(chars.baseAddress!) }
    }
}
