import Glibc
import Testing
import XarMount
import XarTestSupport

/// What the kernel may keep without asking the server again, counted from the server's request trace
/// (`XAR_SERVER_TRACE=1` writes one log line per request that reaches it).
///
/// Recent kernels (6.18 here) keep a plain ENOENT as a negative dentry too; older ones ask again after ENOENT,
/// and there only the server's negative entries (inode 0, infinite timeout) keep the count at one.
extension ServerTests {
    @Test func missingNamesAreCachedAsNegativeEntries() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(harness.log)")

        let mount = harness.mountPoint
        // What Python's import system does for every package: probe extension-module names that are not there.
        for _ in 0..<5 {
            #expect(statErrno("\(mount)/lib/pkg/__init__.abi3.so") == ENOENT)
            #expect(statErrno("\(mount)/missing") == ENOENT)
            #expect(statErrno("\(mount)/hello.txt") == 0)
        }
        // Still answered right after the negative entries are in place.
        #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
        // A name under a regular file is not a negative entry: the server still says ENOTDIR.
        #expect(statErrno("\(mount)/hello.txt/x") == ENOTDIR)

        let lookups = harness.log.split(separator: "\n").filter { $0.hasPrefix("request lookup ") }
        let probe = lookups.filter { $0.hasSuffix(" __init__.abi3.so: negative") }
        let missing = lookups.filter { $0.hasSuffix(" missing: negative") }
        let present = lookups.filter { $0.hasSuffix(" hello.txt") }
        #expect(probe.count == 1, "\(lookups)")
        #expect(missing.count == 1, "\(lookups)")
        #expect(present.count == 1, "\(lookups)")
    }

    @Test func serverTracesNothingUnlessAsked() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line == "ok", "\(harness.log)")
        #expect(statErrno("\(harness.mountPoint)/missing") == ENOENT)
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        #expect(!harness.log.contains("request "), "\(harness.log)")
    }

    /// 0 when `stat` succeeds, else its errno.
    private func statErrno(_ path: String) -> Int32 {
        var info = stat()
        return stat(path, &info) == 0 ? 0 : errno
    }
}
