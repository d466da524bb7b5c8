import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// What `xarbuild dir --xattrs` wrote, read back by our own `Reader`: every path's attributes exactly as on
/// disk (through `TreeComparison`, which also checks types, modes, contents and hard links).
@Suite(
    "Xarbuild xattrs read by our Reader", .tags(.root),
    .enabled(if: TestEnvironment.isRoot && TestEnvironment.hasTool("setfattr")))
struct XarbuildXattrReaderTests {
    @Test func readerShowsTheInputsAttributes() throws {
        let dir = TemporaryDirectory(prefix: "xarbuild-xattrs-reader")
        let tree = dir("tree")
        let setup = try Process.run(
            [
                "/bin/bash", "-c",
                """
                set -e
                mkdir -p '\(tree)/d' && cd '\(tree)'
                echo a > a; echo b > b; echo c > c; ln a a-link; ln -s a l; mkfifo d/p
                for f in a b; do setfattr -n user.comment -v 'shared set' $f; setfattr -n trusted.t -v 0x00ff $f; done
                for c in w x y z; do head -c 3000 /dev/zero | tr '\\0' $c > d/$c; done
                for c in w x y z; do setfattr -n user.big -v "$(cat d/$c)" d/$c; done
                setfattr -n user.dir -v D d; setfattr -h -n trusted.link -v L l; setfattr -n trusted.fifo -v F d/p
                setfattr -n user.empty c
                """,
            ], timeout: 60)
        try #require(setup.status == 0, "\(setup)")
        let image = dir("out.xar")
        let build = try Process.run(
            [TestEnvironment.product("xarbuild"), "dir", tree, "-o", image, "--xattrs"], timeout: 120)
        try #require(build.status == 0, "\(build)")
        let reader = try SquashFS.Reader(
            source: try FileSource(image), imageOffset: 4096, decompressor: Codecs.decompressor(for:optionsBlock:))
        var withAttributes = 0
        try reader.walk { _, inode in if inode.xattrIndex != nil { withAttributes += 1 } }
        #expect(withAttributes == 11)  // a, a-link, b, c, l, d, d/p, d/w…d/z
        try TreeComparison(reader: reader, sourceRoot: tree, compareRoot: true, hardLinks: true, xattrs: .all).run()
    }
}
