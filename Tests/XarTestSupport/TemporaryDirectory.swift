import Glibc

/// A fresh directory under `$TMPDIR` (or `/tmp`) that is removed, with everything in it, when the owner goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The absolute path of the directory.
    public let path: String

    /// Creates a new, empty directory whose name starts with `prefix`.
    public init(prefix: String = "xar-test") {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed under \(base): errno \(errno)")
        path = String(cString: made!)
    }

    /// `path/relative`.
    public func callAsFunction(_ relative: String) -> String { "\(path)/\(relative)" }

    deinit {
        _ = try? Process.run(["/bin/rm", "-rf", "--one-file-system", path])
    }
}
