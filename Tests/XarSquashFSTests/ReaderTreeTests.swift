import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// Reads images made by the reference tools (`mksquashfs`, `gensquashfs`) from generated trees and compares
/// every entry — kind, mode, owner, mtime, link count, size, contents, link target, device — with the source.
@Suite("SquashFS.Reader on reference images")
struct ReaderTreeTests {
    /// One image to build and read back.
    struct Case: Sendable, CustomTestStringConvertible {
        var tool: String
        var arguments: [String]
        var blockSize: Int
        var imageOffset: UInt64
        var testDescription: String { "\(tool) \(arguments.joined(separator: " ")) -b \(blockSize) @\(imageOffset)" }
    }

    static let mksquashfsCases: [Case] =
        [4096, 131_072, 1 << 20].flatMap { blockSize in
            [["-comp", "gzip"], ["-comp", "xz"], ["-comp", "zstd"]].map {
                Case(tool: "mksquashfs", arguments: $0, blockSize: blockSize, imageOffset: blockSize == 4096 ? 0 : 4096)
            }
        } + [
            Case(
                tool: "mksquashfs", arguments: ["-noI", "-noD", "-noF", "-noX"], blockSize: 131_072, imageOffset: 4096),
            Case(
                tool: "mksquashfs", arguments: ["-comp", "zstd", "-Xcompression-level", "19"], blockSize: 65_536,
                imageOffset: 0),
            Case(
                tool: "mksquashfs", arguments: ["-comp", "xz", "-Xbcj", "x86"], blockSize: 131_072, imageOffset: 4096),
            Case(
                tool: "mksquashfs", arguments: ["-comp", "gzip", "-Xcompression-level", "4"], blockSize: 8192,
                imageOffset: 0),
            Case(tool: "mksquashfs", arguments: ["-comp", "zstd", "-no-fragments"], blockSize: 4096, imageOffset: 0),
            Case(
                tool: "mksquashfs", arguments: ["-comp", "gzip", "-always-use-fragments", "-no-exports"],
                blockSize: 131_072, imageOffset: 0),
        ]

    static let gensquashfsCases: [Case] = [
        Case(tool: "gensquashfs", arguments: ["-c", "gzip"], blockSize: 131_072, imageOffset: 0),
        Case(tool: "gensquashfs", arguments: ["-c", "xz"], blockSize: 1 << 20, imageOffset: 4096),
        Case(tool: "gensquashfs", arguments: ["-c", "zstd"], blockSize: 4096, imageOffset: 4096),
        Case(tool: "gensquashfs", arguments: ["-c", "zstd", "-X", "level=5"], blockSize: 131_072, imageOffset: 0),
        Case(tool: "gensquashfs", arguments: ["-c", "gzip", "-T", "-e"], blockSize: 4096, imageOffset: 0),
    ]

    @Test(
        "mksquashfs images read back exactly", .tags(.oracle),
        .enabled(if: TestEnvironment.hasTool("mksquashfs")), arguments: mksquashfsCases)
    func mksquashfsImages(_ c: Case) throws {
        try check(c, compareRoot: true, hardLinks: true)
    }

    @Test(
        "gensquashfs images read back exactly", .tags(.oracle),
        .enabled(if: TestEnvironment.hasTool("gensquashfs")), arguments: gensquashfsCases)
    func gensquashfsImages(_ c: Case) throws {
        // gensquashfs gives the root its own defaults, has its own link counts and drops empty xattr values
        // (see `TreeComparison`).
        try check(c, compareRoot: false, hardLinks: false)
    }

    func check(_ c: Case, compareRoot: Bool, hardLinks: Bool) throws {
        let dir = TemporaryDirectory(prefix: "reader-tree")
        let tree = dir("tree")
        try makeTree(at: tree, blockSize: c.blockSize)
        let image = try buildImage(c, tree: tree, in: dir)
        let reader = try SquashFS.Reader(
            source: try FileSource(image), imageOffset: c.imageOffset,
            decompressor: Codecs.decompressor(for:optionsBlock:))
        #expect(reader.superblock.blockSize == UInt32(c.blockSize))
        try TreeComparison(
            reader: reader, sourceRoot: tree, compareRoot: compareRoot, hardLinks: hardLinks,
            xattrs: c.tool == "mksquashfs" ? .all : .nonEmpty
        ).run()
    }
}

