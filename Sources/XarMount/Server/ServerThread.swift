internal import XarSystem
internal import struct SystemPackage.Errno

/// The server's helper threads (usage monitor, local copy, verifier): `BackgroundThread`s, with every signal
/// blocked, so that SIGTERM, SIGINT and SIGHUP reach the main thread and interrupt the FUSE loop's read of
/// `/dev/fuse`.
enum ServerThread {
    /// Starts `body` on a new thread and returns it (join it with `join()`, or let it end with the process).
    @discardableResult
    static func start(_ body: @escaping @Sendable () -> Void) throws(XarMount.ServerError) -> BackgroundThread {
        do {
            return try BackgroundThread.start(body)
        } catch {
            throw .system("cannot start a server thread", reason: error.description)
        }
    }
}
