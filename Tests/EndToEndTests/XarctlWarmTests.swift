import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl warm`: an image's first cold start made a repeat one, with real mounts and real servers.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlWarmTests {
    @Test func warmSavesTheStartupBlocksAndTheNextServerReadsThem() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let data = String(repeating: "0123456789abcdef", count: 40_000)  // 640,000 bytes: five data blocks
        let image = try fixture.makeXar(
            "warm",
            files: [
                "bin/hi": ("#!/bin/sh\necho hello\n", true), "data.txt": (data, false),
                // Names outside the image or missing from it are skipped.
                ".xar/startup-files": ("data.txt\nbin/hi\n../escape\nmissing\n", false),
            ], exec: "bin/hi")
        let warmed = try fixture.xarctl(["warm", image], timeout: 120)
        #expect(warmed.status == 0, "\(warmed)")
        #expect(warmed.stdout.contains("warmed: 2 files, 640.0 kB read"), "\(warmed)")
        #expect(try fixture.mountPoints().isEmpty, "warm leaves nothing mounted")
        let saved = try #require(
            warmed.stdout.components(separatedBy: " of start-up blocks in ").last?.trimmingCharacters(
                in: .whitespacesAndNewlines))
        #expect(saved.hasSuffix(".startup-blocks") && fixture.exists(saved), "\(warmed)")
        #expect(fixture.exists(String(saved.dropLast("-blocks".count))), "the plan is saved too")

        // The next server (a cold start) reads the blocks instead of decompressing them.
        let log = fixture.dir("server.log")
        let mounted = try fixture.xarctl(["mount", image], env: ["XAR_SERVER_LOG": log, "XAR_SERVER_TRACE": "1"])
        try #require(mounted.status == 0, "\(mounted)")
        let mount = mounted.stdout.trimmingCharacters(in: .newlines)
        #expect(try fixture.contents(mount + "/data.txt") == data)
        // Mounted: warm leaves it alone.
        let again = try fixture.xarctl(["warm", image])
        #expect(again.status == 0 && again.stdout.contains("mounted at \(mount)"), "\(again)")
        #expect(try fixture.mountPoints() == [mount])
        #expect(try fixture.unmount(mount).status == 0)
        var text = ""
        #expect(
            fixture.eventually(within: 30) {
                text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                return text.contains("data blocks:")
            })
        #expect(text.contains("reading saved start-up blocks from \(saved)"), "\(text)")
        #expect(text.contains("from saved copies, 0 damaged)") && !text.contains("; 0 from saved copies"), "\(text)")

        // An image without a start-up list: nothing to warm, nothing left behind.
        let plain = try fixture.xarctl(["warm", try fixture.makeHello("plain")])
        #expect(plain.status == 0 && plain.stdout.contains("no start-up list"), "\(plain)")
        #expect(try fixture.mountPoints().isEmpty)
    }
}
