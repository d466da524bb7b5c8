import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl gc --blocks-limit` and the decompressed start-up blocks servers keep beside their mounts
/// (`.startup-blocks`, docs/lifecycle.md "Cold starts"): real files written by real servers.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlBlocksGCTests {
    /// Mounts `name`, reads its data file (so that its start records a block), unmounts it and waits for the
    /// server to save the block; returns the image, the mount point and the saved blocks' path.
    func startAndStop(_ fixture: XarctlOpsFixture, _ name: String) throws -> (
        image: String, mount: String, blocks: String
    ) {
        let image = try fixture.makeHello(name)
        let mounted = try fixture.xarctl(["mount", image], timeout: 60)
        try #require(mounted.status == 0, "\(mounted)")
        let mount = mounted.stdout.trimmingCharacters(in: .newlines)
        #expect(try fixture.contents(mount + "/data.txt") == "\(name)\n")
        let unmounted = try fixture.unmount(mount)
        #expect(unmounted.status == 0, "\(unmounted)")
        let blocks = mount + ".startup-blocks"
        try #require(fixture.eventually(within: 30) { FileManager.default.fileExists(atPath: blocks) }, "\(blocks)")
        return (image, mount, blocks)
    }

    @Test func gcPrunesSavedBlocksOfUnmountedImagesLeastRecentlyUsedFirst() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let live = try startAndStop(fixture, "live")
        let old = try startAndStop(fixture, "old")
        let recent = try startAndStop(fixture, "recent")
        // The live image is mounted again: its server read its saved blocks, and gc leaves them alone.
        let again = try fixture.xarctl(["mount", live.image], timeout: 60)
        #expect(again.status == 0 && again.stdout.hasPrefix(live.mount), "\(again)")
        try XarTestSupport.Process.shell(
            "touch -d '2 days ago' '\(old.blocks)' && touch -d '1 day ago' '\(recent.blocks)' "
                + "&& touch -d '3 days ago' '\(live.blocks)'")
        // A temporary file whose server is gone (pid_max is at most 2^22).
        let abandoned = old.mount + ".startup-blocks.tmp.4194305"
        #expect(FileManager.default.createFile(atPath: abandoned, contents: Data("torn".utf8)))

        let dry = try fixture.xarctl(["gc", "--blocks-limit", "0", "--dry-run"])
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.stdout.contains("would prune-blocks \(old.blocks)"), "\(dry)")
        #expect(dry.stdout.contains("would prune-blocks \(recent.blocks)"), "\(dry)")
        #expect(dry.stdout.contains("would prune-blocks \(abandoned): abandoned saved blocks"), "\(dry)")
        #expect(!dry.stdout.contains(live.blocks), "\(dry)")
        for path in [live.blocks, old.blocks, recent.blocks, abandoned] { #expect(fixture.exists(path), "\(path)") }

        // Room for one: the older of the two unmounted images' blocks goes.
        let first = try fixture.xarctl([
            "gc", "--blocks-limit", String(fixture.allocatedBytes(recent.blocks)), "--json",
        ])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("\"prune-blocks\""), "\(first)")
        #expect(!fixture.exists(old.blocks) && !fixture.exists(abandoned))
        #expect(fixture.exists(recent.blocks) && fixture.exists(live.blocks))

        let second = try fixture.xarctl(["gc", "--blocks-limit", "0"])
        #expect(second.stdout.contains("prune-blocks \(recent.blocks)"), "\(second)")
        #expect(!fixture.exists(recent.blocks) && fixture.exists(live.blocks))
        // Pruned blocks cost only decompression: the image starts and serves as before.
        let remounted = try fixture.xarctl(["mount", recent.image], timeout: 60)
        #expect(remounted.status == 0, "\(remounted)")
        #expect(try fixture.contents(recent.mount + "/data.txt") == "recent\n")
    }

    /// On a tmpfs mount root the saved blocks go to the user's cache directory (ordinary, reclaimable file pages),
    /// the next server reads them from there, and gc finds and prunes them there.
    @Test func onATmpfsRootTheBlocksLiveInTheCacheDirectory() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let root = "/dev/shm/xar-blocks-test-\(getpid())"
        try #require(mkdir(root, 0o700) == 0 || errno == EEXIST)
        defer { _ = try? XarTestSupport.Process.run(["/bin/rm", "-rf", root]) }
        let log = fixture.dir("server.log")
        let env = ["XAR_MOUNT_ROOT": root, "XAR_SERVER_LOG": log, "XAR_SERVER_TRACE": "1"]
        let image = try fixture.makeXar(
            "tmpfs",
            files: [
                "bin/hi": ("#!/bin/sh\necho hi\n", true), "data.txt": ("tmpfs\n", false),
                ".xar/startup-files": ("data.txt\n", false),
            ], exec: "bin/hi")
        let mountAndRead = { () throws -> String in
            let mounted = try fixture.xarctl(["mount", image], env: env, timeout: 60)
            try #require(mounted.status == 0, "\(mounted)")
            let mount = mounted.stdout.trimmingCharacters(in: .newlines)
            #expect(try fixture.contents(mount + "/data.txt") == "tmpfs\n")
            #expect(try fixture.unmount(mount, env: env).status == 0)
            return mount
        }
        let mount = try mountAndRead()
        let name = String(mount.split(separator: "/").last ?? "")
        let saved = fixture.dir("cache") + "/xar/startup-blocks/\(name).startup-blocks"
        try #require(fixture.eventually(within: 30) { fixture.exists(saved) }, "\(saved)")
        #expect(!fixture.exists(mount + ".startup-blocks"), "nothing beside a mount on a tmpfs")
        #expect(fixture.exists(mount + ".startup"), "the plan, small, stays beside it")

        _ = try mountAndRead()
        #expect(
            fixture.eventually(within: 30) {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(
                    "reading saved start-up blocks from \(saved)")
            })
        let pruned = try fixture.xarctl(["gc", "--blocks-limit", "0"], env: env)
        #expect(pruned.stdout.contains("prune-blocks \(saved)"), "\(pruned)")
        #expect(!fixture.exists(saved))
        // xarctl warm saves them there too, and says where.
        let warmed = try fixture.xarctl(["warm", image], env: env, timeout: 60)
        #expect(warmed.status == 0 && warmed.stdout.contains("of start-up blocks in \(saved)"), "\(warmed)")
        #expect(fixture.exists(saved))
    }
}
