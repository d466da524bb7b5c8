import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl mount`, `unmount`, `list` and `run` on real mounts, run as a user would.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlOpsTests {
    @Test func mountPrintsOnlyThePathAndListJSONShowsIt() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("listed")
        let mounted = try fixture.xarctl(["mount", xar])
        try #require(mounted.status == 0, "\(mounted)")
        let path = mounted.stdout.trimmingCharacters(in: .newlines)
        #expect(mounted.stdout == path + "\n")
        #expect(try fixture.mountPoints() == [path])
        #expect(try String(contentsOfFile: path + "/data.txt", encoding: .utf8) == "listed\n")

        let mounts = try fixture.listedMounts()
        try #require(mounts.count == 1)
        #expect(mounts[0]["mount_point"] as? String == path)
        #expect(mounts[0]["status"] as? String == "live")
        #expect(mounts[0]["image"] as? String == xar)
        #expect((mounts[0]["server_pid"] as? Int ?? 0) > 0)
        #expect(mounts[0]["read_source"] as? String == "source")
        #expect(mounts[0]["pinned"] as? Bool == false)
        #expect((mounts[0]["uuid"] as? String)?.count == 16)

        // Mounting again finds the same mount.
        #expect(try fixture.xarctl(["mount", xar]).stdout == path + "\n")
        let table = try fixture.xarctl(["list"])
        #expect(table.status == 0 && table.stdout.contains(path) && table.stdout.contains("live"))
        #expect(try fixture.xarctl(["unmount", xar]).status == 0)
        #expect(try fixture.mountPoints().isEmpty)
    }

    @Test func unmountRefusesWhileAProcessHasItsCwdInsideAndSucceedsAfter() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("busy")
        let path = try fixture.xarctl(["mount", xar]).stdout.trimmingCharacters(in: .newlines)
        let started = try XarTestSupport.Process.shell(
            // Its own pid, not `pgrep sleep`: other tests of the suite run sleeps of their own at the same time.
            "cd '\(path)' && { sleep 30 </dev/null >/dev/null 2>&1 & echo $!; }; sleep 0.2", timeout: 10)
        let pid = Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        try #require(pid > 0, "\(started)")
        defer { kill(pid, SIGKILL) }

        let refused = try fixture.xarctl(["unmount", xar])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pid \(pid) (sleep: cwd)"), "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(try fixture.mountPoints() == [path])
        let users = try fixture.listedMounts().first?["users"] as? [[String: Any]]
        #expect(users?.contains { $0["pid"] as? Int == Int(pid) && $0["command"] as? String == "sleep" } == true)

        kill(pid, SIGKILL)
        #expect(fixture.eventually(within: 5) { kill(pid, 0) != 0 })
        let unmounted = try fixture.xarctl(["unmount", path])
        #expect(unmounted.status == 0, "\(unmounted)")
        #expect(try fixture.mountPoints().isEmpty)
        #expect(access(path, F_OK) != 0 && access(path + ".state", F_OK) != 0)
    }

    @Test func unmountForceDetachesAMountInUse() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("forced")
        let path = try fixture.xarctl(["mount", xar]).stdout.trimmingCharacters(in: .newlines)
        let started = try XarTestSupport.Process.shell(
            // Its own pid, not `pgrep sleep`: other tests of the suite run sleeps of their own at the same time.
            "cd '\(path)' && { sleep 30 </dev/null >/dev/null 2>&1 & echo $!; }; sleep 0.2", timeout: 10)
        let pid = Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        defer { kill(pid, SIGKILL) }
        let forced = try fixture.xarctl(["unmount", "--force", xar])
        #expect(forced.status == 0, "\(forced)")
        #expect(try fixture.mountPoints().isEmpty)
    }

    @Test func pinnedMountSurvivesTheIdleTimeoutAndAnUnpinnedOneDoesNot() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let pinnedXar = try fixture.makeHello("pinned")
        let plainXar = try fixture.makeHello("plain")
        let env = ["XAR_MOUNT_TIMEOUT": "1"]
        let pinned = try fixture.xarctl(["mount", "--pin", pinnedXar], env: env).stdout
            .trimmingCharacters(in: .newlines)
        let plain = try fixture.xarctl(["mount", plainXar], env: env).stdout.trimmingCharacters(in: .newlines)
        #expect(Set(try fixture.mountPoints()) == [pinned, plain])
        #expect(try fixture.eventually(within: 8) { try fixture.mountPoints() == [pinned] })
        sleep(2)
        #expect(try fixture.mountPoints() == [pinned])
        #expect(try fixture.listedMounts().first { $0["mount_point"] as? String == pinned }?["pinned"] as? Bool == true)

        #expect(try fixture.xarctl(["unmount", pinnedXar]).status == 0)
        #expect(try fixture.mountPoints().isEmpty)
        #expect(access(pinned + ".pin", F_OK) != 0)
    }

    @Test func twentyMountsAreListed() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        var expected: [String: String] = [:]
        for index in 0..<20 {
            let xar = try fixture.makeHello("many\(index)")
            let mounted = try fixture.xarctl(["mount", xar])
            try #require(mounted.status == 0, "\(mounted)")
            expected[mounted.stdout.trimmingCharacters(in: .newlines)] = xar
        }
        let mounts = try fixture.listedMounts()
        #expect(mounts.count == 20)
        for mount in mounts {
            let path = try #require(mount["mount_point"] as? String)
            #expect(expected[path] == mount["image"] as? String)
            #expect(mount["status"] as? String == "live")
        }
        let mounted = try fixture.mountPoints()
        #expect(Set(mounted) == Set(expected.keys), "mounted: \(mounted.sorted())\nexpected: \(expected.keys.sorted())")
        for xar in expected.values { #expect(try fixture.xarctl(["unmount", xar]).status == 0) }
        #expect(try fixture.mountPoints().isEmpty)
    }

    @Test func runUsesTheExtractionCacheWithoutFuse() throws {
        let fixture = XarctlOpsFixture()
        let xar = try fixture.makeHello("extracted")
        let env = ["XAR_FUSE_DEVICE": fixture.dir("no-such-fuse-device")]
        let first = try fixture.xarctl(["run", xar, "--", "a", "--b"], env: env)
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout == "hello a --b\n")
        #expect(first.stderr.contains("extracted"))
        let second = try fixture.xarctl(["run", xar, "--", "c"], env: env)
        #expect(second.stdout == "hello c\n" && second.stderr.isEmpty, "\(second)")
        #expect(try fixture.mountPoints().isEmpty)
        let listed = try fixture.xarctl(["list", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
        let cache = object?["extraction_cache"] as? [[String: Any]]
        #expect(cache?.count == 1)
        #expect((cache?.first?["path"] as? String)?.hasPrefix(fixture.dir("cache/xar/extract/")) == true)
    }

    @Test func badInputIsOneLineAndChangesNothing() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let text = fixture.dir("notes.xar")
        try "just text\n".write(toFile: text, atomically: false, encoding: .utf8)
        let xar = try fixture.makeHello("good")
        // A damaged superblock: the magic at the start of the image, just after the 4096-byte header.
        let corrupt = fixture.dir("corrupt.xar")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try fixture.makeHello("bad"))))
        bytes[4096] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        for arguments in [
            ["mount", text], ["mount", corrupt], ["mount", fixture.dir("missing.xar")], ["unmount", text],
            ["unmount", fixture.dir("mnt/uid-0/0123456789abcdef-ns-1")], ["unmount", xar], ["run", corrupt],
        ] {
            let result = try fixture.xarctl(arguments)
            #expect(result.status == 1, "\(arguments): \(result)")
            #expect(
                result.stderr.hasPrefix("xarctl: error: ") && result.stderr.split(separator: "\n").count == 1,
                "\(arguments): \(result)")
            #expect(result.stdout.isEmpty)
        }
        // Without FUSE, mount says so and points at xarctl run.
        let noFuse = try fixture.xarctl(["mount", xar], env: ["XAR_FUSE_DEVICE": fixture.dir("no-such-device")])
        #expect(noFuse.status == 1 && noFuse.stderr.contains("xarctl run"), "\(noFuse)")
        #expect(try fixture.mountPoints().isEmpty)
        #expect(try fixture.xarctl(["gc", "--idle", "soon"]).status == 64)
    }

    /// True when user 65534 (nobody) can run the built `xarctl` (the build directory may be closed to it).
    static var nobodyCanRunXarctl: Bool {
        guard TestEnvironment.hasTool("setpriv") else { return false }
        let result = try? XarTestSupport.Process.run(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.product("xarctl"),
                "--version",
            ], timeout: 10)
        return result?.status == 0
    }

    @Test(.enabled(if: nobodyCanRunXarctl))
    func anotherUsersMountIsRefused() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeHello("rootsown")
        let path = try fixture.xarctl(["mount", xar]).stdout.trimmingCharacters(in: .newlines)
        // The mount directory is root's and mode 0700, so the other user cannot even look: the name says whose.
        let result = try XarTestSupport.Process.run(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.product("xarctl"),
                "unmount", path,
            ], environment: fixture.environment(), timeout: 30)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("belongs to uid 0"), "\(result)")
        #expect(try fixture.mountPoints() == [path])
    }
}
