internal import Glibc
public import XarSquashFS
internal import XarSystem

/// Writes every entry of a SquashFS image into an empty directory: directories, regular files, symlinks,
/// hard links and FIFOs, with their permission bits and modification times (device nodes and sockets are
/// skipped: an unprivileged user cannot make them and applications do not ship them).
///
/// Paths are created relative to the open target directory, one `*at` call each. The reader rejects names
/// with `/`, `.` or `..`, and a directory is made with `mkdirat`, which fails on anything already there, so
/// a crafted image cannot make a later entry land outside the target through a symlink.
public enum ImageExtractor {
    /// Extracts `reader`'s tree into `directory` (open, empty). Errors are sentences naming the entry.
    public static func extract(_ reader: SquashFS.Reader, into directory: Int32) throws {
        var directories: [(path: [UInt8], inode: SquashFS.Reader.Inode)] = []
        var firstPathOfInode: [UInt32: [UInt8]] = [:]
        try reader.walk { path, inode in
            if path.isEmpty {
                directories.append((path, inode))
                return
            }
            let name = String(decoding: path, as: UTF8.self)
            switch inode.kind {
            case .directory:
                guard mkdirat(directory, name, 0o700) == 0 else { throw failure("create directory", name) }
                directories.append((path, inode))
            case .regularFile:
                if inode.linkCount > 1, let first = firstPathOfInode[inode.inodeNumber] {
                    let firstName = String(decoding: first, as: UTF8.self)
                    guard linkat(directory, firstName, directory, name, 0) == 0 else { throw failure("link", name) }
                    return
                }
                try writeFile(reader, inode, name: name, in: directory)
                if inode.linkCount > 1 { firstPathOfInode[inode.inodeNumber] = path }
            case .symlink:
                let target = try reader.readLink(inode)
                let ok = (target + [0]).withUnsafeBufferPointer {
                    $0.withMemoryRebound(to: CChar.self) { symlinkat($0.baseAddress!, directory, name) == 0 }
                }
                guard ok else { throw failure("create symlink", name) }
            case .fifo:
                guard mkfifoat(directory, name, mode_t(inode.permissions)) == 0 else {
                    throw failure("create FIFO", name)
                }
            case .blockDevice, .characterDevice, .socket:
                return
            }
        }
        // Children first (reverse of the walk), so a read-only directory is closed only once it is complete.
        for (path, inode) in directories.reversed() {
            let name = path.isEmpty ? "." : String(decoding: path, as: UTF8.self)
            var times = [
                timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
                timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
            ]
            _ = utimensat(directory, name, &times, AT_SYMLINK_NOFOLLOW)
            guard fchmodat(directory, name, mode_t(inode.permissions), 0) == 0 else { throw failure("chmod", name) }
        }
    }

    private static func writeFile(
        _ reader: SquashFS.Reader, _ inode: SquashFS.Reader.Inode, name: String, in directory: Int32
    ) throws {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(
                name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, relativeToRaw: directory)
        } catch {
            throw SquashFS.ReadError("Cannot create \(name): \(error).")
        }
        let raw = file.rawValue  // the closure cannot capture the noncopyable owner
        try reader.forEachBlock(of: inode) { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(raw, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw failure("write", name) }
                done += n
            }
        }
        var times = [
            timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
            timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
        ]
        _ = futimens(file.rawValue, &times)
        guard fchmod(file.rawValue, mode_t(inode.permissions)) == 0 else { throw failure("chmod", name) }
    }

    private static func failure(_ what: String, _ name: String) -> SquashFS.ReadError {
        SquashFS.ReadError("Cannot \(what) \(name): \(String(cString: strerror(errno))).")
    }
}
