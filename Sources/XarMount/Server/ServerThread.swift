import Glibc
import struct SystemPackage.Errno

/// The server's helper threads (usage monitor, local copy): plain pthreads with every signal blocked, so that
/// SIGTERM, SIGINT and SIGHUP reach the main thread and interrupt the FUSE loop's read of `/dev/fuse`.
enum ServerThread {
    /// A thread's body.
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread and returns it (join it with `pthread_join`, or let it end with the process).
    @discardableResult
    static func start(_ body: @escaping @Sendable () -> Void) throws(XarMount.ServerError) -> pthread_t {
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
            throw .system("cannot start a server thread", reason: Errno(rawValue: result).description)
        }
        return thread
    }
}