/// Builds the image for a case with the reference tool, with `imageOffset` bytes of zeros before it.
func buildImage(_ c: ReaderTreeTests.Case, tree: String, in dir: TemporaryDirectory) throws -> String {
    let plain = dir("plain.sqfs")
    let argv: [String]
    if c.tool == "mksquashfs" {
        argv =
            [
                "mksquashfs", tree, plain, "-noappend", "-quiet", "-no-progress", "-processors", "1", "-b",
                "\(c.blockSize)",
            ]
            + c.arguments
    } else {
        argv =
            ["gensquashfs", "-D", tree, "-k", "-x", "-q", "-f", "-j", "1", "-b", "\(c.blockSize)"] + c.arguments + [
                plain
            ]
    }
    let result = try Process.run(argv, timeout: 300)
    guard result.status == 0 else { throw TestFailure("\(argv.joined(separator: " ")): \(result)") }
    guard c.imageOffset > 0 else { return plain }
    let shifted = dir("shifted.xar")
    let cat = try Process.shell("{ head -c \(c.imageOffset) /dev/zero; cat '\(plain)'; } > '\(shifted)'", timeout: 60)
    guard cat.status == 0 else { throw TestFailure("prepending the header failed: \(cat)") }
    return shifted
}

/// The tree every reference image is made from; file sizes are placed around multiples of `blockSize`.
/// `nonUTF8Names` adds a name that is not valid UTF-8.
func makeTree(at root: String, blockSize b: Int, nonUTF8Names: Bool = true) throws {
    guard mkdir(root, 0o755) == 0 else { throw TestFailure("mkdir \(root) failed") }
    let t = TreeBuilder(root: root)
    try t.file("empty", [])
    try t.file("one", [0x41])
    try t.file("b-1", textBytes(b - 1))
    try t.file("b", textBytes(b, seed: 1))
    try t.file("b+1", textBytes(b + 1, seed: 2))
    try t.file("2b-zeros", [UInt8](repeating: 0, count: 2 * b))
    try t.file("3b+17", textBytes(3 * b + 17, seed: 3), mode: 0o755)
    var state: UInt32 = 12345
    try t.file(
        "random",
        (0..<(b + 100)).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        })
    try t.sparseFile("sparse", size: 5 * b + 10, data: [(2 * b + 5, Array("hello".utf8)), (5 * b + 2, [1, 2, 3])])
    try t.file("setuid", textBytes(10), mode: 0o4755)
    try t.file("private", textBytes(20), mode: 0o600)
    try t.directory("sticky", mode: 0o1777)
    try t.directory("dir")
    try t.directory("dir/sub")
    try t.directory("dir/sub/deep")
    try t.file("dir/sub/deep/leaf", textBytes(300, seed: 9))
    try t.directory("empty-dir", mode: 0o700)
    try t.file("hard-a", textBytes(100, seed: 4))
    try t.hardLink("dir/hard-b", to: "hard-a")
    try t.hardLink("dir/sub/hard-c", to: "hard-a")
    try t.symlink("link-rel", to: Array("dir/sub".utf8))
    try t.symlink("dangling", to: Array("nowhere/at/all".utf8))
    try t.symlink("long-link", to: [UInt8](repeating: UInt8(ascii: "x"), count: 4000))
    try t.file("naïve café 日本語", textBytes(33))
    try t.file("with space", textBytes(34))
    try t.file("new\nline", textBytes(35))
    if nonUTF8Names { try t.file([0x66, 0xFF, 0xFE, 0x80], textBytes(36)) }
    try t.node("fifo", mode: S_IFIFO | 0o644)
    if TestEnvironment.isRoot {
        try t.node("chr", mode: S_IFCHR | 0o600, device: linuxDevice(major: 1, minor: 3))
        try t.node("blk", mode: S_IFBLK | 0o660, device: linuxDevice(major: 8, minor: 300))
        try t.node("socket", mode: S_IFSOCK | 0o755)
        try t.owner("private", uid: 1000, gid: 1000)
        try t.owner("dir/sub/deep/leaf", uid: 65534, gid: 100)
        try t.owner("dangling", uid: 4242, gid: 4343)
    }
    // Values shared by several files are stored once and referenced (mksquashfs's out-of-line values).
    if t.xattr("b", "user.comment", Array("hello".utf8)) {
        t.xattr("b", "user.big", textBytes(3000, seed: 5))
        t.xattr("dir/sub", "user.shared", Array("same value".utf8))
        t.xattr("dir/sub/deep/leaf", "user.shared", Array("same value".utf8))
        t.xattr("setuid", "user.shared", Array("same value".utf8))
        t.xattr("setuid", "user.empty", [])
        t.xattr("fifo", "user.on-a-fifo", [1, 2, 3])
    }
    try t.directory("big-dir")
    for i in 0..<5000 {
        try t.file("big-dir/entry-\(i)-\(String(repeating: "n", count: i % 40))", i % 7 == 0 ? [UInt8(i % 256)] : [])
    }
    try t.mtime(Array("b".utf8), 1_000_000_000)
    try t.mtime(Array("dangling".utf8), 1_234_567_890)
    try t.mtime(Array("hard-a".utf8), 2_000_000_000)
    for (i, d) in ["dir/sub/deep", "dir/sub", "dir", "big-dir", "empty-dir", "sticky"].enumerated() {
        try t.mtime(Array(d.utf8), 1_600_000_000 + i)
    }
}

