import Glibc
import Testing
import XarBuild
import XarCompression
import XarTestSupport

/// Images from `XarImageWriter` read back by the real readers (`unsquashfs`, `squashfuse_ll`, the kernel) show
/// exactly the input, for every compressor and block sizes 4 KiB, 128 KiB and 1 MiB.
@Suite("XarImageWriter oracles", .tags(.oracle))
struct XarImageWriterOracleTests {
    static let settings: [(CompressionChoice, Int)] = [
        (.zstd(level: 3), 4096), (.zstd(level: 15), 131_072), (.zstd(level: 19), 1 << 20),
        (.xz(bcj: false), 4096), (.xz(bcj: true), 131_072), (.xz(bcj: false), 1 << 20),
        (.gzip(level: 9), 4096), (.gzip(level: 6), 131_072), (.gzip(level: 1), 1 << 20),
        (.none, 131_072),
    ]

    @Test(
        "unsquashfs extracts exactly the input",
        .enabled(if: TestEnvironment.hasTool("unsquashfs")), arguments: settings)
    func unsquashfsShowsTheInput(compression: CompressionChoice, blockSize: Int) throws {
        let dir = TemporaryDirectory()
        try ImageTestSupport.makeMixedTree(dir("in"), blockSize: blockSize)
        try ImageTestSupport.build(
            dir("in"), dir("out.xar"), XarImageOptions(compression: compression, blockSize: blockSize, threads: 2))
        let listing = try ImageTestSupport.sh("unsquashfs -o 4096 -lls '\(dir("out.xar"))'")
        #expect(listing.contains("squashfs-root/long-link -> x/x/"))
        #expect(try ImageTestSupport.unsquashfsManifest(dir("out.xar")) == ImageTestSupport.manifest(dir("in")))
    }

    @Test(
        "a squashfuse_ll mount shows exactly the input",
        .enabled(if: TestEnvironment.hasTool("squashfuse_ll") && TestEnvironment.hasFuse), .tags(.fuse),
        arguments: settings)
    func fuseMountShowsTheInput(compression: CompressionChoice, blockSize: Int) throws {
        let dir = TemporaryDirectory()
        try ImageTestSupport.makeMixedTree(dir("in"), blockSize: blockSize)
        try ImageTestSupport.build(
            dir("in"), dir("out.xar"), XarImageOptions(compression: compression, blockSize: blockSize, threads: 2))
        let expected = try ImageTestSupport.manifest(dir("in"))
        let seen = try ImageTestSupport.withFuseMount(dir("out.xar")) { try ImageTestSupport.manifest($0) }
        #expect(seen == expected)
    }

    @Test(
        "a kernel loop mount shows exactly the input", .enabled(if: TestEnvironment.isRoot), .tags(.root),
        arguments: settings)
    func kernelMountShowsTheInput(compression: CompressionChoice, blockSize: Int) throws {
        let dir = TemporaryDirectory()
        try ImageTestSupport.makeMixedTree(dir("in"), blockSize: blockSize)
        try ImageTestSupport.build(
            dir("in"), dir("out.xar"), XarImageOptions(compression: compression, blockSize: blockSize, threads: 2))
        let expected = try ImageTestSupport.manifest(dir("in"))
        let seen = try ImageTestSupport.withKernelMount(dir("out.xar")) { try ImageTestSupport.manifest($0) }
        #expect(seen == expected)
    }
}
