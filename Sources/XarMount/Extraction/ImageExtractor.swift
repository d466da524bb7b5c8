public import XarSquashFS
public import XarSystem
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
    public static func extract(
        _ reader: SquashFS.Reader, into directory: borrowing FileDescriptor, keepSetID: Bool = false
    ) throws {
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
                do { try directory.createDirectory(path, permissions: 0o700) } catch {
                    throw failure("create directory", name, error)
                }
                directories.append((path, inode))
            case .regularFile:
                if inode.linkCount > 1, let first = firstPathOfInode[inode.inodeNumber] {
                    do { try directory.createHardLink(path, to: first) } catch { throw failure("link", name, error) }
                    return
                }
                try writeFile(reader, inode, path: path, in: directory, keepSetID: keepSetID)
                if inode.linkCount > 1 { firstPathOfInode[inode.inodeNumber] = path }
            case .symlink:
                let target = try reader.readLink(inode)
                do { try directory.createSymbolicLink(path, target: target) } catch {
                    throw failure("create symlink", name, error)
                }
            case .fifo:
                do { try directory.createFIFO(path, permissions: mode(inode, keepSetID)) } catch {
                    throw failure("create FIFO", name, error)
                }
            case .blockDevice, .characterDevice, .socket:
                return
            }
        }
        // Children first (reverse of the walk), so a read-only directory is closed only once it is complete.
        for (path, inode) in directories.reversed() {
            let raw = path.isEmpty ? Array(".".utf8) : path
            _ = try? directory.setTimes(of: raw, seconds: Int(inode.modificationTime))
            do { try directory.setPermissions(of: raw, mode(inode, keepSetID)) } catch {
                throw failure("chmod", displayName(raw), error)
            }
        }
    }

    private static func writeFile(
        _ reader: SquashFS.Reader, _ inode: SquashFS.Reader.Inode, path: [UInt8],
        in directory: borrowing FileDescriptor,
        keepSetID: Bool
    ) throws {
        let name = displayName(path)
        let file: FileDescriptor
        do {
            file = try directory.open(
                path, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: 0o600)
        } catch {
            throw failure("create", name, error)
        }
        try writeContents(reader, inode, to: file, name: name)
        _ = try? file.setTimes(seconds: Int(inode.modificationTime))
        do { try file.setPermissions(mode(inode, keepSetID)) } catch { throw failure("chmod", name, error) }
    }

    /// Writes the file's bytes into `file` (new, empty) and sets its size.
    private static func writeContents(
        _ reader: SquashFS.Reader, _ inode: SquashFS.Reader.Inode, to file: borrowing FileDescriptor, name: String
    ) throws {
        var position: Int64 = 0
        try reader.forEachBlock(of: inode) { bytes in
            // A block of zeros (a sparse block in the image, or written out) stays a hole: skipped, never written,
            // so an image that declares a terabyte of zeros costs no disk.
            if !isZero(bytes) {
                do { try file.write(bytes, at: position) } catch { throw failure("write", name, error) }
            }
            position += Int64(bytes.count)
        }
        do { try file.truncate(to: position) } catch { throw failure("set the size of", name, error) }
    }

    /// True when every byte of `bytes` is zero: eight bytes at a time, then the rest.
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let words = bytes.count / 8
        for index in 0..<words where bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 {
            return false
        }
        for index in words * 8..<bytes.count where bytes[index] != 0 { return false }
        return true
    }

    /// The permission bits to give the extracted `inode`: the image's, without setuid and setgid unless
    /// `keepSetID` (a setuid program extracted by root would otherwise hand every local user root's rights).
    static func mode(_ inode: SquashFS.Reader.Inode, _ keepSetID: Bool) -> UInt32 {
        let bits = UInt32(inode.permissions)
        return keepSetID ? bits : bits & ~UInt32(0o6000)  // S_ISUID | S_ISGID
    }

    /// `path` for messages only: invalid UTF-8 shows as U+FFFD there, never on disk.
    private static func displayName(_ path: [UInt8]) -> String {
        String(decoding: path, as: UTF8.self)
    }

    private static func failure(_ what: String, _ name: String, _ error: any Error) -> SquashFS.ReadError {
        SquashFS.ReadError("Cannot \(what) \(name): \(Errno.reason(of: error)).")
    }
}
