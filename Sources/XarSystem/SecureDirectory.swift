public import Glibc
public import SystemPackage

/// Opening and creating the launcher's directories and lock files so that nobody else can slip a symlink,
/// a foreign directory or a loose mode under us.
///
/// Every step opens one component with `openat` and `O_NOFOLLOW` relative to an already checked directory,
/// then checks what it got with `fstat` on the open descriptor (not the path, which could change in between).
public enum SecureDirectory {
    /// Why an entry was refused: a sentence naming the path and what to fix comes from `message(for:)`.
    public enum Refusal: Error, Sendable, Equatable {
        /// The path is a symbolic link (or a component of it is not a directory).
        case symlink
        /// The entry is not the kind expected (a directory, a regular file).
        case wrongType
        /// The entry belongs to another user.
        case wrongOwner(uid: UInt32)
        /// The entry's permission bits are not the ones required.
        case wrongMode(mode: UInt32, expected: UInt32)
        /// The system call failed.
        case failed(Errno)

        /// A sentence naming `path`, what is wrong and what to do about it.
        public func message(for path: String) -> String {
            switch self {
            case .symlink:
                return "\(path) is a symbolic link or not a directory; remove it (rm \(path)) and run again"
            case .wrongType:
                return "\(path) has the wrong file type; remove it (rm -r \(path)) and run again"
            case .wrongOwner(let uid):
                return "\(path) belongs to uid \(uid), not to uid \(geteuid()); remove it or pick another mount root "
                    + "with XAR_MOUNT_ROOT"
            case .wrongMode(let mode, let expected):
                return "\(path) has mode \(octal(mode)), expected \(octal(expected)); run chmod \(octal(expected)) "
                    + "\(path)"
            case .failed(let errno):
                return "cannot open \(path): \(errno)"
            }
        }
    }

    /// Opens the directory `name` in the directory `parent` (a raw descriptor, `AT_FDCWD` for an absolute `name`),
    /// creating it
    /// with `mode` when `create` is set and it is missing; then requires it to be ours with exactly `mode`.
    ///
    /// `mode` is applied with `fchmod` after `mkdirat`, so the umask cannot loosen or tighten it.
    public static func openOwnedDirectory(
        _ name: String, in parent: Int32, mode: mode_t, create: Bool
    ) throws(Refusal) -> FileDescriptor {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
        var created = false
        var fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(name, flags: flags, relativeToRaw: parent)
        } catch Errno.noSuchFileOrDirectory where create {
            if mkdirat(parent, name, mode) != 0 && errno != EEXIST { throw .failed(Errno(rawValue: errno)) }
            created = true
            do { fd = try FileDescriptor.open(name, flags: flags, relativeToRaw: parent) } catch {
                throw classify(error)
            }
        } catch {
            throw classify(error)
        }
        let st: stat
        do { st = try fd.status() } catch { throw .failed(error) }
        if created && st.st_uid == geteuid() && st.st_mode & 0o7777 != mode { _ = fchmod(fd.rawValue, mode) }
        try check(fd, type: S_IFDIR, mode: mode)
        return fd
    }

    /// Opens (creating when missing) the regular file `name` in `directory` for reading and writing, and
    /// requires it to be ours with exactly `mode`: lock files.
    public static func openOwnedFile(
        _ name: String, in directory: borrowing FileDescriptor, mode: mode_t
    ) throws(Refusal) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(name, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: mode, relativeTo: directory)
        } catch {
            throw classify(error)
        }
        if let st = try? fd.status(), st.st_uid == geteuid(), st.st_size == 0, st.st_mode & 0o7777 != mode {
            _ = fchmod(fd.rawValue, mode)  // freshly created under a restrictive umask
        }
        try check(fd, type: S_IFREG, mode: mode)
        return fd
    }

    /// Requires the open `fd` to be of `type`, owned by the effective user, with permission bits `mode`.
    public static func check(_ fd: borrowing FileDescriptor, type: mode_t, mode: mode_t) throws(Refusal) {
        let st: stat
        do { st = try fd.status() } catch { throw .failed(error) }
        if st.st_mode & S_IFMT != type { throw .wrongType }
        if st.st_uid != geteuid() { throw .wrongOwner(uid: st.st_uid) }
        if st.st_mode & 0o7777 != mode { throw .wrongMode(mode: st.st_mode & 0o7777, expected: mode) }
    }

    private static func classify(_ error: Errno) -> Refusal {
        switch error {
        case .tooManySymbolicLinkLevels, .notDirectory: return .symlink
        default: return .failed(error)
        }
    }
}

/// `mode` as a four-digit octal string, the way chmod takes it.
public func octal(_ mode: UInt32) -> String {
    let digits = String(mode & 0o7777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
