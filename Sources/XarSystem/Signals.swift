internal import Glibc

/// The few signals the FUSE server and the launcher deal with: their dispositions, and sending one. No handler is
/// written in Swift: libfuse installs the server's own (in C) over the default dispositions set here.
public enum Signals {
    /// A signal by what it means.
    public enum Signal: Sendable, CaseIterable {
        /// SIGTERM.
        case terminate
        /// SIGINT.
        case interrupt
        /// SIGHUP.
        case hangUp
        /// SIGPIPE.
        case brokenPipe
        /// SIGKILL, which cannot be caught, blocked or ignored.
        case kill

        internal var number: Int32 {
            switch self {
            case .terminate: SIGTERM
            case .interrupt: SIGINT
            case .hangUp: SIGHUP
            case .brokenPipe: SIGPIPE
            case .kill: SIGKILL
            }
        }
    }

    /// Gives each of `signals` its default disposition and unblocks it for the calling thread: a process started
    /// with them ignored or blocked (as the launcher's children are) can be ended by them again.
    ///
    /// The corresponding C functions are `signal` with `SIG_DFL` and `sigprocmask` with `SIG_UNBLOCK`.
    public static func restoreDefault(_ signals: [Signal]) {
        var handled = sigset_t()
        sigemptyset(&handled)
        for signal in signals {
            _ = Glibc.signal(signal.number, SIG_DFL)
            sigaddset(&handled, signal.number)
        }
        sigprocmask(SIG_UNBLOCK, &handled, nil)
    }

    /// Sends `signal` to the process `pid`; false when it could not be sent (no such process, not ours).
    ///
    /// The corresponding C function is `kill`.
    @discardableResult
    public static func send(_ signal: Signal, to pid: Int32) -> Bool {
        Glibc.kill(pid, signal.number) == 0
    }

    /// Ignores `signal` from now on (SIGPIPE: a write to a closed pipe then fails with `EPIPE` instead).
    ///
    /// The corresponding C function is `signal` with `SIG_IGN`.
    public static func ignore(_ signal: Signal) {
        _ = Glibc.signal(signal.number, SIG_IGN)
    }
}
