import Glibc
import Testing
import XarSystem
import XarTestSupport

/// Extended attributes through the FUSE server: an image written by `xarbuild dir --xattrs`, served by the
/// built `xarfs`, must show each attribute in the namespace it had on disk. libsquashfuse 0.1.105 swaps the
/// format's `trusted.` (type 1) and `security.` (type 2); the server answers xattr requests itself for that.
@Suite(
    .serialized, .tags(.fuse, .root),
    .enabled(
        if: TestEnvironment.isRoot && TestEnvironment.hasFuse && TestEnvironment.hasTool("mksquashfs")
            && TestEnvironment.hasTool("setfattr") && TestEnvironment.hasTool("getfattr")))
struct ServerXattrTests {
    @Test func mountShowsEachAttributeInItsOwnNamespace() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let file = "\(harness.tree)/hello.txt"
        let setup = try Process.run(
            [
                "/bin/bash", "-c",
                """
                set -e
                setfattr -n user.a -v 0x61ff '\(file)'
                setfattr -n trusted.t -v trusted-value '\(file)'
                setfattr -n user.longer.name -v "$(head -c 2000 /dev/zero | tr '\\0' x)" '\(file)'
                setfattr -n trusted.empty '\(harness.tree)/lib'
                setfattr -n security.s -v 0x0102 '\(file)' 2>/dev/null || true
                """,
            ], timeout: 30)
        try #require(setup.status == 0, "\(setup)")
        let built = harness.directory("xattrs.xar")
        let build = try Process.run(
            [TestEnvironment.product("xarbuild"), "dir", harness.tree, "-o", built, "--xattrs"], timeout: 120)
        try #require(build.status == 0, "\(build)")
        try #require(try Process.run(["cp", built, harness.imagePath], timeout: 30).status == 0)
        let digest = try Process.shell("tail -c +4097 '\(harness.imagePath)' | sha256sum", timeout: 30).stdout
            .split(separator: " ").first.map(String.init)

        let start = try harness.start(idleTimeout: 0, digest: digest)
        try #require(start.line == "ok", "\(harness.log)")

        // getfattr probes each list and value size (size 0) before reading it.
        func dump(_ path: String) throws -> [String] {
            let result = try Process.run(["getfattr", "-d", "-m", "-", "-e", "hex", path], timeout: 30)
            #expect(result.status == 0, "\(result)")
            return result.stdout.split(separator: "\n").filter { !$0.hasPrefix("# file:") }.map(String.init)
        }
        let expected = try dump(file)
        #expect(expected.contains("trusted.t=0x747275737465642d76616c7565"))
        #expect(expected.contains("user.a=0x61ff"))
        let mount = harness.mountPoint
        #expect(try dump("\(mount)/hello.txt") == expected)
        #expect(try dump("\(mount)/lib") == dump("\(harness.tree)/lib"))
        #expect(try dump("\(mount)/run.sh") == [])

        // One value by name, in each namespace; the same short name in another namespace is not there (0.1.105's
        // own lookup matched names of equal length across namespaces).
        let trusted = try Process.run(
            ["getfattr", "--only-values", "-n", "trusted.t", "\(mount)/hello.txt"], timeout: 30)
        #expect(trusted.stdout == "trusted-value")
        for other in ["security.t", "user.t", "trusted.a"] {
            let missing = try Process.run(["getfattr", "-n", other, "\(mount)/hello.txt"], timeout: 30)
            #expect(missing.status != 0, "\(other): \(missing)")
            #expect(missing.stderr.contains("No such attribute"), "\(other): \(missing)")
        }
        if expected.contains("security.s=0x0102") {
            let security = try Process.run(
                ["getfattr", "-e", "hex", "-n", "security.s", "\(mount)/hello.txt"], timeout: 30)
            #expect(security.stdout.contains("security.s=0x0102"), "\(security)")
            #expect(try Process.run(["getfattr", "-n", "trusted.s", "\(mount)/hello.txt"], timeout: 30).status != 0)
        }
    }
}
