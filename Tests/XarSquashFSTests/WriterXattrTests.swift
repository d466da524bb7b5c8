import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// `SquashFS.Writer` storing extended attributes: every kind of node, shared sets, the table layout the kernel
/// checks, and our `Reader` showing exactly what was written.
@Suite("SquashFS.Writer xattrs")
struct WriterXattrTests {
    static func attribute(_ name: String, _ value: [UInt8]) -> SquashFS.ExtendedAttribute {
        SquashFS.ExtendedAttribute(name: Array(name.utf8), value: value)
    }

    static func with(_ node: SquashFS.Node, _ xattrs: [SquashFS.ExtendedAttribute]) -> SquashFS.Node {
        var node = node
        node.xattrs = xattrs
        return node
    }

    static let shared = [attribute("trusted.t", [0, 0xff]), attribute("user.a", Array("shared".utf8))]

    /// A tree with attributes on the root, a directory, files (two with the same set, one hard-linked), a
    /// symlink, a device and a fifo, plus a file without any; one value spans metadata blocks.
    static func tree() -> SquashFS.Tree {
        var tree = SquashFS.Tree(
            root: with(WriterTests.node(.directory, 0o755), [attribute("user.root", Array("r".utf8))]))
        let d = tree.add(
            with(WriterTests.node(.directory, 0o755), [attribute("security.s", [1, 2, 3])]), named: Array("d".utf8),
            in: 0)
        tree.add(with(WriterTests.file([1, 2]), shared), named: Array("f1".utf8), in: 0)
        let f2 = tree.add(with(WriterTests.file([3]), shared), named: Array("f2".utf8), in: d)
        tree.link(f2, named: Array("f2-link".utf8), in: 0)
        tree.add(WriterTests.file([4]), named: Array("plain".utf8), in: 0)
        tree.add(
            with(WriterTests.file([]), [attribute("user.big", (0..<20_000).map { UInt8($0 % 251) })]),
            named: Array("big".utf8), in: d)
        tree.add(
            with(WriterTests.node(.symlink(target: Array("f1".utf8)), 0o777), [attribute("trusted.link", [])]),
            named: Array("l".utf8), in: 0)
        tree.add(
            with(WriterTests.node(.characterDevice(major: 1, minor: 3)), [attribute("user.dev", [9])]),
            named: Array("null".utf8), in: d)
        tree.add(with(WriterTests.node(.fifo), [attribute("user.fifo", [8])]), named: Array("p".utf8), in: d)
        return tree
    }

    /// The attributes the tree above gives each path.
    static let expected: [String: [SquashFS.ExtendedAttribute]] = [
        "": [attribute("user.root", Array("r".utf8))],
        "d": [attribute("security.s", [1, 2, 3])],
        "f1": shared, "d/f2": shared, "f2-link": shared, "plain": [],
        "d/big": [attribute("user.big", (0..<20_000).map { UInt8($0 % 251) })],
        "l": [attribute("trusted.link", [])],
        "d/null": [attribute("user.dev", [9])], "d/p": [attribute("user.fifo", [8])],
    ]

    @Test(arguments: [CompressionChoice.gzip(level: 6), .none])
    func readerShowsExactlyTheAttributes(choice: CompressionChoice) throws {
        let bytes = try WriterTests.image(Self.tree(), .init(), choice)
        let reader = try SquashFS.Reader(
            source: SquashFS.MemorySource(bytes), decompressor: Codecs.decompressor(for:optionsBlock:))
        var seen: [String: [SquashFS.ExtendedAttribute]] = [:]
        try reader.walk { path, inode in
            seen[String(decoding: path, as: UTF8.self)] = try reader.extendedAttributes(of: inode).map {
                SquashFS.ExtendedAttribute(name: $0.name, value: $0.value)
            }
            #expect((inode.xattrIndex == nil) == (Self.expected[String(decoding: path, as: UTF8.self)] ?? []).isEmpty)
        }
        #expect(seen == Self.expected)
    }

    @Test func tablesAreLastAndSharedSetsStoredOnce() throws {
        let bytes = try WriterTests.image(Self.tree())
        let reader = try SquashFS.Reader(
            source: SquashFS.MemorySource(bytes), decompressor: Codecs.decompressor(for:optionsBlock:))
        let sb = reader.superblock
        #expect(!sb.flags.contains(.noXattrs))
        #expect(sb.xattrIDTableStart > sb.idTableStart)
        func u64(_ at: UInt64) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(bytes[Int(at) + $1]) << (8 * UInt64($1)) }
        }
        let ids = (0..<4).reduce(0) { $0 | UInt32(bytes[Int(sb.xattrIDTableStart) + 8 + $1]) << (8 * UInt32($1)) }
        // root, d, the shared set, big, link, dev, fifo: 7 distinct sets, 16 bytes each, one metadata block.
        #expect(ids == 7)
        #expect(sb.bytesUsed == sb.xattrIDTableStart + 16 + 8)
        let keyValueStart = u64(sb.xattrIDTableStart)
        let idBlock = u64(sb.xattrIDTableStart + 16)
        #expect(keyValueStart > sb.idTableStart && keyValueStart < idBlock && idBlock < sb.xattrIDTableStart)
    }

    @Test func noAttributesKeepsTheTableAbsent() throws {
        var tree = WriterTests.root
        tree.add(WriterTests.file([1]), named: [0x61], in: 0)
        let bytes = try WriterTests.image(tree)
        let reader = try SquashFS.Reader(
            source: SquashFS.MemorySource(bytes), decompressor: Codecs.decompressor(for:optionsBlock:))
        #expect(reader.superblock.flags.contains(.noXattrs))
        #expect(reader.superblock.xattrIDTableStart == SquashFS.Superblock.absent)
    }

    @Test func refusesNamespacesTheFormatCannotStore() throws {
        var tree = WriterTests.root
        tree.add(
            Self.with(WriterTests.file([1]), [Self.attribute("system.posix_acl_access", [2])]), named: [0x61], in: 0)
        #expect(throws: SquashFS.WriterError.unstorableXattr(name: Array("system.posix_acl_access".utf8))) {
            try WriterTests.image(tree)
        }
    }

    @Test func sameTreeSameBytes() throws {
        #expect(
            try WriterTests.image(Self.tree(), .init(threads: 1)) == WriterTests.image(Self.tree(), .init(threads: 2)))
    }
}
