import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarSystem
import XarTestSupport

/// Crafted and damaged images: the reader must throw a `ReadError` sentence, never trap, never hang.
@Suite("SquashFS.Reader on corrupt images", .enabled(if: TestEnvironment.hasTool("mksquashfs")))
struct ReaderCorruptionTests {
    /// A small image: compressed (zstd) or with every table stored uncompressed, so tests can patch its
    /// structures in place.
    static func smallImage(compressed: Bool) throws -> [UInt8] {
        try smallImage(compression: compressed ? ["-comp", "zstd"] : ["-noI", "-noD", "-noF", "-noX"])
    }

    /// The small image, with mksquashfs's `compression` arguments.
    static func smallImage(compression: [String]) throws -> [UInt8] {
        let dir = TemporaryDirectory(prefix: "reader-corrupt")
        let tree = dir("tree")
        guard mkdir(tree, 0o755) == 0 else { throw TestFailure("mkdir failed") }
        let t = TreeBuilder(root: tree)
        try t.file("xx", textBytes(50))
        try t.file("abc", textBytes(10_000, seed: 1))
        try t.file("q", textBytes(5, seed: 2))
        try t.file("zz", [UInt8](repeating: 0, count: 8192))
        try t.directory("sub")
        try t.file("sub/inner", textBytes(4096 + 100, seed: 3))
        try t.symlink("link", to: Array("sub/inner".utf8))
        t.xattr("xx", "user.one", Array("value".utf8))
        t.xattr("sub", "user.shared", Array("shared value".utf8))
        t.xattr("q", "user.shared", Array("shared value".utf8))
        let image = dir("small.sqfs")
        let result = try Process.run(
            ["mksquashfs", tree, image, "-noappend", "-quiet", "-no-progress", "-processors", "1", "-b", "4096"]
                + compression, timeout: 120)
        guard result.status == 0 else { throw TestFailure("mksquashfs: \(result)") }
        return try FileSource(image).readAll()
    }

    /// The extended attributes the small image has, when the file system under the temporary directory keeps
    /// them (every file system on Linux does for `user.*`, tmpfs since 6.6).
    static let xattrCount: Int = {
        let dir = TemporaryDirectory(prefix: "reader-xattr-probe")
        let t = TreeBuilder(root: dir.path)
        guard (try? t.file("probe", [])) != nil else { return 0 }
        return t.xattr("probe", "user.probe", [1]) ? 3 : 0
    }()

    /// Opens `bytes` and reads everything: every listing, file and link target.
    @discardableResult
    static func readEverything(_ bytes: [UInt8], imageOffset: UInt64 = 0) throws -> Int {
        let reader = try SquashFS.Reader(
            source: SquashFS.MemorySource(bytes), imageOffset: imageOffset,
            decompressor: Codecs.decompressor(for:optionsBlock:))
        var total = 0
        try reader.walk { _, inode in
            total += try reader.extendedAttributes(of: inode).count
            switch inode.kind {
            case .regularFile: try reader.forEachBlock(of: inode) { total += $0.count }
            case .symlink: total += try reader.readLink(inode).count
            default: break
            }
        }
        return total
    }

    static func superblock(_ bytes: [UInt8]) throws -> SquashFS.Superblock {
        try SquashFS.Superblock(decoding: Array(bytes.prefix(96)))
    }

