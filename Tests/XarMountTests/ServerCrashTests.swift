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
        // Dead, not hanging: statfs answers with ENOTCONN once the kernel has closed the dead server's connection
        // (under the whole suite's load that can take a moment after the process is gone), each try bounded.
        var answer: Int32 = -1
        _ = harness.wait(seconds: 10) {
            answer = Self.boundedStatfsErrno(harness.mountPoint, seconds: 3)
            return answer == ENOTCONN
        }
        #expect(answer == ENOTCONN, "statfs of the dead mount: \(answer) (-1: no answer in time or another error)")

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

/// A start-up plan is a hint from a file beside the mount: its pieces are checked against the image before use.
extension ServerTests {
    /// A plan whose piece of `data.bin`'s second block is relabelled as its first would put the wrong bytes into
    /// data.bin's page cache; every piece is checked against its inode's block list and fragment, so the plan is
    /// ignored and the mount serves the image's bytes.
    @Test func aTamperedPlanCannotServeAnotherFilesBytes() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let plan = harness.mountPoint + ".startup"
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        _ = ServerHarness.contents("\(harness.mountPoint)/lib/pkg/data.bin")
        _ = ServerHarness.contents("\(harness.mountPoint)/hello.txt")
        let pid = try #require(harness.serverPID)
        #expect(umount2(harness.mountPoint, 0) == 0)
        #expect(harness.wait(seconds: 10) { kill(pid, 0) != 0 }, "\(harness.log)")
        mkdir(harness.mountPoint, 0o755)
        var bytes = try #require(ServerFuzzTests.read(plan))
        let head = 8 + 96 + 4
        let count = Int(bytes[head - 4]) | Int(bytes[head - 3]) << 8
        // The FUSE inode numbers, from the plan's names: per lookup its kind (1 byte), directory (8), inode (8),
        // name length (1) and name.
        func le(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
        var inodes: [String: UInt64] = [:]
        var at = head + 36 * count + 4
        while at + 18 <= bytes.count {
            let length = Int(bytes[at + 17])
            inodes[String(decoding: bytes[(at + 18)..<(at + 18 + length)], as: UTF8.self)] = le(at + 9)
            at += 18 + length
        }
        let data = try #require(inodes["data.bin"], "\(inodes)")
        var forged = 0
        for index in 0..<count {
            let at = head + 36 * index
            // data.bin's second block, relabelled as its first.
            guard le(at + 20) == data, le(at + 28) != 0 else { continue }
            for i in 0..<8 { bytes[at + 28 + i] = 0 }
            forged += 1
            break
        }
        try #require(forged > 0, "no second block of data.bin in the plan")
        try #require(ServerFuzzTests.write(bytes, to: plan))
        let before = harness.log.count
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        let log = String(harness.log.dropFirst(before))
        #expect(log.contains("ignoring \(plan): not a start-up plan"), "\(log)")
        usleep(300_000)  // time for a read-ahead that would have stored the forged piece
        let served = ServerFuzzTests.read("\(harness.mountPoint)/lib/pkg/data.bin")
        #expect(served == ServerFuzzTests.read("\(harness.tree)/lib/pkg/data.bin"), "data.bin serves other bytes")
    }
}
