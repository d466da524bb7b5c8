import Glibc

/// Writes `bytes` to a new file at `path`, for tests that hand a file to a real program.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WriteError(path: path) }
    defer { close(fd) }
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard n == bytes.count else { throw WriteError(path: path) }
}

/// A test file could not be written.
struct WriteError: Error { var path: String }
