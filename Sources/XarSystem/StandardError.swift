internal import Glibc

/// Unbuffered writes to standard error: the one stderr writer of the launcher, the server and the tools.
///
/// Unbuffered so a line interleaves correctly with a progress bar and is out before an `exec` or `exit`; Swift's
/// `print` buffers and would drag in more of the standard library's I/O.
public enum StandardError {
    /// Writes `text` to file descriptor 2 as is; gives up silently when stderr is closed or full.
    ///
    /// The corresponding C function is `write`, retried on `EINTR` and after a short write.
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(2, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }

    /// True when standard error is a terminal (a progress bar may be drawn there).
    ///
    /// The corresponding C function is `isatty`.
    public static var isTerminal: Bool { isatty(2) == 1 }

    /// The width of the terminal standard error is, in columns; nil when it is not a terminal or cannot tell.
    ///
    /// The corresponding C function is `ioctl` with `TIOCGWINSZ`.
    public static var terminalColumns: Int? {
        var size = winsize()
        let result = withUnsafeMutablePointer(to: &size) { ioctl(2, UInt(TIOCGWINSZ), $0) }
        return result == 0 && size.ws_col > 0 ? Int(size.ws_col) : nil
    }

    /// Writes `line` and a newline to standard error.
    public static func writeLine(_ line: String) {
        write(line + "\n")
    }
}
