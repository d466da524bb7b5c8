internal import Glibc

/// The running kernel's release, as `uname -r` prints it (the launcher's host-floor check compares it with an
/// image's `XAR_KERNEL_FLOOR`).
public enum KernelRelease {
    /// The release string (`6.1.0-18-amd64`); nil when `uname` fails.
    ///
    /// The corresponding C function is `uname`.
    public static func current() -> String? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        return withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
