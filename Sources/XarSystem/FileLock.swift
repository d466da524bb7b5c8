internal import CXarSystem
internal import Glibc
public import SystemPackage

/// An advisory whole-file lock (`flock`) on a lock file: shared for users of a mount, exclusive for whoever
/// mounts or unmounts it.
///
/// The lock lives as long as the descriptor; closing the owner (or `exec`, the descriptor is `O_CLOEXEC`)
/// releases it, so a crashed holder never leaves a stale lock behind.
public struct FileLock: ~Copyable {
    /// How the lock is held.
    public enum Kind: Sendable {
        /// Many holders at once (`LOCK_SH`).
        case shared
        /// One holder, no shared holders (`LOCK_EX`).
        case exclusive

        internal var operation: Int32 { self == .shared ? LOCK_SH : LOCK_EX }
    }

    /// The lock file, open for reading and writing.
    public let file: FileDescriptor

    /// Wraps an open lock file; nothing is locked yet.
    public init(file: consuming FileDescriptor) {
        self.file = file
    }

    /// Takes the lock, waiting at most `timeout` seconds; returns false when it could not be had in time.
    ///
    /// A blocking `flock` cannot be bounded without signals, so this tries without blocking and sleeps between
    /// attempts with a growing pause (50 µs up to 5 ms): the common uncontended case costs one system call.
    /// Converting a held lock to the other kind is allowed (`flock` does that in place, not atomically).
    /// The corresponding C function is `flock`.
    public func lock(_ kind: Kind, timeout: Double) throws(Errno) -> Bool {
        let deadline = MonotonicClock.now() + timeout
        var pause: Int = 50_000
        while true {
            if xar_flock(file.rawValue, kind.operation | LOCK_NB) == 0 { return true }
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK else { throw Errno(rawValue: code) }
            if MonotonicClock.now() >= deadline { return false }
            var request = timespec(tv_sec: 0, tv_nsec: pause)
            _ = nanosleep(&request, nil)
            pause = min(pause * 2, 5_000_000)
        }
    }

    /// Releases the lock but keeps the file open.
    ///
    /// The corresponding C function is `flock` with `LOCK_UN`.
    public func unlock() throws(Errno) {
        _ = try retryingEINTR { xar_flock(file.rawValue, LOCK_UN) }
    }
}
