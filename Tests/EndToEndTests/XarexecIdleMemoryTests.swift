import Glibc
import Testing
import XarTestSupport

/// An idle server gives back what it no longer needs (docs/lifecycle.md, "An idle server's memory"): its resident
/// memory is measured against `squashfuse_ll` serving the same image after the same use, both started here.
@Suite(
    .enabled(if: XarexecFixture.canBuild && TestEnvironment.hasFuse && TestEnvironment.hasTool("squashfuse_ll")),
    .tags(.fuse, .oracle, .slow))
struct XarexecIdleMemoryTests {
    /// The bound on ours / squashfuse_ll's resident memory (`Rss` of /proc/PID/smaps_rollup): the goal, 1.0.
    /// Measured with the debug build the tests use: ~0.7 (release build: ~0.55, scripts/bench-idle-rss); before
    /// the idle server gave the executable's pages and its arenas back, ~3 (release: ~2). The margin is for a
    /// loaded machine, which delays the trims (hence the polling below).
    static let bound = 1.0

    /// The resident kilobytes of process `pid`, or nil when it is gone.
    func residentKB(_ pid: Int32) -> Int? {
        let result = try? Process.shell("awk '$1 == \"Rss:\" {print $2}' /proc/\(pid)/smaps_rollup", timeout: 30)
        return result.flatMap { Int($0.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func anIdleServerHoldsNoMoreMemoryThanSquashfuseLL() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("idle")
        let env = ["XAR_MOUNT_TIMEOUT": "600"]
        // Ours: one launch.
        let run = try fixture.xarexec([xar, "exit", "0"], env: env)
        try #require(run.status == 0, "\(run)")
        let mount = try fixture.xarexec(["-n", xar], env: env).stdout.trimmingCharacters(in: .newlines)
        let state = try fixture.run("cat '\(mount).state'").stdout
        let ours = try #require(
            state.split(separator: "\n").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) })

        // squashfuse_ll: the same image, mounted in the foreground (in the background of a shell), the same program
        // run once from it.
        let theirMount = fixture.dir("squashfuse")
        let offset = try fixture.run("sed -n 's/^OFFSET=\"\\([0-9]*\\)\"$/\\1/p' '\(xar)'").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let started = try fixture.run(
            "mkdir -p '\(theirMount)' && { squashfuse_ll -f -o offset=\(offset) '\(xar)' '\(theirMount)' "
                + ">/dev/null 2>&1 & echo $!; }")
        let theirs = try #require(Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer {
            _ = try? Process.shell("fusermount3 -u -z '\(theirMount)' 2>/dev/null", timeout: 30)
            for _ in 0..<100 where kill(theirs, 0) == 0 { usleep(50_000) }
            if kill(theirs, 0) == 0 { kill(theirs, SIGKILL) }
        }
        // Polled with a plain shell (not `fixture.run`, which records every non-zero status as a failure): the
        // first looks may come before squashfuse_ll is up; up to 20 s is allowed for a loaded machine.
        var mounted = false
        for _ in 0..<400 where !mounted {
            mounted = (try? Process.shell("grep -q ' \(theirMount) fuse' /proc/self/mounts", timeout: 30).status) == 0
            if !mounted { usleep(50_000) }
        }
        try #require(mounted, "squashfuse_ll did not mount \(theirMount) within 20 s")
        try fixture.run("'\(theirMount)/bin/show' exit 0 >/dev/null")

        // Both left alone: ours trims after its start-up window (6 s), on the monitor's next tick (every 5 s with
        // this grace period); up to 60 s is allowed for a loaded machine.
        var last: (ours: Int, theirs: Int) = (0, 0)
        let deadline = MonotonicNow() + 60
        sleep(10)
        repeat {
            last = (try #require(residentKB(ours)), try #require(residentKB(theirs)))
            if Double(last.ours) <= Self.bound * Double(last.theirs) { break }
            sleep(1)
        } while MonotonicNow() < deadline
        #expect(last.theirs > 0)
        #expect(
            Double(last.ours) <= Self.bound * Double(last.theirs),
            "idle server: ours \(last.ours) kB resident, squashfuse_ll \(last.theirs) kB (bound \(Self.bound)×)")
        fixture.unmountAll()
    }
}
