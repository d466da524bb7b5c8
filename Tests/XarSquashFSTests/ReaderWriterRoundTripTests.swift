import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// Our writer and our reader agree: `xarbuild dir` packs the generated tree, the reader reads the `.xar`'s image
/// (at the header's 4096-byte offset) and every entry matches the source.
@Suite(
    "SquashFS.Reader on xarbuild images",
    .enabled(if: access(TestEnvironment.product("xarbuild"), X_OK) == 0))
struct ReaderWriterRoundTripTests {
    static let cases: [(arguments: [String], blockSize: Int)] = [
        (["--compression", "zstd"], 4096),
        (["--compression", "zstd", "--level", "3"], 131_072),
        (["--compression", "xz", "--bcj"], 131_072),
        (["--compression", "gzip"], 1 << 20),
        (["--compression", "none"], 65_536),
    ]

    @Test("xarbuild images read back exactly", arguments: cases)
    func xarbuildImages(arguments: [String], blockSize: Int) throws {
        let dir = TemporaryDirectory(prefix: "reader-xarbuild")
        let tree = dir("tree")
        // xarbuild cannot pack a name that is not UTF-8 yet ("the path vanished while the image was built").
        try makeTree(at: tree, blockSize: blockSize, nonUTF8Names: false)
        let output = dir("tree.xar")
        let argv =
            [
                TestEnvironment.product("xarbuild"), "dir", tree, "-o", output, "--block-size", "\(blockSize)",
                "--keep-owners", "--threads", "2",
            ] + arguments
        let result = try Process.run(argv, timeout: 300)
        try #require(result.status == 0, "\(result)")
        let reader = try SquashFS.Reader(
            source: try FileSource(output), imageOffset: 4096, decompressor: Codecs.decompressor(for:optionsBlock:))
        #expect(reader.superblock.blockSize == UInt32(blockSize))
        // xarbuild cannot store extended attributes yet; it drops them and says so.
        try TreeComparison(reader: reader, sourceRoot: tree, compareRoot: true, hardLinks: true, xattrs: .none).run()
    }
}
