import Foundation
import Synchronization
import XarSystem

/// What a build must remove, and the tools it must stop, when it is interrupted (Ctrl-C, `kill`): the staging
/// directory, the image's temporary file, the tools' output files and the tools still running.
///
/// Whoever creates such a thing registers it and unregisters it once it is gone or committed. A command that
/// calls `removeOnSignal()` then handles SIGINT, SIGTERM and SIGHUP: it stops the running tools, removes what is
/// registered and dies of the same signal, so the shell sees 130 or 143 as for any interrupted program.
public enum BuildCleanup {
    private struct State {
        var paths: [Int: String] = [:]
        var processes: [Int: Int32] = [:]
        var next = 0
    }

    private static let state = Mutex(State())

    /// Registers `path` (a file or a directory tree) for removal on a signal; returns the token to unregister it.
    @discardableResult
    public static func register(path: String) -> Int {
        state.withLock { state in
            state.next += 1
            state.paths[state.next] = path
            return state.next
        }
    }

    /// Registers a running child process, to be killed on a signal.
    static func register(process: Int32) -> Int {
        state.withLock { state in
            state.next += 1
            state.processes[state.next] = process
            return state.next
        }
    }

    /// Forgets what `token` registered.
    public static func unregister(_ token: Int) {
        state.withLock { state in
            state.paths[token] = nil
            state.processes[token] = nil
        }
    }

    /// From now on, SIGINT, SIGTERM and SIGHUP clean up and end the process with that signal (a signal the
    /// process was started ignoring, as `nohup` does, stays ignored). `erase` runs first (to clear a progress line).
    ///
    /// The handler only writes the signal's number to a pipe; a thread of ours reads it and does the work, since
    /// almost nothing is safe inside a signal handler. Call it from the thread that runs the build.
    public static func removeOnSignal(erase: @escaping @Sendable () -> Void = {}) {
        var fds: [Int32] = [0, 0], parked: [Int32] = [0, 0]
        guard pipe(&fds) == 0, pipe(&parked) == 0 else { return }
        signalPipe = fds[1]
        parkedPipe = parked[1]
        let (reader, parkedReader) = (fds[0], parked[0])
        let worker = pthread_self()
        // The thread that does the build is parked (SIGUSR2, whose handler never returns) before anything is
        // removed: left running, it would fail on the removed directory and exit 1, or create it again.
        var park = sigaction()
        park.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(BuildCleanup.parkedPipe, &byte, 1)
            while true { pause() }
        }
        sigemptyset(&park.sa_mask)
        sigaction(SIGUSR2, &park, nil)
        Thread.detachNewThread {
            var number: Int32 = 0
            while read(reader, &number, MemoryLayout<Int32>.size) != MemoryLayout<Int32>.size {
                if errno != EINTR { return }
            }
            pthread_kill(worker, SIGUSR2)
            var wait = pollfd(fd: parkedReader, events: Int16(POLLIN), revents: 0)
            _ = poll(&wait, 1, 2000)
            erase()
            cleanUp()
            signal(number, SIG_DFL)
            raise(number)
        }
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var old = sigaction()
            sigaction(number, nil, &old)
            if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
                continue
            }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var value = number
                _ = write(BuildCleanup.signalPipe, &value, MemoryLayout<Int32>.size)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
    }

    /// The pipe's write end, set before any handler is installed and never changed after.
    nonisolated(unsafe) private static var signalPipe: Int32 = -1
    /// Written to by the parked build thread.
    nonisolated(unsafe) private static var parkedPipe: Int32 = -1

    /// Kills the registered tools and removes the registered paths.
    static func cleanUp() {
        let (paths, processes) = state.withLock { state in
            defer {
                state.paths = [:]
                state.processes = [:]
            }
            return (Array(state.paths.values), Array(state.processes.values))
        }
        for pid in processes { kill(pid, SIGKILL) }
        for path in paths { try? FileSystem.removeTree(path) }
    }
}
