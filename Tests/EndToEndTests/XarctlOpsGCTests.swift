import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl gc` on real mounts: dead mounts, foreign mounts, and racing launches.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlOpsGCTests {
    @Test func gcCleansADeadMountAfterKillOfTheServer() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("killed")
        let path = try fixture.xarctl(["mount", xar]).stdout.trimmingCharacters(in: .newlines)
        let pid = try #require(try fixture.listedMounts().first?["server_pid"] as? Int)
        #expect(kill(Int32(pid), SIGKILL) == 0)
        #expect(fixture.eventually(within: 5) { kill(Int32(pid), 0) != 0 })
        #expect(try fixture.listedMounts().first?["status"] as? String == "dead")

        let dry = try fixture.xarctl(["gc", "--dry-run"])
        #expect(dry.stdout.contains("would detach-dead \(path)"), "\(dry)")
        #expect(try fixture.mountPoints() == [path])
        let collected = try fixture.xarctl(["gc"])
        #expect(collected.status == 0 && collected.stdout.contains("detach-dead \(path)"), "\(collected)")
        #expect(try fixture.mountPoints().isEmpty)
        #expect(access(path, F_OK) != 0 && access(path + ".state", F_OK) != 0)
        // And it mounts afresh.
        #expect(try fixture.xarctl(["mount", xar]).stdout == path + "\n")
    }

    @Test(.enabled(if: TestEnvironment.hasTool("squashfuse_ll")))
    func gcLeavesAForeignFuseMountAlone() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("foreign")
        // A plain squashfuse_ll mount where one of ours would be, under a name that looks like ours.
        let userDirectory = fixture.dir("mnt/uid-0")
        #expect(mkdir(userDirectory, 0o700) == 0)
        let foreign = userDirectory + "/00000000000000aa-ns-1"
        #expect(mkdir(foreign, 0o755) == 0)
        let mounted = try XarTestSupport.Process.run(["squashfuse_ll", "-o", "offset=4096", xar, foreign], timeout: 10)
        try #require(mounted.status == 0, "\(mounted)")
        defer { _ = try? XarTestSupport.Process.run(["fusermount3", "-u", "-z", foreign], timeout: 10) }

        let collected = try fixture.xarctl(["gc", "--idle", "0", "--json"])
        #expect(collected.status == 0, "\(collected)")
        #expect(collected.stdout.contains("not a .xar mount"))
        #expect(try fixture.mountPoints() == [foreign])
        #expect(try String(contentsOfFile: foreign + "/data.txt", encoding: .utf8) == "foreign\n")
        #expect(try fixture.xarctl(["unmount", foreign]).status == 1)
        #expect(try fixture.mountPoints() == [foreign])
    }

    @Test func gcUnmountsAnIdleMountButNotOneInUse() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let idle = try fixture.xarctl(["mount", try fixture.makeHello("idle")]).stdout.trimmingCharacters(in: .newlines)
        let used = try fixture.xarctl(["mount", try fixture.makeHello("used")]).stdout.trimmingCharacters(in: .newlines)
        let forever = try fixture.xarctl(["mount", try fixture.makeHello("forever")], env: ["XAR_MOUNT_TIMEOUT": "0"])
            .stdout.trimmingCharacters(in: .newlines)
        let holder = open(used + "/data.txt", O_RDONLY)
        try #require(holder >= 0)
        defer { close(holder) }
        sleep(2)
        let collected = try fixture.xarctl(["gc", "--idle", "1s"])
        #expect(collected.stdout.contains("unmount \(idle)"), "\(collected)")
        #expect(collected.stdout.contains("keep \(used): in use"), "\(collected)")
        #expect(collected.stdout.contains("keep \(forever): idle timeout 0"), "\(collected)")
        #expect(Set(try fixture.mountPoints()) == [used, forever])
    }

    /// 200 launches through `xarexec` (4 at a time, in four rounds with a short idle gap between them) of an image
    /// with a 1 s idle timeout, while `xarctl gc --idle 0` runs in a loop: every launch must succeed and read its
    /// data from the mount after a pause (so an unmount under a running program would fail it). The gaps, shorter
    /// than the server's own timeout, guarantee gc finds the mount idle at least once, so the race really happens
    /// even on a machine fast enough to keep the mount busy through a whole round.
    @Test(.tags(.slow)) func gcRacingTwoHundredLaunchesUnmountsNothingInUse() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeXar(
            "raced",
            files: [
                "bin/read": ("#!/bin/sh\nsleep 0.05\nexec cat \"$1/data.txt\"\n", true),
                "data.txt": ("payload\n", false),
            ],
            exec: "bin/read", execArgs: "$MOUNT", mountTimeout: 1)
        let env = fixture.environment()
        let stop = fixture.dir("stop-gc")
        let gcLog = fixture.dir("gc.log")
        let script = """
            set -u
            ( while [ ! -e '\(stop)' ]; do xarctl gc --idle 0 >>'\(gcLog)' 2>&1 || echo "gc failed $?" >>'\(gcLog)'; \
            sleep 0.05; done ) &
            for round in 1 2 3 4; do
                seq 50 | xargs -P 4 -I{} sh -c 'out=$(xarexec "\(xar)"); [ "$out" = payload ] || echo "FAILED {} $? $out"'
                sleep 0.5
            done
            touch '\(stop)'
            wait
            """
        let result = try XarTestSupport.Process.run(["/bin/sh", "-c", script], environment: env, timeout: 60)
        #expect(!result.timedOut)
        #expect(result.status == 0, "\(result)")
        #expect(!result.stdout.contains("FAILED") && !result.stderr.contains("error"), "\(result)")
        let log = (try? String(contentsOfFile: gcLog, encoding: .utf8)) ?? ""
        #expect(!log.contains("gc failed"), "\(log)")
        // gc really raced the launches: it unmounted live mounts between them.
        let unmounts = log.split(separator: "\n").filter { $0.hasPrefix("unmount ") }.count
        #expect(unmounts > 0, "gc never unmounted:\n\(log)")
        print("gc unmounted \(unmounts) idle mounts during 200 launches")
        // Whatever is left is at most the one mount, and a last gc cleans it.
        #expect(try fixture.mountPoints().count <= 1)
    }

    @Test func gcRemovesLeftoversAfterAnIdleUnmountAndRootSeesOtherUsers() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("leftover", mountTimeout: 1)
        let path = try fixture.xarctl(["mount", xar]).stdout.trimmingCharacters(in: .newlines)
        // The server unmounts itself after its 1 s idle timeout and leaves the lock file to the launchers.
        #expect(try fixture.eventually(within: 8) { try fixture.mountPoints().isEmpty })
        #expect(access(path + ".lock", F_OK) == 0)
        // Another user's leftover: root lists and cleans every user's directory.
        let other = fixture.dir("mnt/uid-65534")
        #expect(mkdir(other, 0o700) == 0 && chown(other, 65534, 65534) == 0)
        let otherLock = other + "/00000000000000bb-ns-1.lock"
        let created = creat(otherLock, 0o600)
        #expect(created >= 0 && chown(otherLock, 65534, 65534) == 0)
        close(created)  // gc leaves a lock file alone while any process has it open
        let listed = try fixture.listedMounts()
        #expect(listed.contains { $0["mount_point"] as? String == path && $0["status"] as? String == "leftover" })
        #expect(listed.contains { $0["uid"] as? Int == 65534 && $0["status"] as? String == "leftover" })

        let collected = try fixture.xarctl(["gc"])
        #expect(collected.stdout.contains("remove-leftover \(path)"), "\(collected)")
        #expect(access(path + ".lock", F_OK) != 0 && access(otherLock, F_OK) != 0)
        #expect(try fixture.listedMounts().isEmpty)
        // A launch after the clean-up mounts afresh.
        #expect(try fixture.xarctl(["mount", xar]).stdout == path + "\n")
    }

    @Test func gcPrunesTheExtractionCacheLeastRecentlyUsedFirstButNotATreeInUse() throws {
        let fixture = XarctlOpsFixture()
        let env = ["XAR_QUIET": "1"]
        let older = try fixture.makeHello("older")
        let used = try fixture.makeHello("inuse")
        let newer = try fixture.makeHello("newer")
        for xar in [older, used, newer] {
            #expect(try fixture.xarctl(["run", xar], env: env).status == 0)
            sleep(1)  // distinct change times, one second apart
        }
        let cache = fixture.dir("cache/xar/extract")
        let trees = try FileManager.default.contentsOfDirectory(atPath: cache).sorted()
        try #require(trees.count == 3)
        // A process with its working directory in the tree of "inuse".
        let usedTree = try #require(
            trees.first { (try? String(contentsOfFile: "\(cache)/\($0)/data.txt", encoding: .utf8)) == "inuse\n" })
        let started = try XarTestSupport.Process.shell(
            "cd '\(cache)/\(usedTree)' && { sleep 30 </dev/null >/dev/null 2>&1 & echo $!; }; sleep 0.2",
            timeout: 10)
        let pid = Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        try #require(pid > 0)
        defer { kill(pid, SIGKILL) }

        let dry = try fixture.xarctl(["gc", "--cache-limit", "0", "--dry-run"], env: env)
        #expect(dry.stdout.components(separatedBy: "would prune-cache").count - 1 == 2, "\(dry)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).count == 3)
        let pruned = try fixture.xarctl(["gc", "--cache-limit", "0"], env: env)
        #expect(pruned.status == 0, "\(pruned)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == [usedTree])
        // The default limit leaves a small cache alone, and a pruned image extracts again.
        #expect(try fixture.xarctl(["run", older, "--", "x"], env: env).stdout == "hello x\n")
        #expect(try fixture.xarctl(["gc"], env: env).stdout.contains("prune-cache") == false)
    }
}
