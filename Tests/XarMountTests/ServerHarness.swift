import Glibc
import XarMount
import XarSystem
import XarTestSupport

/// A real `xarfs` server on a real image in a temporary directory, started the way the launcher starts it:
/// the built `xarexec` under the name `xarfs`, the image inherited as an open descriptor, readiness on a pipe.
final class ServerHarness {
    let directory = TemporaryDirectory(prefix: "xar-server")
    /// The `.xar` file: 4096 bytes of header, then a SquashFS image (zstd) of `tree`.
    let imagePath: String
    /// The directory the image was made from, to compare what the mount shows.
    let tree: String
    let mountPoint: String
    let lockPath: String
    let statePath: String
    /// The server's pid once it reported ready (from its state file).
    private(set) var serverPID: Int32?
    /// The SHA-256 of the image part, as `XAR_IMAGE_SHA256` holds it.
    private(set) var digest = ""
    /// Where the server is told the image is (and where the harness opens it): `imagePath` unless a test serves
    /// it through another file system.
    var servedImagePath: String
    /// The cache directory given to the server for local copies.
    var cacheDirectory: String { directory("cache") }

    /// Makes the tree and the image; `prepare` may damage the image file before any server sees it. With
    /// `startupList`, the image also has `/.xar/startup-files` with that text (paths without quotes).
    /// With `uncompressed`, nothing in the image is compressed (its structures can be patched in place).
    init(startupList: String? = nil, uncompressed: Bool = false, prepare: (String) throws -> Void = { _ in }) throws {
        tree = directory("tree")
        imagePath = directory("app.xar")
        mountPoint = directory("mnt")
        lockPath = directory("mnt.lock")
        statePath = directory("mnt.state")
        servedImagePath = imagePath
        try Self.check(
            Process.shell(
                """
                set -e
                mkdir -p '\(tree)/lib/pkg' '\(mountPoint)'
                printf 'hello from the image\\n' > '\(tree)/hello.txt'
                head -c 1000000 /dev/urandom > '\(tree)/lib/pkg/data.bin'
                printf '#!/bin/sh\\necho run\\n' > '\(tree)/run.sh'
                chmod 755 '\(tree)/run.sh'
                ln -s hello.txt '\(tree)/link'
                \(startupList.map { "mkdir '\(tree)/.xar'; printf '%s' '\($0)' > '\(tree)/.xar/startup-files'" } ?? "")
                mksquashfs '\(tree)' '\(directory("image.sqfs"))' \(uncompressed ? "-noI -noD -noF -noX" : "-comp zstd") -quiet -noappend -no-progress
                head -c 4096 /dev/zero > '\(imagePath)'
                cat '\(directory("image.sqfs"))' >> '\(imagePath)'
                : > '\(lockPath)'
                """, timeout: 60))
        digest =
            try Process.shell("tail -c +4097 '\(imagePath)' | sha256sum", timeout: 30).stdout
            .split(separator: " ").first.map(String.init) ?? ""
        try prepare(imagePath)
    }

    /// What a start produced: the first line on the readiness pipe and the exit status of the spawned process.
    struct Start {
        var line: String
        var status: Int32
    }

