import Glibc
import XarSquashFS

/// The output being written: a temporary file next to its final path, renamed into place on `commit`,
/// removed on `discard` (or when dropped uncommitted), so a failed build leaves nothing behind.
struct TemporaryOutput: ~Copyable {
    let fd: Int32
    let temporaryPath: String
    let finalPath: String
    private var done = false
    /// Removes the file if the build is interrupted by a signal (`BuildCleanup`).
    private let cleanup: Int

    /// Creates `.<name>.XXXXXX` in the output's directory.
    init(next finalPath: String) throws {
        let slash = finalPath.lastIndex(of: "/")
        let directory = slash.map { String(finalPath[..<$0]) } ?? "."
        let name = slash.map { String(finalPath[finalPath.index(after: $0)...]) } ?? finalPath
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(name).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw XarBuildError.outputNotWritable(path: finalPath, reason: String(cString: strerror(errno)))
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.fd = fd
        self.temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.finalPath = finalPath
        self.cleanup = BuildCleanup.register(path: temporaryPath)
    }

    /// Sets the mode, flushes to disk and renames into place.
    mutating func commit(mode: mode_t) throws {
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            throw XarBuildError.writeFailed(path: finalPath, reason: String(cString: strerror(errno)))
        }
        guard rename(temporaryPath, finalPath) == 0 else {
            throw XarBuildError.outputNotWritable(path: finalPath, reason: String(cString: strerror(errno)))
        }
        done = true
        BuildCleanup.unregister(cleanup)
        close(fd)
        let slash = finalPath.lastIndex(of: "/")
        let directory = slash.map { String(finalPath[..<$0]) } ?? "."
        let dirfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    /// Removes the temporary file.
    mutating func discard() {
        guard !done else { return }
        done = true
        close(fd)
        unlink(temporaryPath)
        BuildCleanup.unregister(cleanup)
    }

    deinit {
        if !done {
            close(fd)
            unlink(temporaryPath)
            BuildCleanup.unregister(cleanup)
        }
    }
}

/// The writer's sink over the output file: image offsets shifted by the header's size.
final class FileSink: SquashFS.Sink {
    let fd: Int32
    let base: UInt64
    let path: String
    private var end: UInt64 = 0

    init(fd: Int32, base: UInt64, path: String) {
        self.fd = fd
        self.base = base
        self.path = path
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, absoluteOffset: base + end)
        end += UInt64(bytes.count)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try write(bytes, absoluteOffset: base + offset)
    }

    /// `pwrite` of all of `bytes` at a file offset.
    func write(_ bytes: UnsafeRawBufferPointer, absoluteOffset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(absoluteOffset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw XarBuildError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
            done += n
        }
    }
}
