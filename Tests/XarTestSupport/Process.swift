import Glibc
import XarSystem

/// Runs real programs for tests and collects what they print: no shell, no mocks.
public enum Process {
    /// What a finished program did.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit status when it exited, or `128 + signal` when a signal ended it.
        public var status: Int32
        /// The signal that ended it, if one did.
        public var signal: Int32?
        public var stdout: String
        public var stderr: String
        /// True when it was killed because it ran past its timeout.
        public var timedOut: Bool

        public var description: String {
            "status \(status)\(signal.map { " (signal \($0))" } ?? "")\(timedOut ? " TIMED OUT" : "")\n"
                + "stdout: \(stdout)\nstderr: \(stderr)"
        }
    }

    /// Runs `argv` (argv[0] is a path, or a name looked up in `PATH`) and waits for it, killing it with SIGKILL
    /// after `timeout` seconds. `environment` replaces the whole environment when given.
    @discardableResult
    public static func run(
        _ argv: [String], environment: [String: String]? = nil, stdin: String? = nil,
        directory: String? = nil, timeout: Double = 120
    ) throws -> Result {
        var args = argv
        if !args[0].contains("/"), let full = TestEnvironment.which(args[0]) { args[0] = full }
        // Glibc's module hides posix_spawn_file_actions_addchdir_np; env -C does the same job.
        if let directory { args = ["/usr/bin/env", "-C", directory, "--"] + args }
        let outPipe = try pipePair(), errPipe = try pipePair(), inPipe = try pipePair()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe.0, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe.1, 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe.1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // New process group, so a timeout can kill the program and everything it started.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)

        let envList: [String] =
            environment.map { $0.map { "\($0.key)=\($0.value)" }.sorted() }
            ?? {
                var list: [String] = []
                var p = environ
                while let entry = p.pointee {
                    list.append(String(cString: entry))
                    p += 1
                }
                return list
            }()
        let cArgs = args.map { strdup($0) } + [nil]
        let cEnv = envList.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, &attr, cArgs, cEnv)
        close(outPipe.1)
        close(errPipe.1)
        close(inPipe.0)
        guard rc == 0 else {
            close(outPipe.0)
            close(errPipe.0)
            close(inPipe.1)
            throw SpawnError(message: "cannot start \(args[0]): \(String(cString: strerror(rc)))")
        }
        if let stdin {
            var bytes = Array(stdin.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(inPipe.1, $0.baseAddress! + done, $0.count - done) }
                if n <= 0 { break }
                done += n
            }
        }
        close(inPipe.1)

        var out: [UInt8] = [], err: [UInt8] = []
        let deadline = now() + timeout
        var open = (out: true, err: true)
        var timedOut = false
        while open.out || open.err {
            let remaining = deadline - now()
            if remaining <= 0 {
                timedOut = true
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                break
            }
            var fds = [
                pollfd(fd: open.out ? outPipe.0 : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open.err ? errPipe.0 : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, Int32(min(remaining, 1) * 1000))
            if ready < 0 && errno == EINTR { continue }
            for (i, fd) in [outPipe.0, errPipe.0].enumerated() where fds[i].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 65536)
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    if i == 0 { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    if i == 0 { open.out = false } else { open.err = false }
                }
            }
        }
        close(outPipe.0)
        close(errPipe.0)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let sig: Int32? = signalled ? status & 0x7f : nil
        let code: Int32 = sig.map { 128 + $0 } ?? ((status >> 8) & 0xff)
        return Result(
            status: code, signal: sig,
            stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
            timedOut: timedOut)
    }

    /// Runs a shell command line with `/bin/sh -c`; for oracles and set-up steps, never for the code under test.
    @discardableResult
    public static func shell(_ command: String, timeout: Double = 300) throws -> Result {
        try run(["/bin/sh", "-c", command], timeout: timeout)
    }

    /// The error thrown when a program cannot be started at all.
    public struct SpawnError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// A pipe whose ends are close-on-exec from their first instant (`pipe2`): with `pipe` then `FD_CLOEXEC`, a child
    /// a parallel test forks in between keeps the write end, and this test waits for the end of its output until
    /// that unrelated child exits.
    private static func pipePair() throws -> (Int32, Int32) {
        do {
            let ends = try XarSystem.Pipe().release()
            return (ends.read, ends.write)
        } catch {
            throw SpawnError(message: "pipe failed: \(error)")
        }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
