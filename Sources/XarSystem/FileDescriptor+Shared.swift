internal import CXarSystem
internal import Glibc
public import SystemPackage

/// Descriptors known by number to more than one owner: the FUSE server's image and readiness pipe (inherited
/// from the launcher, read by the C session), the local copy's source and copy (read and written by the C
/// read-through too). Swift code above XarSystem still never calls libc on them: it borrows them here.
extension FileDescriptor {
    /// Calls `body` with the open descriptor `rawValue`, which stays its owner's: it is neither closed nor
    /// changed when `body` returns or throws.
    @inline(__always)
    public static func withUnowned<T: ~Copyable, E: Error>(
        _ rawValue: Int32, _ body: (borrowing FileDescriptor) throws(E) -> T
    ) throws(E) -> T {
        let borrowed = FileDescriptor(owning: rawValue)
        do {
            let result = try body(borrowed)
            _ = borrowed.release()
            return result
        } catch {
            _ = borrowed.release()
            throw error
        }
    }

    /// True when `rawValue` is an open descriptor of this process.
    ///
    /// The corresponding C function is `fcntl` with `F_GETFD`.
    public static func isOpen(_ rawValue: Int32) -> Bool { Glibc.fcntl(rawValue, F_GETFD) >= 0 }

    /// Marks the descriptor close-on-exec (one inherited by number, which arrives without the flag).
    ///
    /// The corresponding C function is `fcntl` with `F_SETFD` and `FD_CLOEXEC`.
    public func setCloseOnExec() throws(Errno) {
        _ = try retryingEINTR { Glibc.fcntl(rawValue, F_SETFD, FD_CLOEXEC) }
    }

    /// Makes the descriptor number `target` refer to this open file, in one step, close-on-exec: whoever reads
    /// `target` (the C session) reads this file from its next call on. Whatever `target` referred to is closed.
    ///
    /// The corresponding C function is `dup3` with `O_CLOEXEC` (`dup2`, whose copy would be inheritable, then
    /// `FD_CLOEXEC`, as one call).
    public func duplicate(onto target: Int32) throws(Errno) {
        guard target != rawValue else { return }
        _ = try retryingEINTR { xar_dup_cloexec(rawValue, target) }
    }

    /// A second descriptor for the same open file numbered `minimum` or higher, with `O_CLOEXEC`: for a child
    /// whose descriptors 0 to 2 are replaced, a copy that cannot be one of them.
    ///
    /// The corresponding C function is `fcntl` with `F_DUPFD_CLOEXEC`.
    public func duplicate(atLeast minimum: Int32) throws(Errno) -> FileDescriptor {
        FileDescriptor(owning: try retryingEINTR { Glibc.fcntl(rawValue, F_DUPFD_CLOEXEC, minimum) })
    }

    /// Makes reads wait for data again on a descriptor opened with `nonBlocking` (which only served to open a
    /// FIFO or device without waiting, so it could be refused).
    ///
    /// The corresponding C function is `fcntl` with `F_GETFL` and `F_SETFL`.
    public func clearNonBlocking() throws(Errno) {
        let flags = try retryingEINTR { Glibc.fcntl(rawValue, F_GETFL) }
        _ = try retryingEINTR { Glibc.fcntl(rawValue, F_SETFL, flags & ~O_NONBLOCK) }
    }

    /// Waits at most `timeout` seconds for the descriptor to be readable (data, or the other end closed); false
    /// when the time ran out or a signal came first.
    ///
    /// The corresponding C function is `poll`.
    public func waitUntilReadable(timeout: Double) -> Bool {
        var descriptor = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&descriptor, 1, Int32(timeout * 1000)) > 0
    }

    /// Sets the file's access time to now and leaves its modification time: the file was used, not changed.
    ///
    /// The corresponding C function is `futimens` with `UTIME_NOW` and `UTIME_OMIT`.
    public func setAccessTimeToNow() throws(Errno) {
        // UTIME_NOW and UTIME_OMIT (<sys/stat.h>), which Swift does not import.
        let times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)]
        _ = try retryingEINTR { Glibc.futimens(rawValue, times) }
    }
}
