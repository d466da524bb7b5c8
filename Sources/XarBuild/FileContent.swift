import Glibc
import XarSquashFS

/// A regular file on disk as the writer's content source: opened only while the writer reads it, so a tree
/// of any size holds no file descriptors.
struct FileContent: SquashFS.ContentSource {
    /// The file's path, for opening and for error messages.
    let path: String
    /// The size the scan saw; any other size at read time is an error.
    let size: UInt64

    func open() throws -> any SquashFS.ContentReader {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw XarBuildError.vanished(path: path) }
            throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        return Reader(fd: fd, path: path, size: size)
    }

    /// An open file; closes its descriptor when dropped.
    private final class Reader: SquashFS.ContentReader {
        let fd: Int32
        let path: String
        let size: UInt64

        init(fd: Int32, path: String, size: UInt64) {
            self.fd = fd
            self.path = path
            self.size = size
        }

        deinit { close(fd) }

        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(errno))) }
                if n == 0 { throw XarBuildError.changedSize(path: path) }
                done += n
            }
        }

        func nextData(from offset: UInt64) throws -> UInt64? {
            let at = lseek(fd, off_t(offset), 3)  // SEEK_DATA (Linux), hidden by the Glibc module
            if at >= 0 { return UInt64(at) }
            // ENXIO: only a hole follows. Any other error: the file system cannot tell, so read everything.
            return errno == ENXIO ? nil : offset
        }

        func finish() throws {
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                throw XarBuildError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if UInt64(st.st_size) != size { throw XarBuildError.changedSize(path: path) }
        }
    }
}
