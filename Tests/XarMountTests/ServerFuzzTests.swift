import Glibc
import Testing
import XarMount
import XarSystem
import XarTestSupport

/// Images nobody checked: the server refuses what libsquashfuse would trust blindly, and survives the rest.
@Suite(
    .serialized, .tags(.fuse, .root, .slow),
    .enabled(
        if: TestEnvironment.isRoot && TestEnvironment.hasFuse && TestEnvironment.hasTool("mksquashfs")
            && TestEnvironment.hasTool("python3") && TestEnvironment.hasTool("getfattr")))
struct ServerFuzzTests {
    /// The repository's `scripts/fuzz-server`, found from this file's path.
    static let fuzzer: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/scripts/fuzz-server"
    }()

    /// 500 mutated uncompressed images (superblock, data, inodes, directories, tables; flipped bytes and fields
    /// set to values that matter), each served by the real server and, when it mounts, walked with a bound of 5 s:
    /// none crashes the server, none hangs. (Without the structural check, 29 of these crashed it and 2 hung.)
    @Test func fiveHundredMutatedImagesNeitherCrashNorHangTheServer() throws {
        let result = try Process.run(
            ["python3", Self.fuzzer, "--xarfs", TestEnvironment.product("xarexec"), "--count", "500", "--jobs", "4"],
            timeout: 600)
        let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(result.status == 0, "\(result.stderr.suffix(3000))\n\(summary)")
        #expect(summary.contains("\"crash\": 0, \"hang\": 0, \"images\": 500"), "\(summary)")
        // Most images are refused before they are served, and many still mount and serve: both paths ran.
        #expect(summary.contains("\"served\": ") && !summary.contains("\"served\": 0,"), "\(summary)")
        #expect(!summary.contains("\"refused\": 0,"), "\(summary)")
    }

    /// A directory entry whose name length says 3999 (the format allows 256; libsquashfuse 0.1.105 copies that many
    /// bytes into a 257-byte buffer on lookup and readdir): the server refuses the image with one sentence before it
    /// mounts, and exits with a status, not a signal.
    @Test func aNameLengthOf3999IsRefusedBeforeTheMount() throws {
        let harness = try ServerHarness(uncompressed: true) { path in
            var bytes = try #require(Self.read(path))
            // In the directory table the entry's 16-bit name size (stored minus one) comes right before the name.
            let name = Array("hello.txt".utf8)
            let at = try #require(
                (4096..<(bytes.count - name.count)).last { bytes[$0..<($0 + name.count)].elementsEqual(name) })
            #expect(bytes[at - 2] == UInt8(name.count - 1) && bytes[at - 1] == 0)
            bytes[at - 2] = UInt8(3998 & 0xFF)
            bytes[at - 1] = UInt8(3998 >> 8)
            try #require(Self.write(bytes, to: path))
        }
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line.hasPrefix("error: cannot serve \(harness.imagePath): its structure is corrupt"), "\(start)")
        #expect(start.line.contains("a name of 3999 bytes"), "\(start.line)")
        #expect(start.status == 65, "\(start)")
        #expect(!harness.isMounted)
    }

    /// The check is remembered per file: a second server of the same file skips it (a marker in the user's cache
    /// names the file's device, inode, size and change time); a file changed in place is checked again, and so is
    /// another file that claims the same digest, which is refused when it is damaged.
    @Test func theCheckIsRememberedForTheFileThatPassedIt() throws {
        let harness = try ServerHarness(uncompressed: true)
        defer { harness.tearDown() }
        let cache = harness.directory("user-cache")
        let environment = ["XDG_CACHE_HOME": cache]
        #expect(mkdir(cache, 0o700) == 0)
        let checked = { harness.log.split(separator: "\n").filter { $0.contains("checked the structure of") }.count }
        #expect(try harness.start(idleTimeout: 0, environment: environment).line == "ok", "\(harness.log)")
        #expect(checked() == 1, "\(harness.log)")
        #expect(access("\(cache)/xar/checked/\(harness.digest)", F_OK) == 0)
        try stop(harness)
        #expect(try harness.start(idleTimeout: 0, environment: environment).line == "ok", "\(harness.log)")
        #expect(checked() == 1, "a second server checked the same file again: \(harness.log)")
        try stop(harness)
        // Changed in place (its change time moves): checked again.
        #expect(utimes(harness.imagePath, nil) == 0)
        #expect(try harness.start(idleTimeout: 0, environment: environment).line == "ok", "\(harness.log)")
        #expect(checked() == 2, "\(harness.log)")
        try stop(harness)
        // Another file under the same digest, with a name length of 3999: refused, the marker notwithstanding.
        var bytes = try #require(Self.read(harness.imagePath))
        let name = Array("hello.txt".utf8)
        let at = try #require(
            (4096..<(bytes.count - name.count)).last { bytes[$0..<($0 + name.count)].elementsEqual(name) })
        bytes[at - 2] = UInt8(3998 & 0xFF)
        bytes[at - 1] = UInt8(3998 >> 8)
        let impostor = harness.directory("impostor.xar")
        #expect(creat(impostor, 0o644) >= 0)
        try #require(Self.write(bytes, to: impostor))
        harness.servedImagePath = impostor
        let refused = try harness.start(idleTimeout: 0, environment: environment)
        #expect(refused.line.contains("a name of 3999 bytes"), "\(refused)")
        #expect(!harness.isMounted)
    }

    /// Unmounts, waits for the server to exit, and makes the mount point again.
    private func stop(_ harness: ServerHarness) throws {
        let pid = try #require(harness.serverPID)
        #expect(umount2(harness.mountPoint, 0) == 0)
        #expect(harness.wait(seconds: 10) { kill(pid, 0) != 0 }, "the server did not exit: \(harness.log)")
        mkdir(harness.mountPoint, 0o755)
    }

    /// The whole file at `path`, or nil.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { return bytes }
            bytes += buffer[0..<n]
        }
    }

    /// Replaces the contents of `path` with `bytes`; false when it cannot.
    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}
