import Glibc
import Testing
import XarMount
import XarSystem
import XarTestSupport

/// What a crash of the server leaves behind: a dead mount (ENOTCONN) that the next start repairs, never a server
/// stuck in `D` state (unkillable, hanging every process that touches its mount).
extension ServerTests {
    /// The replay of a start-up plan looks names up through the mount while the loop thread serves them. A server
    /// that crashes while serving one of those lookups must still die: the replay runs in a child process, never on
    /// a thread of the server. (`XAR_SERVER_FAULT=abort-on-lookup:NAME` makes the loop thread abort on that name.)
    @Test func aServerThatCrashesDuringTheReplayDiesAndLeavesADeadMount() throws {
        let harness = try ServerHarness()
        defer { Self.freeStuckServer(harness) }
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        _ = ServerHarness.contents("\(harness.mountPoint)/lib/pkg/data.bin")
        _ = ServerHarness.contents("\(harness.mountPoint)/hello.txt")
        let first = try #require(harness.serverPID)
        #expect(umount2(harness.mountPoint, 0) == 0)
        #expect(harness.wait(seconds: 10) { kill(first, 0) != 0 }, "the server did not exit: \(harness.log)")
        mkdir(harness.mountPoint, 0o755)
        #expect(access(harness.mountPoint + ".startup", F_OK) == 0, "no plan was saved: \(harness.log)")

        // The next server replays the plan; its lookup of `pkg` (the replay's, nothing else touches the mount)
        // aborts it.
        let crashing = try harness.start(
            idleTimeout: 0, environment: ["XAR_SERVER_FAULT": "abort-on-lookup:pkg", "XAR_PREFETCH": "0"])
        #expect(crashing.line == "ok", "\(harness.log)")
        let pid = try #require(harness.serverPID)
        let gone = harness.wait(seconds: 10) { (ProcessStatus.read(pid: pid)?.state ?? .dead) == .dead }
        #expect(gone, "the crashed server is still there, state \(Self.stateLetter(pid)): \(harness.log)")
        guard gone else { return }
        // Dead, not hanging: statfs answers at once with ENOTCONN.
        #expect(Self.boundedStatfsErrno(harness.mountPoint, seconds: 5) == ENOTCONN)

        // The next start repairs it: the dead mount is detached and a new server mounts.
        #expect(XarMount.MountTable.isDead(harness.mountPoint))
        try XarMount.MountTable.removeDeadMount(harness.mountPoint)
        let again = try harness.start(idleTimeout: 0, environment: ["XAR_STARTUP_PLAN": "0"])
        #expect(again.line == "ok", "\(harness.log)")
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
    }

    /// The state letter of `pid` in /proc, for messages.
    static func stateLetter(_ pid: Int32) -> String {
        let stat = TestFiles.readText("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { return "gone" }
        return String(stat[close...].dropFirst(2).prefix(1))
    }

    /// `statfs` of `path` in a child process killed after `seconds`: its errno (0 when it succeeded), or -1 when it
    /// did not return in time.
    static func boundedStatfsErrno(_ path: String, seconds: Double) -> Int32 {
        guard
            let result = try? Process.run(
                ["/usr/bin/stat", "-f", "-c", "%T", path], timeout: seconds)
        else { return -1 }
        if result.status == 0 { return 0 }
        return result.stderr.contains("not connected") ? ENOTCONN : -1
    }

    /// Whatever a test left: a server stuck in `D` state is freed by aborting its FUSE connection (fusectl, as
    /// root), so that a failing test never leaves an unkillable process behind; then the harness's own tear-down.
    static func freeStuckServer(_ harness: ServerHarness) {
        if let minor = fuseConnection(of: harness.mountPoint) {
            _ = try? Process.run(
                [
                    "/bin/sh", "-c",
                    "mountpoint -q /sys/fs/fuse/connections || mount -t fusectl none /sys/fs/fuse/connections; "
                        + "echo 1 > /sys/fs/fuse/connections/\(minor)/abort",
                ], timeout: 10)
        }
        harness.tearDown()
    }

    /// The FUSE connection number (the mount's device minor) of the mount at `path`, from /proc/self/mountinfo.
    static func fuseConnection(of path: String) -> String? {
        for line in TestFiles.readText("/proc/self/mountinfo").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4] == Substring(path) else { continue }
            return fields[2].split(separator: ":").last.map(String.init)
        }
        return nil
    }
}
