import Glibc

/// What `/proc/PID/stat` says about a process: its name and its scheduling state.
///
/// The launcher uses it before it touches a mount: a FUSE server that is stopped (SIGSTOP, a debugger) makes
/// every uncached request on its mount block, so the launcher checks the server's state first and fails with
/// a message in bounded time instead of hanging in `stat` or `open`.
public struct ProcessStatus: Sendable, Equatable {
    /// The scheduling state, the third field of `/proc/PID/stat` (see proc(5)).
    public enum State: Sendable, Equatable {
        /// `R`: running or runnable.
        case running
        /// `S` or `D`: waiting (interruptibly or not), e.g. a FUSE server blocked reading `/dev/fuse`.
        case sleeping
        /// `T` or `t`: stopped by a signal or traced; it answers nothing until continued.
        case stopped
        /// `Z` or `X`: exited, not yet reaped.
        case dead
        /// Any other letter (`I` idle kernel thread, `P` parked, ...).
        case other(Character)
    }

    /// The process id.
    public var pid: Int32
    /// The command name (`comm`): the executable's base name or what the process set with `PR_SET_NAME`.
    public var name: String
    /// The scheduling state.
    public var state: State

    /// A status with every field given.
    public init(pid: Int32, name: String, state: State) {
        self.pid = pid
        self.name = name
        self.state = state
    }

    /// True when the process exists and can answer requests (neither stopped nor dead).
    public var isResponsive: Bool {
        switch state {
        case .stopped, .dead: false
        default: true
        }
    }

    /// Reads `/proc/PID/stat`; nil when there is no such process.
    public static func read(pid: Int32) -> ProcessStatus? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        var count = 0
        repeat {
            count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        } while count < 0 && errno == EINTR
        guard count > 0 else { return nil }
        return parse(buffer[0..<count])
    }

    /// Parses the text of `/proc/PID/stat`: `pid (comm) state ...`. The name may hold spaces and parentheses,
    /// so it ends at the last `)`.
    public static func parse<Bytes: Collection<UInt8>>(_ text: Bytes) -> ProcessStatus? {
        let bytes = Array(text)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
            let close = bytes.lastIndex(of: UInt8(ascii: ")")), close > open, close + 2 < bytes.count,
            let pid = Int32(String(decoding: bytes[..<open], as: UTF8.self).trimmingSpaces)
        else { return nil }
        let name = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        let letter = Character(UnicodeScalar(bytes[close + 2]))
        let state: State =
            switch letter {
            case "R": .running
            case "S", "D": .sleeping
            case "T", "t": .stopped
            case "Z", "X", "x": .dead
            default: .other(letter)
            }
        return ProcessStatus(pid: pid, name: name, state: state)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