    /// Starts the server with the idle timeout `idleTimeout` and waits (at most 10 s) for its readiness line.
    /// With `user`, the whole directory is handed to that uid and the server runs as it (through `setpriv`),
    /// so that libfuse mounts through the setuid `fusermount3` as on a user's machine.
    func start(
        idleTimeout: Double, extraArguments: [String]? = nil, environment: [String: String] = [:], user: UInt32? = nil,
        localCopy: XarMount.LocalCopyPolicy = .network, digest: String? = nil
    ) throws -> Start {
        let link = directory("xarfs")
        if access(link, F_OK) != 0 {
            if user != nil {
                // A copy, so that the user needs no access to the build directory.
                try Self.check(
                    Process.run(["cp", TestEnvironment.product("xarexec"), directory("xarexec")], timeout: 30))
                symlink(directory("xarexec"), link)
            } else {
                symlink(TestEnvironment.product("xarexec"), link)
            }
        }
        if let user { try Self.check(Process.run(["chown", "-R", "\(user):\(user)", directory.path], timeout: 30)) }
        let imageFD = open(servedImagePath, O_RDONLY | O_CLOEXEC)
        guard imageFD >= 0 else { throw HarnessError("cannot open \(servedImagePath)") }
        defer { close(imageFD) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw HarnessError("pipe failed") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        defer { close(fds[0]) }
        // In the child the image is fd 3 and the pipe fd 4 (dup2 clears close-on-exec; nothing else leaks).
        let configuration = XarMount.Server.Configuration(
            imagePath: servedImagePath, imageFD: 3, offset: 4096, mountPoint: mountPoint, lockPath: lockPath,
            statePath: statePath, idleTimeout: idleTimeout, readyFD: 4, digest: digest ?? self.digest,
            uuid: "ab00000000000000", localCopy: localCopy, cacheDirectory: cacheDirectory)
        let asUser = user.map { ["/usr/bin/setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups", "--"] } ?? []
        let argv = asUser + [link] + (extraArguments ?? configuration.arguments)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, imageFD, 3)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 4)
        var env: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "XAR_SERVER_LOG=\(directory("server.log"))"]
        env += environment.map { "\($0.key)=\($0.value)" }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        close(fds[1])
        guard spawned == 0 else { throw HarnessError("cannot spawn \(link): \(spawned)") }
        let line = readLine(fds[0], timeout: 10)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if line == "ok" { serverPID = XarMount.ServerState.read(from: statePath)?.pid }
        return Start(line: line, status: exitStatus)
    }

    /// True while the mount point is in /proc/self/mountinfo.
    var isMounted: Bool {
        let mounts = Self.contents("/proc/self/mountinfo")
        return mounts.split(separator: "\n").contains {
            $0.split(separator: " ").dropFirst(4).first == Substring(mountPoint)
        }
    }

    /// The /proc/mounts line of the mount, if mounted.
    var mountsLine: String? {
        let mounts = Self.contents("/proc/mounts")
        return mounts.split(separator: "\n").first {
            $0.split(separator: " ").dropFirst().first == Substring(mountPoint)
        }
        .map(String.init)
    }

    /// The request lines of the server's trace (`XAR_SERVER_TRACE=1`) so far whose kind is `kind` (`lookup`,
    /// `read`, …), or every request line.
    func requests(_ kind: String? = nil) -> [Substring] {
        let prefix = kind.map { "request \($0) " } ?? "request "
        return log.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    /// Polls `condition` every 50 ms for at most `seconds`; returns whether it became true.
    func wait(seconds: Double, for condition: () -> Bool) -> Bool {
        let deadline = now() + seconds
        while now() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// True when the mount is still there once a server with `idleTimeout` would have unmounted an unused one:
    /// the grace period since the last use (the caller's last step), one tick of the usage monitor (a quarter
    /// of it, 0.1 s at least: `UsageMonitor`) and a quarter of a second for the unmount itself. Returns false
    /// as soon as the mount goes; proving that something did not happen takes that long, and no longer.
    func staysMounted(idleTimeout: Double) -> Bool {
        let window = idleTimeout + max(0.1, idleTimeout / 4) + 0.25
        return !wait(seconds: window) { !isMounted }
    }

    /// The server's log (XAR_SERVER_LOG), for failure messages.
    var log: String { Self.contents(directory("server.log")) }

    /// The whole text of a (small) file, or "" when it cannot be read.
    static func contents(_ path: String) -> String { TestFiles.readText(path) }

    /// Kills the server and detaches whatever is left, so that no test leaves a mount or a process behind.
    func tearDown() {
        if let serverPID, ProcessStatus.read(pid: serverPID) != nil {
            kill(serverPID, SIGCONT)
            kill(serverPID, SIGKILL)
        }
        if isMounted { umount2(mountPoint, Int32(MNT_DETACH)) }
    }

    deinit { tearDown() }

    private func readLine(_ fd: Int32, timeout: Double) -> String {
        var bytes: [UInt8] = []
        let deadline = now() + timeout
        while !bytes.contains(UInt8(ascii: "\n")) {
            let remaining = deadline - now()
            if remaining <= 0 { return "timeout" }
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pollFD, 1, Int32(remaining * 1000)) <= 0 { continue }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            if n <= 0 { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    private func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func check(_ result: Process.Result) throws {
        guard result.status == 0 else { throw HarnessError("set-up failed: \(result)") }
    }
}

/// A test set-up step that failed.
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
