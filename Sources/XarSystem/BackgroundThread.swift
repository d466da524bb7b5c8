internal import Glibc
public import SystemPackage

/// A thread of the process's own (a POSIX thread, not a task), started with every signal blocked: signals meant
/// for the process (SIGTERM, SIGINT, SIGHUP) then reach the thread that waits for them, the FUSE server's main
/// thread, whose read of `/dev/fuse` they interrupt.
public struct BackgroundThread: Sendable {
    /// The `pthread_t`.
    private let handle: UInt

    /// A thread's body, kept alive until the thread takes it.
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread, with every signal blocked on it; join it with `join()`, or let it end with
    /// the process.
    ///
    /// The corresponding C functions are `pthread_sigmask` (around the start: the new thread inherits the mask)
    /// and `pthread_create`.
    public static func start(_ body: @escaping @Sendable () -> Void) throws(Errno) -> BackgroundThread {
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        return BackgroundThread(handle: thread)
    }

    /// Waits for the thread to end.
    ///
    /// The corresponding C function is `pthread_join`.
    public func join() {
        _ = pthread_join(handle, nil)
    }
}
