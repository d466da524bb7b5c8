import Foundation
import Glibc
import Testing
import XarTestSupport

/// Untrusted images and hostile neighbours (docs/lifecycle.md, "Identity"; docs/operations.md): an impostor
/// never gets a mount or a cache entry under another image's identity, extraction keeps no setuid bits and no
/// zeros where holes were, root's gc follows no user's symlink and leaves other namespaces' mounts alone, a
/// squatted mount root does not block its victim, and a FIFO, a failed depfile or a setuid launcher fail at once.
@Suite(.enabled(if: XarctlOpsFixture.canRun && TestEnvironment.hasTool("setpriv")), .tags(.fuse, .root))
struct UntrustedImageTests {
    /// The uid the unprivileged side of the tests runs as.
    static let nobody: UInt32 = 65534
    static let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]

    /// `trusted.xar` (prints `trusted`) and `impostor.xar`: another image behind a copy of the trusted header, so
    /// it claims the trusted `UUID` and `XAR_IMAGE_SHA256`.
    static func trustedAndImpostor(_ fixture: XarctlOpsFixture) throws -> (trusted: String, impostor: String) {
        let trusted = try fixture.makeXar(
            "trusted", files: ["bin/run": ("#!/bin/sh\necho trusted\n", true)], exec: "bin/run")
        let other = try fixture.makeXar(
            "other", files: ["bin/run": ("#!/bin/sh\necho impostor\n", true)], exec: "bin/run")
        let trustedBytes = try Data(contentsOf: URL(fileURLWithPath: trusted))
        let otherBytes = try Data(contentsOf: URL(fileURLWithPath: other))
        let offset = try #require(Self.offset(trustedBytes))
        #expect(Self.offset(otherBytes) == offset)
        let impostor = fixture.dir("impostor.xar")
        let spliced = Array(trustedBytes.prefix(offset) + otherBytes.dropFirst(offset))
        try TestFiles.write(spliced, to: impostor, mode: 0o755)
        return (trusted, impostor)
    }

    /// The header's `OFFSET`.
    static func offset(_ bytes: Data) -> Int? {
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("OFFSET=") }) else { return nil }
        return Int(line.dropFirst(7).filter(\.isNumber))
    }

    @Test func aMountedImpostorIsNeverJoinedByTheTrustedFile() throws {
        let fixture = XarctlOpsFixture()
        defer { for mount in (try? fixture.mountPoints()) ?? [] { _ = try? fixture.unmount(mount) } }
        let (trusted, impostor) = try Self.trustedAndImpostor(fixture)
        let mounted = try fixture.xarctl(["mount", impostor])
        try #require(mounted.status == 0, "\(mounted)")
        let run = try XarTestSupport.Process.run([trusted], environment: fixture.environment(), timeout: 30)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout == "trusted\n", "\(run)")
        #expect(run.stderr.contains("not joining the mount"), "\(run)")
        // And the trusted mount, once there, is joined by the trusted file without a word.
        let again = try XarTestSupport.Process.run([trusted], environment: fixture.environment(), timeout: 30)
        #expect(again.stdout == "trusted\n" && again.stderr.isEmpty, "\(again)")
        // The impostor, now that the digest of both files is known, gets no mount of the trusted image's name.
        let refused = try XarTestSupport.Process.run([impostor], environment: fixture.environment(), timeout: 30)
        #expect(refused.status == 120 && refused.stderr.contains("is not the image its header names"), "\(refused)")
    }

    @Test func aSecondCopyOfTheSameImageJoinsItsMount() throws {
        let fixture = XarctlOpsFixture()
        defer { for mount in (try? fixture.mountPoints()) ?? [] { _ = try? fixture.unmount(mount) } }
        let trusted = try fixture.makeXar(
            "trusted", files: ["bin/run": ("#!/bin/sh\necho trusted\n", true)], exec: "bin/run")
        let copy = fixture.dir("copy.xar")
        #expect(try XarTestSupport.Process.run(["/bin/cp", "-p", trusted, copy]).status == 0)
        let first = try XarTestSupport.Process.run([trusted], environment: fixture.environment(), timeout: 30)
        #expect(first.stdout == "trusted\n", "\(first)")
        let mounts = try fixture.mountPoints()
        #expect(mounts.count == 1)
        // The copy hashes itself (and the served file, unless its server did already), then joins: same mount.
        let joined = try XarTestSupport.Process.run([copy], environment: fixture.environment(), timeout: 30)
        #expect(joined.status == 0 && joined.stdout == "trusted\n" && joined.stderr.isEmpty, "\(joined)")
        #expect(try fixture.mountPoints() == mounts)
        let digests = try FileManager.default.contentsOfDirectory(atPath: fixture.dir("cache/xar/digests"))
        #expect(digests.filter { !$0.hasPrefix(".") }.count == 2, "\(digests)")
    }

    @Test func anImpostorCannotPoisonTheExtractionCache() throws {
        let fixture = XarctlOpsFixture()
        let (trusted, impostor) = try Self.trustedAndImpostor(fixture)
        let poisoned = try fixture.xarctl(["run", impostor])
        #expect(poisoned.status != 0 && poisoned.stderr.contains("is not the image its header names"), "\(poisoned)")
        #expect(!poisoned.stdout.contains("impostor"))
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: fixture.dir("cache/xar/extract"))) ?? []
        #expect(entries.isEmpty, "\(entries)")
        let run = try fixture.xarctl(["run", trusted])
        #expect(run.status == 0 && run.stdout == "trusted\n", "\(run)")
        let impostorAgain = try fixture.xarctl(["run", impostor])
        #expect(!impostorAgain.stdout.contains("impostor"), "\(impostorAgain)")
    }

    @Test func extractionDropsSetuidBitsUnlessAskedAndKeepsHoles() throws {
        let fixture = XarctlOpsFixture()
        let tree = fixture.dir("suid.tree")
        #expect(mkdir(tree, 0o755) == 0)
        try "#!/bin/sh\nid\n".write(toFile: tree + "/shell", atomically: false, encoding: .utf8)
        #expect(chmod(tree + "/shell", 0o6755) == 0)
        let holes = open(tree + "/holes", O_WRONLY | O_CREAT, 0o644)
        #expect(holes >= 0 && ftruncate(holes, 1 << 30) == 0)
        close(holes)
        let xar = fixture.dir("suid.xar")
        let built = try XarTestSupport.Process.run(
            [TestEnvironment.product("xarbuild"), "dir", tree, "-o", xar, "--exec", "shell"], timeout: 120)
        try #require(built.status == 0, "\(built)")
        #expect(fixture.allocatedBytes(xar) < 1 << 20, "the image itself stores the holes as sparse blocks")

        let plain = try fixture.xarctl(["extract", xar, fixture.dir("plain")], timeout: 120)
        try #require(plain.status == 0, "\(plain)")
        var st = stat()
        #expect(stat(fixture.dir("plain/shell"), &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(stat(fixture.dir("plain/holes"), &st) == 0 && st.st_size == 1 << 30)
        #expect(fixture.allocatedBytes(fixture.dir("plain/holes")) < 1 << 20, "holes stay holes")

        let kept = try fixture.xarctl(["extract", "--keep-setuid", xar, fixture.dir("kept")], timeout: 120)
        try #require(kept.status == 0, "\(kept)")
        #expect(stat(fixture.dir("kept/shell"), &st) == 0 && st.st_mode & 0o7777 == 0o6755)

        // The no-FUSE path (xarctl run) extracts the same way.
        let run = try fixture.xarctl(["run", xar], timeout: 120)
        #expect(run.status == 0, "\(run)")
        let extracted = try #require(
            try FileManager.default.contentsOfDirectory(atPath: fixture.dir("cache/xar/extract")).first)
        let root = fixture.dir("cache/xar/extract/\(extracted)")
        #expect(stat(root + "/shell", &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(fixture.allocatedBytes(root + "/holes") < 1 << 20)
    }

    @Test(.timeLimit(.minutes(1))) func aFIFOGivenAsTheXarFailsAtOnce() throws {
        let fixture = XarctlOpsFixture()
        let fifo = fixture.dir("pipe.xar")
        #expect(mkfifo(fifo, 0o644) == 0)
        let launched = try XarTestSupport.Process.run(
            [TestEnvironment.product("xarexec"), fifo], environment: fixture.environment(), timeout: 10)
        #expect(!launched.timedOut && launched.status == 120, "\(launched)")
        #expect(launched.stderr.contains("is not a regular file"), "\(launched)")
        #expect(launched.stderr.split(separator: "\n").count == 1)
        for command in [["inspect", fifo], ["verify", fifo], ["run", fifo]] {
            let result = try fixture.xarctl(command, timeout: 10)
            #expect(!result.timedOut && result.status != 0, "\(command): \(result)")
        }
    }

    @Test func aFailedDepfileLeavesTheOldXarInPlace() throws {
        let fixture = XarctlOpsFixture()
        let tree = fixture.dir("app")
        #expect(mkdir(tree, 0o755) == 0)
        try "#!/bin/sh\necho one\n".write(toFile: tree + "/run", atomically: false, encoding: .utf8)
        #expect(chmod(tree + "/run", 0o755) == 0)
        let output = fixture.dir("app.xar")
        let build = { (depfile: String) in
            try XarTestSupport.Process.run(
                [
                    TestEnvironment.product("xarbuild"), "dir", tree, "-o", output, "--exec", "run",
                    "--depfile", depfile,
                ], timeout: 60)
        }
        let missingDirectory = fixture.dir("no/such/dir/app.d")
        let first = try build(missingDirectory)
        #expect(first.status != 0, "\(first)")
        #expect(!fixture.exists(output), "no new .xar without its depfile")

        #expect(try build(fixture.dir("app.d")).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: output))
        try "#!/bin/sh\necho two\n".write(toFile: tree + "/run", atomically: false, encoding: .utf8)
        let failed = try build(missingDirectory)
        #expect(failed.status != 0, "\(failed)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == before, "the old .xar stays")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.dir("")).filter {
            $0.contains("xarbuild-previous")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func aSetuidLauncherRefusesToRun() throws {
        let fixture = XarctlOpsFixture()
        #expect(chmod(fixture.dir(""), 0o755) == 0)
        for (bits, name) in [(0o4755, "setuid"), (0o2755, "setgid")] {
            let copy = fixture.dir("xarexec-\(name)")
            // Copied by a child: a descriptor open for writing in this process could leak into a concurrent test's
            // child and make the exec fail with ETXTBSY.
            #expect(try XarTestSupport.Process.run(["/bin/cp", TestEnvironment.product("xarexec"), copy]).status == 0)
            #expect(chmod(copy, mode_t(bits)) == 0)
            var env = fixture.environment()
            env["XAR_MOUNT_ROOT"] = "/"
            let result = try XarTestSupport.Process.run(
                Self.asNobody + [copy, "/etc/passwd"], environment: env, timeout: 10)
            #expect(result.status == 121, "\(name): \(result)")
            #expect(result.stderr.contains("runs setuid or setgid"), "\(name): \(result)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func rootsGCNeverFollowsAUsersSymlink() throws {
        let fixture = XarctlOpsFixture()
        // A root-owned directory holding a file named like a local copy, and a user who points `images` at it.
        let precious = fixture.dir("precious")
        #expect(mkdir(precious, 0o755) == 0)
        let file = precious + "/" + String(repeating: "a", count: 64) + ".xar"
        try "root's\n".write(toFile: file, atomically: false, encoding: .utf8)
        let user = fixture.dir("mnt/uid-\(Self.nobody)")
        #expect(mkdir(user, 0o700) == 0 && chown(user, Self.nobody, Self.nobody) == 0)
        #expect(symlink(precious, user + "/images") == 0)
        #expect(lchown(user + "/images", Self.nobody, Self.nobody) == 0)
        let copyLine = try fixture.xarctl(["gc", "--copy-limit", "0", "--blocks-limit", "0", "--json"])
        #expect(copyLine.status == 0, "\(copyLine)")
        #expect(fixture.exists(file), "gc removed a file through the user's symlink: \(copyLine)")
        // A real images directory of that user is still pruned.
        #expect(unlink(user + "/images") == 0)
        #expect(mkdir(user + "/images", 0o700) == 0 && chown(user + "/images", Self.nobody, Self.nobody) == 0)
        let owned = user + "/images/" + String(repeating: "b", count: 64) + ".xar"
        try "copy\n".write(toFile: owned, atomically: false, encoding: .utf8)
        #expect(chown(owned, Self.nobody, Self.nobody) == 0)
        let foreign = user + "/images/" + String(repeating: "c", count: 64) + ".xar"
        try "root's too\n".write(toFile: foreign, atomically: false, encoding: .utf8)
        let pruned = try fixture.xarctl(["gc", "--copy-limit", "0"])
        #expect(pruned.status == 0, "\(pruned)")
        #expect(!fixture.exists(owned), "\(pruned)")
        #expect(fixture.exists(foreign), "a file the user does not own is not the user's copy")
    }

    @Test(.enabled(if: TestEnvironment.hasTool("unshare")))
    func gcLeavesAnotherNamespacesMountAlone() throws {
        let fixture = XarctlOpsFixture()
        let xar = try fixture.makeHello("elsewhere", mountTimeout: 600)
        let mounted = try XarTestSupport.Process.run(
            ["/usr/bin/unshare", "-m", "--propagation", "private", TestEnvironment.product("xarexec"), "-m", xar],
            environment: fixture.environment(), timeout: 30)
        try #require(mounted.status == 0, "\(mounted)")
        let mountPoint = mounted.stdout.trimmingCharacters(in: .newlines)
        let state = try fixture.contents(mountPoint + ".state")
        let pid = try #require(
            state.split(separator: "\n").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) })
        defer { kill(pid, SIGTERM) }
        let inItsNamespace = {
            (try? fixture.contents("/proc/\(pid)/mountinfo"))?.contains(" \(mountPoint) ") ?? false
        }
        #expect(inItsNamespace())
        let gc = try fixture.xarctl(["gc", "--idle", "0", "--json"])
        #expect(gc.status == 0, "\(gc)")
        #expect(inItsNamespace(), "gc tore down another namespace's mount: \(gc)")
        #expect(fixture.exists(mountPoint + ".state"))
        #expect(gc.stdout.contains("mount namespace"), "\(gc)")
    }

    @Test func aSquattedMountRootDoesNotBlockItsVictim() throws {
        let fixture = XarctlOpsFixture()
        #expect(chmod(fixture.dir(""), 0o755) == 0)
        let xar = try fixture.makeHello("victim")
        // A shared root (root's, 1777) in which another user made the victim's directory first.
        let root = fixture.dir("shared")
        #expect(mkdir(root, 0o755) == 0 && chmod(root, 0o1777) == 0)
        let squatted = root + "/uid-\(Self.nobody)"
        #expect(mkdir(squatted, 0o700) == 0 && chown(squatted, Self.nobody - 1, Self.nobody - 1) == 0)
        let cache = fixture.dir("nobody-cache")
        #expect(mkdir(cache, 0o700) == 0 && chown(cache, Self.nobody, Self.nobody) == 0)
        // With FUSE usable by the victim (the usual 0666), so only the squatting stands in its way.
        var device = stat()
        #expect(stat("/dev/fuse", &device) == 0)
        if device.st_mode & 0o006 != 0o006 { chmod("/dev/fuse", 0o666) }
        defer { chmod("/dev/fuse", device.st_mode & 0o7777) }
        var env = fixture.environment()
        env["XAR_MOUNT_ROOT"] = root
        env["XDG_CACHE_HOME"] = cache
        env["HOME"] = cache
        let result = try XarTestSupport.Process.run(Self.asNobody + [xar, "there"], environment: env, timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "hello there\n", "\(result)")
        #expect(result.stderr.contains("passing over \(root)"), "\(result)")
    }
}
