internal import Glibc
internal import XarSystem

/// Is the server that a state file names still serving? Read from `kill(pid, 0)` and `/proc/PID/stat`.
enum ServerProcess {
    /// A server process's condition.
    enum State: Equatable {
        /// Running or sleeping: it answers requests.
        case running
        /// Stopped (SIGSTOP) or traced: requests to its mount block until it resumes.
        case stopped
        /// No such process (or a zombie).
        case gone
    }

    /// The condition of process `pid`.
    ///
    /// The state letter is the first field after the command name's closing parenthesis in `/proc/PID/stat`
    /// (proc(5)); the name may itself contain parentheses, hence the last one.
    static func state(of pid: Int32) -> State {
        if kill(pid, 0) != 0 && errno == ESRCH { return .gone }
        guard let file = try? FileDescriptor.open("/proc/\(pid)/stat", flags: O_RDONLY) else { return .gone }
        return withUnsafeTemporaryAllocation(byteCount: 512, alignment: 1) { buffer -> State in
            guard let n = try? file.read(into: buffer), n > 0 else { return .gone }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            guard let close = bytes.lastIndex(of: 0x29), close + 2 < n else { return .running }
            switch bytes[close + 2] {
            case UInt8(ascii: "T"), UInt8(ascii: "t"): return .stopped
            case UInt8(ascii: "Z"), UInt8(ascii: "X"): return .gone
            default: return .running
            }
        }
    }
}
