internal import CXarSystem
internal import Glibc
internal import struct SystemPackage.Errno

/// A new file next to its final path, renamed into place when complete and removed otherwise: what a writer
/// uses so that a failed run leaves nothing behind (temporary file, fsync, rename).
///
/// A class, because the writer's sink and its caller share it.
public final class TemporaryFile {
    /// The temporary file's path, `<directory>/.<name>.XXXXXX`.
    public let path: String
    /// The path it is renamed to.
    public let finalPath: String
    private let descriptor: FileDescriptor
    private var renamed = false

    /// Creates `.<name>.XXXXXX` (mode 0600) in the directory of `finalPath`.
    ///
    /// The corresponding C function is `mkostemp` with `O_CLOEXEC`: the descriptor is close-on-exec from its first
    /// instant, so a child another thread forks meanwhile never holds the file open for writing (an `exec` of the
    /// finished file would fail with ETXTBSY for as long as that child lives).
    public init(next finalPath: String) throws(SystemError) {
        let slash = finalPath.lastIndex(of: "/")
        let directory = slash.map { String(finalPath[..<$0]) } ?? "."
        let name = slash.map { String(finalPath[finalPath.index(after: $0)...]) } ?? finalPath
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(name).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { xar_mkstemp_cloexec($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError(code: errno, "create a temporary file next to", path: finalPath) }
        descriptor = FileDescriptor(owning: fd)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.finalPath = finalPath
    }

    /// Writes all of `bytes` at `offset`.
    ///
    /// The corresponding C function is `pwrite`, retried on `EINTR` and after a short write.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(
                descriptor.rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SystemError(code: n == 0 ? EIO : errno, "write", path: path) }
            done += n
        }
    }

    /// Reads back up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    ///
    /// The corresponding C function is `pread`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        try withContext("read", path: path) { () throws(Errno) in
            try descriptor.readFully(into: buffer, at: Int64(offset))
        }
    }

    /// Sets the file's mode and flushes it to its device.
    ///
    /// The corresponding C functions are `fchmod` and `fsync`.
    public func flush(mode: UInt32) throws(SystemError) {
        guard fchmod(descriptor.rawValue, mode_t(mode)) == 0 else {
            throw SystemError(code: errno, "set the mode of", path: path)
        }
        try withContext("flush", path: path) { () throws(Errno) in try descriptor.sync() }
    }

    /// Renames the file to `finalPath` and flushes the directory entry (best effort).
    ///
    /// The corresponding C functions are `rename` and `fsync` of the directory.
    public func rename() throws(SystemError) {
        try FileSystem.rename(path, to: finalPath)
        renamed = true
        let slash = finalPath.lastIndex(of: "/")
        let directory = slash.map { String(finalPath[..<$0]) } ?? "."
        if let parent = try? FileDescriptor.open(directory.isEmpty ? "/" : directory, flags: O_RDONLY | O_DIRECTORY) {
            _ = try? parent.sync()
        }
    }

    /// Removes the temporary file now, unless it was renamed.
    public func discard() {
        guard !renamed else { return }
        renamed = true
        unlink(path)
    }

    deinit {
        if !renamed { unlink(path) }
    }
}