/// glibc's `makedev`.
func linuxDevice(major: UInt64, minor: UInt64) -> dev_t {
    let high: UInt64 = (major & 0xFFFF_F000) << 32
    let middle: UInt64 = ((major & 0xFFF) << 8) | ((minor & 0xFFFF_FF00) << 12)
    return dev_t(high | middle | (minor & 0xFF))
}

/// Files past 4 GiB need the extended file inode's 64-bit size and start.
@Suite("SquashFS.Reader on a file past 4 GiB")
struct ReaderLargeFileTests {
    @Test(
        "a sparse 4 GiB + 100 byte file reads back at its end", .tags(.oracle, .slow),
        .enabled(if: TestEnvironment.hasTool("mksquashfs")))
    func sparseFilePastFourGiB() throws {
        let dir = TemporaryDirectory(prefix: "reader-large")
        let tree = dir("tree")
        guard mkdir(tree, 0o755) == 0 else { throw TestFailure("mkdir failed") }
        let size = (4 << 30) + 100
        let tail = Array("the end of a very large file".utf8)
        try TreeBuilder(root: tree).sparseFile(
            "large", size: size, data: [(1 << 20, [7, 7, 7]), (size - tail.count, tail)])
        let image = try buildImage(
            .init(tool: "mksquashfs", arguments: ["-comp", "zstd"], blockSize: 1 << 20, imageOffset: 0),
            tree: tree, in: dir)
        let reader = try SquashFS.Reader(
            source: try FileSource(image), decompressor: Codecs.decompressor(for:optionsBlock:))
        let inode = try #require(try reader.lookup("large"))
        #expect(inode.isExtended)
        #expect(inode.size == UInt64(size))
        #expect(try reader.readFile(inode, offset: UInt64(size - tail.count), count: 1000) == tail)
        #expect(try reader.readFile(inode, offset: (1 << 20) - 1, count: 5) == [0, 7, 7, 7, 0])
        #expect(try reader.readFile(inode, offset: 3 << 30, count: 4096) == [UInt8](repeating: 0, count: 4096))
        #expect(try reader.readFile(inode, offset: UInt64(size), count: 10) == [])
    }
}
