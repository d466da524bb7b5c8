public import Glibc
internal import struct SystemPackage.Errno

/// A file opened for reading and shared by the readers that need it: the SquashFS reader's image source, the
/// writer's content reader, a digest. The one `pread` loop of the project.
///
/// A class, because those readers are held as protocol values and as fields of other classes; it owns its
/// descriptor (closed when the last reference goes) and knows its path, so every error names it.
public final class ReadOnlyFile: Sendable {
    /// The path the file was opened from, for messages.
    public let path: String
    /// The owned descriptor.
    public let descriptor: FileDescriptor

    /// Opens `path` read-only; with `followSymlinks: false` a symbolic link in the last component is refused
    /// (`ELOOP`); with `nonBlocking` a FIFO opens at once instead of waiting for a writer.
    ///
    /// The corresponding C function is `open` (with `O_RDONLY | O_CLOEXEC`, and `O_NOFOLLOW`, `O_NONBLOCK`).
    public init(opening path: String, followSymlinks: Bool = true, nonBlocking: Bool = false) throws(SystemError) {
        self.path = path
        let flags = O_RDONLY | (followSymlinks ? 0 : O_NOFOLLOW) | (nonBlocking ? O_NONBLOCK : 0)
        descriptor = try withContext("open", path: path) { () throws(Errno) in
            try FileDescriptor.open(path, flags: flags)
        }
    }

    /// Takes over `descriptor`, opened from `path`.
    public init(adopting descriptor: consuming FileDescriptor, path: String) {
        self.path = path
        self.descriptor = descriptor
    }

    /// A new descriptor for the open file `rawDescriptor`, which stays its owner's (a descriptor inherited by
    /// number, such as the server's image).
    ///
    /// The corresponding C function is `fcntl` with `F_DUPFD_CLOEXEC`.
    public init(duplicating rawDescriptor: Int32, path: String) throws(SystemError) {
        self.path = path
        let fd = fcntl(rawDescriptor, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0 else { throw SystemError(code: errno, "duplicate the descriptor of", path: path) }
        descriptor = FileDescriptor(owning: fd)
    }

    /// Fills `buffer` from `offset`; returns fewer bytes than `buffer.count` only at the end of the file.
    ///
    /// The corresponding C function is `pread`, retried on `EINTR` and after a short read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        try withContext("read", path: path) { () throws(Errno) in
            try descriptor.readFully(into: buffer, at: Int64(offset))
        }
    }

    /// The file's status.
    ///
    /// The corresponding C function is `fstat`.
    public func status() throws(SystemError) -> stat {
        try withContext("read the status of", path: path) { () throws(Errno) in try descriptor.status() }
    }

    /// True when the file is a regular file (not a directory, device or pipe), from `fstat`.
    public func isRegularFile() throws(SystemError) -> Bool { try status().st_mode & S_IFMT == S_IFREG }

    /// The file's size in bytes, from `fstat`.
    public func size() throws(SystemError) -> UInt64 { UInt64(try status().st_size) }

    /// The first offset at or after `offset` that may hold data, nil when only a hole follows; `offset` itself
    /// when the file system cannot tell (then the caller reads everything).
    ///
    /// The corresponding C function is `lseek` with `SEEK_DATA`.
    public func nextData(from offset: UInt64) -> UInt64? {
        let at = lseek(descriptor.rawValue, off_t(offset), 3)  // SEEK_DATA (Linux), hidden by the Glibc module
        if at >= 0 { return UInt64(at) }
        return errno == ENXIO ? nil : offset
    }

    /// Calls `body` with the file's bytes from `offset` to the end, in chunks of at most `chunkSize` bytes.
    public func forEachChunk(
        from offset: UInt64, chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(SystemError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        while true {
            let count = try read(into: buffer, at: position)
            if count == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            position += UInt64(count)
            if count < chunkSize { return }
        }
    }
}
