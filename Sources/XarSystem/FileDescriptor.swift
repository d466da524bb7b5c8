public import Glibc
public import SystemPackage

/// An open file descriptor that closes itself when its owner goes away.
///
/// The launcher opens few files and must not leak any into the program it execs, so every descriptor is opened
/// with `O_CLOEXEC` and owned by exactly one value. `~Copyable` makes a double close impossible to write.
public struct FileDescriptor: ~Copyable, Sendable {
    /// The raw descriptor number, for calls that need it (`flock`, `posix_spawn` file actions).
    public let rawValue: Int32

    /// Takes ownership of `rawValue`.
    public init(owning rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Opens `path` relative to the working directory, or to `directory` when given; `O_CLOEXEC` is always added.
    ///
    /// The corresponding C function is `openat`.
    public static func open(
        _ path: String, flags: Int32, mode: mode_t = 0, relativeTo directory: borrowing FileDescriptor
    ) throws(Errno) -> FileDescriptor {
        try open(path, flags: flags, mode: mode, relativeToRaw: directory.rawValue)
    }

    /// Opens `path` (absolute, or relative to the working directory); `O_CLOEXEC` is always added.
    ///
    /// The corresponding C function is `open`.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws(Errno) -> FileDescriptor {
        try open(path, flags: flags, mode: mode, relativeToRaw: AT_FDCWD)
    }

    /// Opens `path` relative to the raw directory descriptor `base` (`AT_FDCWD` for the working directory).
    public static func open(
        _ path: String, flags: Int32, mode: mode_t = 0, relativeToRaw base: Int32
    ) throws(Errno) -> FileDescriptor {
        let fd = try retryingEINTR { Glibc.openat(base, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(owning: fd)
    }

    /// Reads up to `buffer.count` bytes at `offset` without moving the file position; returns the count read.
    ///
    /// The corresponding C function is `pread`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        try retryingEINTR { Glibc.pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Fills `buffer` completely from `offset`, or returns how many bytes there were before the end of the file.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + Int64(done))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads whatever is available into `buffer` at the current position; returns 0 at the end of the file.
    ///
    /// The corresponding C function is `read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingEINTR { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `bytes` at the current position.
    ///
    /// The corresponding C function is `write`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try retryingEINTR { Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    /// The file's status.
    ///
    /// The corresponding C function is `fstat`.
    public func status() throws(Errno) -> stat {
        var st = stat()
        _ = try retryingEINTR { Glibc.fstat(rawValue, &st) }
        return st
    }

    /// Flushes the file's data and metadata to its device.
    ///
    /// The corresponding C function is `fsync`.
    public func sync() throws(Errno) {
        _ = try retryingEINTR { Glibc.fsync(rawValue) }
    }

    /// A second descriptor for the same open file (shared position and flags), with `O_CLOEXEC`.
    ///
    /// The corresponding C function is `fcntl` with `F_DUPFD_CLOEXEC`.
    public func duplicate() throws(Errno) -> FileDescriptor {
        FileDescriptor(owning: try retryingEINTR { Glibc.fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// Gives up ownership without closing: the caller takes over the number (e.g. an fd a child inherits).
    public consuming func release() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    /// Closes the descriptor and reports the error that `deinit` would have swallowed.
    ///
    /// The corresponding C function is `close`; it is not retried on `EINTR` (Linux has closed the fd anyway).
    public consuming func close() throws(Errno) {
        let fd = rawValue
        discard self
        if Glibc.close(fd) != 0 { throw Errno(rawValue: errno) }
    }

    deinit {
        _ = Glibc.close(rawValue)
    }
}

/// Calls `body` until it does not fail with `EINTR`; a negative result becomes the thrown `errno`.
@inline(__always)
public func retryingEINTR<T: BinaryInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = errno
        if code != EINTR { throw Errno(rawValue: code) }
    }
}
