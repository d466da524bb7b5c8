internal import CXarSystem
internal import Glibc
public import SystemPackage

/// Removing a directory tree relative to an open directory, without following symlinks out of it.
public enum TreeRemoval {
    /// Removes `name` in `parent` and everything below it; a missing `name` is not an error.
    ///
    /// Each directory is opened with `O_NOFOLLOW` and emptied through its own descriptor (`unlinkat`), so a
    /// symlink in the tree is removed, never followed.
    public static func remove(_ name: String, in parent: Int32) throws(Errno) {
        if unlinkat(parent, name, 0) == 0 { return }
        switch errno {
        case ENOENT: return
        case EISDIR, EPERM: break
        default: throw Errno(rawValue: errno)
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw Errno(rawValue: errno) }
        guard let stream = fdopendir(fd) else {
            close(fd)
            throw Errno(rawValue: errno)
        }
        defer { closedir(stream) }
        _ = fchmod(fd, 0o700)  // a read-only directory from an image could not be emptied otherwise
        var names: [String] = []
        while let entry = readdir(stream) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if entryName != "." && entryName != ".." { names.append(entryName) }
        }
        for child in names { try remove(child, in: fd) }
        if unlinkat(parent, name, AT_REMOVEDIR) != 0 { throw Errno(rawValue: errno) }
    }

    /// Flushes the file system holding `fd` to its device, so a rename that publishes the tree comes after
    /// its contents.
    ///
    /// The corresponding C function is `syncfs`.
    public static func syncFileSystem(of fd: Int32) throws(Errno) {
        _ = try retryingEINTR { xar_syncfs(fd) }
    }
}
