import Glibc
import XarSystem

/// Small file helpers the tests share.
///
/// Files a test later executes are never written through a descriptor of this process that lacks `O_CLOEXEC`
/// (Foundation's `copyItem` and `write(toFile:)` open without it): tests run in parallel, and a child another test
/// forks at that moment inherits the descriptor, so the `exec` of the file fails with ETXTBSY ("Text file busy") for
/// as long as that child lives.
public enum TestFiles {
    /// The whole text of a small file (a log, a state file, a program's output), or "" when it cannot be read:
    /// tests poll such files while another process may still be creating them.
    public static func readText(_ path: String) -> String { SmallFile.text(path) }

    /// Copies `source` to `destination` (mode and times kept) in a child process, so that no descriptor open for
    /// writing ever exists in the test process: the copy can be executed at once.
    public static func copy(_ source: String, to destination: String) throws {
        let result = try Process.run(["/bin/cp", "-p", source, destination])
        guard result.status == 0 else { throw TestFileError(message: "cp \(source) \(destination): \(result.stderr)") }
    }

    /// Writes `text` to `path` atomically through a close-on-exec descriptor, then sets `mode`.
    public static func write(_ text: String, to path: String, mode: UInt32 = 0o644) throws {
        try write(Array(text.utf8), to: path, mode: mode)
    }

    /// Writes `bytes` to `path` atomically through a close-on-exec descriptor, then sets `mode`.
    public static func write(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644) throws {
        try SmallFile.replace(path, with: bytes)
        guard chmod(path, mode_t(mode)) == 0 else { throw TestFileError(message: "chmod \(path) failed") }
    }
}

/// A helper of `TestFiles` failed; `message` says what was done.
public struct TestFileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
