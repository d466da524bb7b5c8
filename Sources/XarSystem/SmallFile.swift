import Glibc

/// Whole-file reads and writes of the small files the runtime consults: `/proc` entries, state files, mount tables.
public enum SmallFile {
    /// The whole contents of the file at `path`, or nil when it cannot be read; `FileSystem.contents` without the
    /// reason (a `/proc` file is read to its end; `followSymlinks: false` refuses a symbolic link).
    public static func read(_ path: String, followSymlinks: Bool = true) -> [UInt8]? {
        try? FileSystem.contents(path, followSymlinks: followSymlinks)
    }

    /// The whole text of the file at `path`, decoded as UTF-8; "" when it cannot be opened.
    public static func text(_ path: String) -> String {
        String(decoding: read(path) ?? [], as: UTF8.self)
    }

    /// Why `replace` failed: writing the temporary file or renaming it, and the `errno`.
    public struct WriteError: Error {
        /// The temporary file next to the target.
        public let temporary: String
        /// False when writing the temporary file failed, true when renaming it over the target did.
        public let renaming: Bool
        public let code: Int32

        /// The step as a phrase, e.g. "cannot write /x/y.tmp.12".
        public func step(target: String) -> String {
            renaming ? "cannot rename \(temporary) to \(target)" : "cannot write \(temporary)"
        }
    }

    /// Replaces the file at `path` with `bytes` atomically: a temporary file next to it (mode 0600, never through
    /// a symbolic link), then `rename`. Readers see the old file or the new one, never a part. On failure the
    /// temporary file is removed and `path` is untouched. With `sync` the file is flushed to its device before the
    /// `rename`.
    public static func replace(_ path: String, with bytes: [UInt8], sync: Bool = false) throws(WriteError) {
        try replace(path, sync: sync) { fd in
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return n == 0 ? EIO : errno }
                done += n
            }
            return 0
        }
    }

    /// Replaces the file at `path` atomically with what `write` writes to the descriptor it is given (a new, empty
    /// temporary file next to `path`, mode 0600, never through a symbolic link); `write` returns 0 or an `errno`
    /// value. With `sync` the file is flushed to its device before the `rename`. On failure the temporary file is
    /// removed and `path` is untouched.
    public static func replace(_ path: String, sync: Bool = false, write: (Int32) -> Int32) throws(WriteError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw WriteError(temporary: temporary, renaming: false, code: errno) }
        var code = write(fd)
        if code == 0 && sync && fsync(fd) != 0 { code = errno }
        close(fd)
        guard code == 0 else {
            unlink(temporary)
            throw WriteError(temporary: temporary, renaming: false, code: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw WriteError(temporary: temporary, renaming: true, code: code)
        }
    }
}
