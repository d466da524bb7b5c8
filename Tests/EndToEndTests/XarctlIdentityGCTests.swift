import Foundation
import Glibc
import Testing
import XarTestSupport

/// `xarctl gc` and the identity caches (`digests/`, `checked/` in the user's cache): entries whose file is gone or
/// changed, or that are older than 30 days, are pruned; the entries of a file that is still there, unchanged, stay.
@Suite(.serialized, .tags(.fuse, .root), .enabled(if: XarctlOpsFixture.canRun))
struct XarctlIdentityGCTests {
    @Test func gcPrunesTheIdentityEntriesOfGoneAndChangedFilesAndOldOnes() throws {
        let fixture = XarctlOpsFixture()
        defer { for mount in (try? fixture.mountPoints()) ?? [] { _ = try? fixture.unmount(mount) } }
        let env = fixture.environment(["XAR_VERIFY_DELAY": "0"])
        var images: [String: String] = [:]
        for name in ["kept", "changed", "gone"] {
            let xar = try fixture.makeXar(
                name, files: ["bin/run": ("#!/bin/sh\necho \(name)\n", true)], exec: "bin/run")
            let run = try XarTestSupport.Process.run([xar], environment: env, timeout: 30)
            #expect(run.status == 0 && run.stdout == "\(name)\n", "\(run)")
            images[name] = URL(fileURLWithPath: xar).resolvingSymlinksInPath().path
        }
        let digests = fixture.dir("cache/xar/digests")
        let checked = fixture.dir("cache/xar/checked")
        let entries = { (directory: String) in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }
        }
        // The servers hash their files once requests pause, and record each with the path it was open under.
        #expect(fixture.eventually(within: 20) { entries(digests).count == 3 }, "\(entries(digests))")
        #expect(entries(checked).count == 3, "\(entries(checked))")
        for directory in [digests, checked] {
            let texts = try entries(directory).map { try String(contentsOfFile: "\(directory)/\($0)", encoding: .utf8) }
            for (_, path) in images {
                #expect(texts.filter { $0.hasSuffix("\n\(path)\n") }.count == 1, "\(path) in \(texts)")
            }
        }
        for mount in try fixture.mountPoints() { #expect(try fixture.unmount(mount).status == 0) }

        // Changed in place (its change time moves) and removed; an entry written 40 days ago, and a young one that
        // records no path (as older versions wrote them).
        #expect(chmod(images["changed"]!, 0o700) == 0)
        #expect(unlink(images["gone"]!) == 0)
        let digest = String(repeating: "ab", count: 32) + "\n"
        try digest.write(toFile: "\(digests)/1-2-3-4.5", atomically: false, encoding: .utf8)
        var old = [
            timeval(tv_sec: time(nil) - 40 * 86_400, tv_usec: 0), timeval(tv_sec: time(nil) - 40 * 86_400, tv_usec: 0),
        ]
        #expect(utimes("\(digests)/1-2-3-4.5", &old) == 0)
        try digest.write(toFile: "\(digests)/1-2-3-4.6", atomically: false, encoding: .utf8)

        let dry = try fixture.xarctl(["gc", "--dry-run"])
        #expect(dry.status == 0, "\(dry)")
        let wouldPrune = dry.stdout.split(separator: "\n").filter { $0.hasPrefix("would prune-identity ") }
        #expect(wouldPrune.count == 5, "\(dry)")
        #expect(wouldPrune.filter { $0.hasSuffix(": its file \(images["changed"]!) changed") }.count == 2, "\(dry)")
        #expect(wouldPrune.filter { $0.hasSuffix(": its file \(images["gone"]!) is gone") }.count == 2, "\(dry)")
        #expect(wouldPrune.contains("would prune-identity \(digests)/1-2-3-4.5: written more than 30 days ago"))
        #expect(entries(digests).count == 5 && entries(checked).count == 3)

        let collected = try fixture.xarctl(["gc"])
        #expect(collected.status == 0, "\(collected)")
        #expect(collected.stdout.split(separator: "\n").filter { $0.hasPrefix("prune-identity ") }.count == 5)
        #expect(Set(entries(digests)).contains("1-2-3-4.6") && entries(digests).count == 2, "\(entries(digests))")
        #expect(entries(checked).count == 1)
        let remaining = try entries(checked).map { try String(contentsOfFile: "\(checked)/\($0)", encoding: .utf8) }
        #expect(remaining.allSatisfy { $0.hasSuffix("\n\(images["kept"]!)\n") }, "\(remaining)")
        #expect(!(try fixture.xarctl(["gc"]).stdout.contains("prune-identity")))

        // The file whose entries stayed starts as before: its structural check is remembered (not logged again).
        let log = fixture.dir("server.log")
        let again = try XarTestSupport.Process.run(
            [images["kept"]!], environment: fixture.environment(["XAR_SERVER_LOG": log]), timeout: 30)
        #expect(again.stdout == "kept\n", "\(again)")
        let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!logged.contains("checked the structure of"), "\(logged)")
    }
}
