import Foundation
import Testing
import XarBuild
import XarTestSupport

/// The fixture image run as a user runs it: through the real launcher (`xarexec`), mounted with FUSE under a
/// private mount root, with no Python on `PATH` and `PYTHONHOME`/`PYTHONPATH` set to nonsense.
@Suite(
    .tags(.python, .fuse, .slow), .serialized,
    .enabled(if: PythonFixtures.available, "needs python3 with pip, setuptools, wheel, Python.h, cc, zstd.h, patchelf"),
    .enabled(if: TestEnvironment.hasFuse && TestEnvironment.hasTool("fusermount3"), "needs /dev/fuse and fusermount3"))
struct PythonImageTests {
    /// A private mount root, unmounted when the test ends.
    final class Mounts {
        let directory = TemporaryDirectory(prefix: "xar-python-mnt")
        var root: String { directory("mnt") }
        init() { mkdir(directory("mnt"), 0o700) }
        deinit {
            _ = try? XarTestSupport.Process.shell(
                "for m in $(awk '$2 ~ \"^\(root)/\" {print $2}' /proc/self/mounts); do "
                    + "fusermount3 -u -z \"$m\" 2>/dev/null || umount -l \"$m\"; done", timeout: 30)
        }
    }

    private func run(_ argv: [String], _ mounts: Mounts) throws -> XarTestSupport.Process.Result {
        var env = PythonFixtures.hostileEnvironment
        env["PATH"] = TestEnvironment.binDirectory  // xarexec for the shebang; no Python there
        env["XAR_MOUNT_ROOT"] = mounts.root
        env["XAR_MOUNT_TIMEOUT"] = "30"
        return try XarTestSupport.Process.run(argv, environment: env, timeout: 120)
    }

    @Test func imageRunsFromItsMountWithHostileEnvironment() throws {
        let f = try PythonFixtures.shared.get()
        let mounts = Mounts()
        let result = try run([f.image, "info"], mounts)
        try #require(result.status == 0, "\(result)")
        let info = try #require(try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(info["argv"] as? [String] == [f.image, "info"])
        let executable = try #require(info["executable"] as? String)
        #expect(executable.hasPrefix(mounts.root + "/") && executable.hasSuffix("/python/python3"), "\(executable)")
        let mount = String(executable.dropLast("/python/python3".count))
        #expect((info["path"] as? [String] ?? []).allSatisfy { $0.hasPrefix(mount + "/") })
        #expect(info["libzstd"] as? [String] == ["\(mount)/python/lib/libzstd.so.1"])
        #expect(info["data"] as? String == "package data ok\n\n")
        #expect(info["greet_version"] as? String == "1.2.0")
        #expect(info["ld_library_path"] is NSNull)
    }

    @Test func subprocessAndSpawnRunInsideTheImage() throws {
        let f = try PythonFixtures.shared.get()
        let mounts = Mounts()
        let sub = try run([f.image, "subprocess"], mounts)
        #expect(sub.status == 0 && sub.stdout.hasPrefix("0 \(mounts.root)/"), "\(sub)")
        let spawn = try run([f.image, "spawn"], mounts)
        #expect(spawn.stdout == "spawn 285\n", "\(spawn)")
    }

    @Test func symlinkNamedAfterAnEntryPointRunsIt() throws {
        let f = try PythonFixtures.shared.get()
        let mounts = Mounts()
        let link = mounts.directory("greet")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: f.image)
        let result = try run([link, "x"], mounts)
        #expect(result.stdout == "hello from greet \(link) ['x']\n", "\(result)")
        let exitLink = mounts.directory("greet-exit")
        try FileManager.default.createSymbolicLink(atPath: exitLink, withDestinationPath: f.image)
        #expect(try run([exitLink, "9"], mounts).status == 9)
    }

    @Test func exitCodeAndSignalComeThroughTheLauncher() throws {
        let f = try PythonFixtures.shared.get()
        let mounts = Mounts()
        #expect(try run([f.image, "exit", "7"], mounts).status == 7)
        let term = try run([f.image, "term"], mounts)
        #expect(term.signal == SIGTERM, "\(term)")
    }

    @Test func xarbuildCommandReportsLockProblemsAndExitsNonZero() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-cli")
        try PythonFixtures.write(
            scratch("req.txt"), "zstdcheck==0.3.0 --hash=sha256:\(String(repeating: "e", count: 64))")
        let result = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--python", PythonFixtures.python, "--source", f.source,
                "-r", scratch("req.txt"), "--wheelhouse", f.wheelhouse, "--entry-point", "myapp=myapp.cli:main",
                "-o", scratch("out.xar"),
            ], timeout: 120)
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr.hasPrefix("xarbuild: error: \(scratch("req.txt")):1: zstdcheck==0.3.0: hash mismatch"),
            "\(result)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }
}