    /// Expects reading `bytes` to throw a `ReadError` whose sentence contains `phrase`.
    static func expectFailure(_ bytes: [UInt8], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try readEverything(bytes)
            Issue.record("reading succeeded; expected an error about \(phrase)", sourceLocation: sourceLocation)
        } catch let error as SquashFS.ReadError {
            #expect(error.message.contains(phrase), "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("threw \(type(of: error)) \(error), not a ReadError", sourceLocation: sourceLocation)
        }
    }

    @Test("an intact image reads, also behind a 4096-byte header")
    func intactImageReads() throws {
        for compressed in [false, true] {
            let bytes = try Self.smallImage(compressed: compressed)
            #expect(try Self.readEverything(bytes) == 50 + 10_000 + 5 + 8192 + 4196 + 9 + Self.xattrCount)
            #expect(try Self.readEverything([UInt8](repeating: 0x23, count: 4096) + bytes, imageOffset: 4096) > 0)
        }
    }

    @Test("an lz4 image is refused with a sentence naming the compressor")
    func unsupportedCompressorThrows() throws {
        let bytes = try Self.smallImage(compression: ["-comp", "lz4"])
        Self.expectFailure(bytes, "compressed with lz4")
    }

    @Test("truncated images throw")
    func truncatedImagesThrow() throws {
        let bytes = try Self.smallImage(compressed: true)
        let used = Int(try Self.superblock(bytes).bytesUsed)
        for length in [0, 10, 95, 96, 200, used / 2, used - 1] {
            Self.expectFailure(Array(bytes.prefix(length)), length < 96 ? "too short" : "truncated")
        }
    }

    @Test("damaged superblock fields throw a sentence naming the field")
    func damagedSuperblockThrows() throws {
        let bytes = try Self.smallImage(compressed: true)
        func patched(_ offset: Int, _ value: UInt64, size: Int) -> [UInt8] {
            var copy = bytes
            for i in 0..<size { copy[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            return copy
        }
        Self.expectFailure(patched(0, 0x7371_7369, size: 4), "magic")
        Self.expectFailure(patched(4, 0, size: 4), "no inodes")
        Self.expectFailure(patched(12, 4097, size: 4), "block size")
        Self.expectFailure(patched(20, 9, size: 2), "compressor id 9")
        Self.expectFailure(patched(20, 3, size: 2), "lzo")
        Self.expectFailure(patched(22, 11, size: 2), "block_log")
        Self.expectFailure(patched(26, 0, size: 2), "uid/gid")
        Self.expectFailure(patched(28, 3, size: 2), "SquashFS 3.0")
        Self.expectFailure(patched(32, 0x1_FFFF, size: 8), "root inode reference")
        Self.expectFailure(patched(40, UInt64(bytes.count) + 1, size: 8), "truncated")
        Self.expectFailure(patched(40, .max - 5, size: 8), "truncated")
        Self.expectFailure(patched(40, 50, size: 8), "smaller than the superblock")
        Self.expectFailure(patched(48, UInt64(bytes.count) * 2, size: 8), "id table")
        Self.expectFailure(patched(64, 1 << 40, size: 8), "inode table")
        let sb = try Self.superblock(bytes)
        Self.expectFailure(patched(72, sb.inodeTableStart, size: 8), "inode table is empty")
    }

    /// Names an extractor must refuse: `..`, `.`, a slash, a NUL.
    @Test("unsafe names in a listing throw", arguments: [("xx", ".."), ("q", "."), ("abc", "a/b"), ("xx", "x\0")])
    func unsafeNamesThrow(original: String, replacement: String) throws {
        var bytes = try Self.smallImage(compressed: false)
        let position = try Self.namePosition(original, in: bytes)
        for (i, byte) in replacement.utf8.enumerated() { bytes[position + i] = byte }
        Self.expectFailure(bytes, "unsafe name")
    }

    @Test("a directory entry leading back to the root is a cycle")
    func directoryCycleThrows() throws {
        var bytes = try Self.smallImage(compressed: false)
        let reader = try SquashFS.Reader(
            source: SquashFS.MemorySource(bytes), decompressor: Codecs.decompressor(for:optionsBlock:))
        let root = try reader.root
        let sub = try #require(try reader.listDirectory(root).first { $0.nameString == "sub" })
        // The entry's header precedes its name: offset (u16), inode_offset (i16), type (u16), name_size (u16).
        let name = try Self.namePosition("sub", in: bytes)
        let delta = Int(Int16(bitPattern: UInt16(bytes[name - 6]) | UInt16(bytes[name - 5]) << 8))
        let base = Int(sub.inodeNumber) - delta
        #expect(root.reference >> 16 == sub.inodeReference >> 16, "the small image keeps all inodes in one block")
        let newDelta = UInt16(bitPattern: Int16(Int(root.inodeNumber) - base))
        let offset = UInt16(root.reference & 0xFFFF)
        bytes[name - 8] = UInt8(offset & 0xFF)
        bytes[name - 7] = UInt8(offset >> 8)
        bytes[name - 6] = UInt8(newDelta & 0xFF)
        bytes[name - 5] = UInt8(newDelta >> 8)
        Self.expectFailure(bytes, "cycle")
    }

    @Test("every single flipped byte in the tables reads or throws a ReadError")
    func everyFlippedTableByteIsHandled() throws {
        for compressed in [false, true] {
            let bytes = try Self.smallImage(compressed: compressed)
            let sb = try Self.superblock(bytes)
            var failures = 0
            for position in Int(sb.inodeTableStart)..<Int(sb.bytesUsed) {
                var copy = bytes
                copy[position] ^= 0xFF
                do {
                    try Self.readEverything(copy)
                } catch is SquashFS.ReadError {
                    failures += 1
                } catch {
                    Issue.record("flipping byte \(position) threw \(error), not a ReadError")
                }
            }
            // Most flips in the tables are detected; a few (mtimes, permissions, unused fields) are not errors.
            #expect(failures > (Int(sb.bytesUsed) - Int(sb.inodeTableStart)) / 3, "compressed: \(compressed)")
        }
    }

    /// Where `name` is stored in the (uncompressed) directory table: after its `name_size − 1` field.
    static func namePosition(_ name: String, in bytes: [UInt8]) throws -> Int {
        let sb = try superblock(bytes)
        let pattern = [UInt8(name.utf8.count - 1), 0] + Array(name.utf8)
        let end = Int(min(sb.fragmentTableStart, sb.idTableStart))
        for position in Int(sb.directoryTableStart)..<(end - pattern.count)
        where Array(bytes[position..<(position + pattern.count)]) == pattern {
            return position + 2
        }
        throw TestFailure("the name \(name) is not in the directory table")
    }
}

extension FileSource {
    /// The whole file.
    func readAll() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(try file.size()))
        try bytes.withUnsafeMutableBytes { try read(at: 0, into: $0) }
        return bytes
    }
}
