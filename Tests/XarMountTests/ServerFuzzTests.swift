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
