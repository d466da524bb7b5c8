internal import CXarSystem
internal import Glibc
public import SystemPackage

/// A one-way pipe between the launcher and a child, both ends `O_CLOEXEC`.
public struct Pipe: ~Copyable {
    /// The end the parent reads.
    public var readEnd: FileDescriptor
    /// The end the child writes (passed on by number).
    public var writeEnd: FileDescriptor

    /// Creates the pipe.
    ///
    /// The corresponding C function is `pipe2` with `O_CLOEXEC`.
    public init() throws(Errno) {
        var fds: (Int32, Int32) = (-1, -1)
        let rc = withUnsafeMutableBytes(of: &fds) {
            xar_pipe_cloexec($0.baseAddress!.assumingMemoryBound(to: Int32.self))
        }
        if rc != 0 { throw Errno(rawValue: errno) }
        readEnd = FileDescriptor(owning: fds.0)
        writeEnd = FileDescriptor(owning: fds.1)
    }

    /// Gives up both ends without closing them: `(read, write)` descriptor numbers for the caller to own.
    public consuming func release() -> (read: Int32, write: Int32) {
        (readEnd.release(), writeEnd.release())
    }
}

extension FileDescriptor {
    /// Reads one line (without its newline) within `timeout` seconds: nil when the time runs out, the text so
    /// far when the other end closes first.
    ///
    /// Waits with `poll`, so a silent writer cannot hang the caller. The corresponding C functions are `poll`
    /// and `read`.
    public func readLine(timeout: Double, limit: Int = 4096) throws(Errno) -> [UInt8]? {
        let deadline = MonotonicClock.now() + timeout
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < limit {
            let remaining = deadline - MonotonicClock.now()
            if remaining <= 0 { return nil }
            var pfd = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&pfd, 1, Int32(min(remaining * 1000 + 1, 60_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            if ready == 0 { continue }
            let n = try withUnsafeMutableBytes(of: &byte) { (buffer) throws(Errno) -> Int in try read(into: buffer) }
            if n == 0 || byte == 0x0A { return line }
            line.append(byte)
        }
        return line
    }
}
