internal import Glibc
public import XarSquashFS
internal import XarSystem
internal import struct SystemPackage.Errno

/// Writes every entry of a SquashFS image into an empty directory: directories, regular files, symlinks,
/// hard links and FIFOs, with their permission bits (setuid and setgid dropped) and modification times (device nodes and sockets are
/// skipped: an unprivileged user cannot make them and applications do not ship them).
///
/// Paths are created relative to the open target directory, one `*at` call each. The reader rejects names
/// with `/`, `.` or `..`, and a directory is made with `mkdirat`, which fails on anything already there, so
/// a crafted image cannot make a later entry land outside the target through a symlink.
///
/// Names go to the file system as the image's exact bytes, never through `String`: a name that is not UTF-8
/// would otherwise be changed (invalid bytes become U+FFFD), and two such names could collide.
public enum ImageExtractor {
    /// Extracts `reader`'s tree into `directory` (open, empty). Errors are sentences naming the entry.
    ///
    /// Setuid and setgid bits are dropped unless `keepSetID` (`xarctl extract --keep-setuid`); runs of zeros in
    /// files become holes.
    public static func extract(_ reader: SquashFS.Reader, into directory: Int32, keepSetID: Bool = false) throws {
        var directories: [(path: [UInt8], inode: SquashFS.Reader.Inode)] = []
        var firstPathOfInode: [UInt32: [UInt8]] = [:]
        try reader.walk { path, inode in
            if path.isEmpty {
                directories.append((path, inode))
                return
            }
            let name = displayName(path)
            switch inode.kind {
            case .directory:
                let ok = withCName(path) { mkdirat(directory, $0, 0o700) == 0 }
                guard ok else { throw failure("create directory", name) }
                directories.append((path, inode))
            case .regularFile:
                if inode.linkCount > 1, let first = firstPathOfInode[inode.inodeNumber] {
                    let ok = withCName(first) { from in
                        withCName(path) { linkat(directory, from, directory, $0, 0) == 0 }
                    }
                    guard ok else { throw failure("link", name) }
                    return
                }
                try writeFile(reader, inode, path: path, in: directory, keepSetID: keepSetID)
                if inode.linkCount > 1 { firstPathOfInode[inode.inodeNumber] = path }
            case .symlink:
                let target = try reader.readLink(inode)
                let ok = withCName(target) { to in withCName(path) { symlinkat(to, directory, $0) == 0 } }
                guard ok else { throw failure("create symlink", name) }
            case .fifo:
                let ok = withCName(path) { mkfifoat(directory, $0, mode(inode, keepSetID)) == 0 }
                guard ok else { throw failure("create FIFO", name) }
            case .blockDevice, .characterDevice, .socket:
                return
            }
        }
        // Children first (reverse of the walk), so a read-only directory is closed only once it is complete.
        for (path, inode) in directories.reversed() {
            let raw = path.isEmpty ? Array(".".utf8) : path
            var times = [
                timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
                timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
            ]
            let ok = withCName(raw) { name in
                _ = utimensat(directory, name, &times, AT_SYMLINK_NOFOLLOW)
                return fchmodat(directory, name, mode(inode, keepSetID), 0) == 0
            }
            guard ok else { throw failure("chmod", displayName(raw)) }
        }
    }

    private static func writeFile(
        _ reader: SquashFS.Reader, _ inode: SquashFS.Reader.Inode, path: [UInt8], in directory: Int32, keepSetID: Bool
    ) throws {
        let name = displayName(path)
        let fd = withCName(path) { raw in
            let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
            var fd: Int32
            repeat { fd = openat(directory, raw, flags, 0o600) } while fd < 0 && errno == EINTR
            return fd
        }
        guard fd >= 0 else { throw failure("create", name) }
        let file = FileDescriptor(owning: fd)
        let raw = file.rawValue  // the closure cannot capture the noncopyable owner
        var position: off_t = 0
        try reader.forEachBlock(of: inode) { bytes in
            // A block of zeros (a sparse block in the image, or written out) stays a hole: skipped, never written,
            // so an image that declares a terabyte of zeros costs no disk.
            if !isZero(bytes) {
                var done = 0
                while done < bytes.count {
                    let n = pwrite(raw, bytes.baseAddress! + done, bytes.count - done, position + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw failure("write", name) }
                    done += n
                }
            }
            position += off_t(bytes.count)
        }
        guard ftruncate(file.rawValue, position) == 0 else { throw failure("set the size of", name) }
        var times = [
            timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
            timespec(tv_sec: Int(inode.modificationTime), tv_nsec: 0),
        ]
        _ = futimens(file.rawValue, &times)
        guard fchmod(file.rawValue, mode(inode, keepSetID)) == 0 else { throw failure("chmod", name) }
    }

    /// True when every byte of `bytes` is zero.
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        return bytes[0] == 0 && memcmp(base, base + 1, bytes.count - 1) == 0
    }

    /// The permission bits to give the extracted `inode`: the image's, without setuid and setgid unless
    /// `keepSetID` (a setuid program extracted by root would otherwise hand every local user root's rights).
    static func mode(_ inode: SquashFS.Reader.Inode, _ keepSetID: Bool) -> mode_t {
        let bits = mode_t(inode.permissions)
        return keepSetID ? bits : bits & ~mode_t(S_ISUID | S_ISGID)
    }

    /// Calls `body` with `bytes` as a NUL-terminated C string, byte for byte.
    private static func withCName<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer {
            try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// `path` for messages only: invalid UTF-8 shows as U+FFFD there, never on disk.
    private static func displayName(_ path: [UInt8]) -> String {
        String(decoding: path, as: UTF8.self)
    }

    private static func failure(_ what: String, _ name: String) -> SquashFS.ReadError {
        SquashFS.ReadError("Cannot \(what) \(name): \(Errno.lastError.description).")
    }
}
