import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl gc` and the servers' local copies of images (issue 6): real copies made by real servers with the
/// copy policy `always`.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlCopyGCTests {
    /// Mounts `name` with a forced local copy and waits until the server reads from it; returns the mount point
    /// and the copy's path.
    func mountWithCopy(_ fixture: XarctlOpsFixture, _ name: String) throws -> (mount: String, copy: String) {
        let env = ["XAR_LOCAL_COPY": "always", "XAR_LOCAL_COPY_DELAY": "0"]
        let mounted = try fixture.xarctl(["mount", try fixture.makeHello(name)], env: env, timeout: 60)
        try #require(mounted.status == 0, "\(mounted)")
        let mount = mounted.stdout.trimmingCharacters(in: .newlines)
        var state = ""
        let switched = fixture.eventually(within: 60) {
            state = (try? String(contentsOfFile: mount + ".state", encoding: .utf8)) ?? ""
            return state.contains("\nsource=local copy\n")
        }
        try #require(switched, "the server never switched to its copy: \(state)")
        let line = try #require(state.split(separator: "\n").first { $0.hasPrefix("copy=") })
        return (mount, String(line.dropFirst("copy=".count)))
    }

    @Test func gcPrunesCopiesNoLiveServerReadsLeastRecentlyUsedFirst() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let live = try mountWithCopy(fixture, "live")
        let old = try mountWithCopy(fixture, "old")
        let recent = try mountWithCopy(fixture, "recent")
        #expect(Set([live.copy, old.copy, recent.copy]).count == 3)
        for mount in [old.mount, recent.mount] {
            let unmounted = try fixture.xarctl(["unmount", mount])
            #expect(unmounted.status == 0, "\(unmounted)")
        }
        #expect(try fixture.mountPoints() == [live.mount])
        try XarTestSupport.Process.shell(
            "touch -d '2 days ago' '\(old.copy)' && touch -d '1 day ago' '\(recent.copy)' "
                + "&& touch -d '3 days ago' '\(live.copy)'")
        // A temporary copy whose server is gone (pid_max is at most 2^22).
        let directory = String(live.copy[..<live.copy.lastIndex(of: "/")!])
        let abandoned = directory + "/.tmp-" + String(repeating: "0", count: 64) + "-4194305"
        #expect(FileManager.default.createFile(atPath: abandoned, contents: Data("torn".utf8)))

        let dry = try fixture.xarctl(["gc", "--copy-limit", "0", "--dry-run"])
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.stdout.contains("would prune-copy \(old.copy)"), "\(dry)")
        #expect(dry.stdout.contains("would prune-copy \(recent.copy)"), "\(dry)")
        #expect(dry.stdout.contains("would prune-copy \(abandoned): abandoned copy"), "\(dry)")
        #expect(!dry.stdout.contains(live.copy), "\(dry)")
        for path in [live.copy, old.copy, recent.copy, abandoned] { #expect(fixture.exists(path), "\(path)") }

        // Room for the live copy and one more: the older of the two unused ones goes.
        let limit = fixture.allocatedBytes(live.copy) + fixture.allocatedBytes(recent.copy)
        let first = try fixture.xarctl(["gc", "--copy-limit", String(limit), "--json"])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("\"prune-copy\""), "\(first)")
        #expect(!fixture.exists(old.copy) && !fixture.exists(abandoned))
        #expect(fixture.exists(recent.copy) && fixture.exists(live.copy))

        let second = try fixture.xarctl(["gc", "--copy-limit", "0"])
        #expect(second.stdout.contains("prune-copy \(recent.copy)"), "\(second)")
        #expect(!fixture.exists(recent.copy))
        // The live server's copy stays, and the mount keeps serving from it.
        #expect(fixture.exists(live.copy))
        #expect(try String(contentsOfFile: live.mount + "/data.txt", encoding: .utf8) == "live\n")
        let listed = try fixture.listedMounts()
        #expect(listed.count == 1 && listed.first?["read_source"] as? String == "local copy", "\(listed)")
    }
}
