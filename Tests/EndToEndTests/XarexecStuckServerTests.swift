import Glibc
import Testing
import XarTestSupport

/// A stopped server whose state file no longer names it: neither the launcher nor `xarctl` may wait on its mount.
extension XarexecLifecycleTests {
    /// Stops the server of `xar` (mounted first) and waits until it is stopped; returns its mount point and pid.
    func stoppedServer(_ fixture: XarexecFixture, _ xar: String) throws -> (mount: String, pid: Int32) {
        #expect(try fixture.xarexec([xar]).status == 0)
        let (mount, pid) = try server(fixture, xar)
        #expect(kill(pid, SIGSTOP) == 0)
        var stopped = false
        for _ in 0..<100 where !stopped {
            let stat = try fixture.run("cat /proc/\(pid)/stat").stdout
            stopped = stat.split(separator: ")").last?.dropFirst().first == "T"
            if !stopped { usleep(20_000) }
        }
        try #require(stopped)
        return (mount, pid)
    }

    /// The state file removed: the launcher does not touch the mount (its server is unknown, maybe stopped), detaches
    /// it and mounts afresh, within the 10 s bound.
    @Test func aStoppedServerWithoutItsStateFileIsReplacedWithinTenSeconds() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let (mount, pid) = try stoppedServer(fixture, xar)
        defer {
            kill(pid, SIGCONT)
            fixture.unmountAll()
        }
        #expect(unlink(mount + ".state") == 0)
        let start = MonotonicNow()
        let result = try fixture.xarexec([xar, "exit", "5"], timeout: 20)
        #expect(MonotonicNow() - start < 10, "\(result)")
        #expect(result.status == 5, "\(result)")
        #expect(try server(fixture, xar).pid != pid)
    }

    /// The state file names a live process that is not a server: the same.
    @Test func aStoppedServerWhoseStateNamesAnotherProcessIsReplacedWithinTenSeconds() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let (mount, pid) = try stoppedServer(fixture, xar)
        defer {
            kill(pid, SIGCONT)
            fixture.unmountAll()
        }
        let state = try fixture.run("cat '\(mount).state'").stdout
        let other = getpid()  // this test process: alive, not a server
        let edited = state.split(separator: "\n").map { $0.hasPrefix("pid=") ? "pid=\(other)" : String($0) }
        try fixture.run("printf '%s\\n' \(edited.map { "'\($0)'" }.joined(separator: " ")) > '\(mount).state'")
        let start = MonotonicNow()
        let result = try fixture.xarexec([xar, "exit", "6"], timeout: 20)
        #expect(MonotonicNow() - start < 10, "\(result)")
        #expect(result.status == 6, "\(result)")
    }

    /// `xarctl list` (and so `gc` and `unmount --force`, which build on the same inventory) asks each mount's server
    /// in a child process with a bound: a stopped server without its state file is listed as stopped, and the
    /// other mounts are listed too, in bounded time.
    @Test func aStuckMountDoesNotBlockXarctlList() throws {
        let fixture = try XarexecFixture()
        let stuck = try fixture.makeShowXar("t")
        let live = try fixture.makeShowXar("u")
        #expect(try fixture.xarexec([live]).status == 0)
        let (mount, pid) = try stoppedServer(fixture, stuck)
        defer {
            kill(pid, SIGCONT)
            fixture.unmountAll()
        }
        #expect(unlink(mount + ".state") == 0)
        // Before, the listing's statfs of the stuck mount waited for ever (here: until the 60 s timeout killed it).
        let result = try Process.run(
            [TestEnvironment.product("xarctl"), "list"], environment: fixture.environment(), timeout: 60)
        #expect(!result.timedOut && result.status == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains(mount) && $0.contains("stopped") }, "\(result.stdout)")
        #expect(lines.filter { $0.contains("live") }.count == 1, "\(result.stdout)")
    }
}
