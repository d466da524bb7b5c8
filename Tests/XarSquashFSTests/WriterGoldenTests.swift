import Testing
import XarSquashFS

/// Golden bytes for every on-disk structure the writer emits, written out by hand from the format's field
/// tables (squashfs-tools-ng `doc/format.adoc`), so an encoder change that moves a field fails here first.
@Suite("SquashFS on-disk structures")
struct WriterGoldenTests {
    /// Parses "01 02 ff" into bytes.
    static func hex(_ text: String) -> [UInt8] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
    }

    @Test func superblockEncodesEveryFieldLittleEndian() {
        var sb = SquashFS.Superblock()
        sb.inodeCount = 0x0102_0304
        sb.modificationTime = 0x6000_0000
        sb.blockSize = 131_072
        sb.fragmentEntryCount = 7
        sb.compressionID = SquashFS.CompressorID.zstd.rawValue
        sb.flags = [.noXattrs, .duplicates]
        sb.idCount = 1
        sb.rootInodeRef = 0x0000_1234_0000_0020
        sb.bytesUsed = 0x1_0000_0001
        sb.idTableStart = 0x1000
        sb.inodeTableStart = 0x60
        sb.directoryTableStart = 0x200
        sb.fragmentTableStart = 0x300
        #expect(
            sb.encoded()
                == Self.hex(
                    """
                    68 73 71 73  04 03 02 01  00 00 00 60  00 00 02 00  07 00 00 00  06 00  11 00  40 02  01 00
                    04 00 00 00  20 00 00 00 34 12 00 00  01 00 00 00 01 00 00 00  00 10 00 00 00 00 00 00
                    ff ff ff ff ff ff ff ff  60 00 00 00 00 00 00 00  00 02 00 00 00 00 00 00
                    00 03 00 00 00 00 00 00  ff ff ff ff ff ff ff ff
                    """))
        #expect(sb.encoded().count == 96)
    }

    @Test func basicDirectoryInode() {
        let inode = SquashFS.Inode(
            permissions: 0o755, uidIndex: 0, gidIndex: 1, mtime: 0x11223344, number: 5,
            body: .directory(
                blockStart: 0x20, linkCount: 3, fileSize: 40, blockOffset: 0x1ff, parent: 9, index: [], xattr: nil))
        #expect(
            inode.encoded()
                == Self.hex(
                    """
                    01 00 ed 01 00 00 01 00 44 33 22 11 05 00 00 00
                    20 00 00 00 03 00 00 00 28 00 ff 01 09 00 00 00
                    """))
    }

    @Test func extendedDirectoryInodeWithIndex() {
        let inode = SquashFS.Inode(
            permissions: 0o700, uidIndex: 2, gidIndex: 3, mtime: 1, number: 0x100,
            body: .directory(
                blockStart: 0x2000, linkCount: 2, fileSize: 70000, blockOffset: 12, parent: 0x101,
                index: [.init(index: 8200, start: 0x1f00, name: Array("ab".utf8))], xattr: nil))
        #expect(
            inode.encoded()
                == Self.hex(
                    """
                    08 00 c0 01 02 00 03 00 01 00 00 00 00 01 00 00
                    02 00 00 00 70 11 01 00 00 20 00 00 01 01 00 00 01 00 0c 00 ff ff ff ff
                    08 20 00 00 00 1f 00 00 01 00 00 00 61 62
                    """))
    }

    @Test func basicAndExtendedFileInodes() {
        let basic = SquashFS.Inode(
            permissions: 0o644, uidIndex: 0, gidIndex: 0, mtime: 0, number: 1,
            body: .file(
                blocksStart: 0x60, fileSize: 131_073, sparse: 0, linkCount: 1, fragment: 2, fragmentOffset: 0x10,
                xattr: nil, blockSizes: [0x1234, 0x0100_0000 | 0x2_0000], extended: false))
        #expect(
            basic.encoded()
                == Self.hex(
                    """
                    02 00 a4 01 00 00 00 00 00 00 00 00 01 00 00 00
                    60 00 00 00 02 00 00 00 10 00 00 00 01 00 02 00 34 12 00 00 00 00 02 01
                    """))
        let extended = SquashFS.Inode(
            permissions: 0o644, uidIndex: 0, gidIndex: 0, mtime: 0, number: 1,
            body: .file(
                blocksStart: 0x1_0000_0000, fileSize: 0x1_4000_0000, sparse: 0x4000_0000, linkCount: 2,
                fragment: UInt32.max, fragmentOffset: 0, xattr: nil, blockSizes: [0], extended: true))
        #expect(
            extended.encoded()
                == Self.hex(
                    """
                    09 00 a4 01 00 00 00 00 00 00 00 00 01 00 00 00
                    00 00 00 00 01 00 00 00  00 00 00 40 01 00 00 00  00 00 00 40 00 00 00 00
                    02 00 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff 00 00 00 00
                    """))
    }

    @Test func symlinkDeviceAndIPCInodes() {
        func inode(_ body: SquashFS.Inode.Body) -> [UInt8] {
            Array(
                SquashFS.Inode(permissions: 0o777, uidIndex: 0, gidIndex: 0, mtime: 0, number: 3, body: body)
                    .encoded().dropFirst(16))
        }
        let header = SquashFS.Inode(
            permissions: 0o777, uidIndex: 0, gidIndex: 0, mtime: 0, number: 3,
            body: .symlink(linkCount: 1, target: Array("a/b".utf8), xattr: nil)
        ).encoded().prefix(2)
        #expect(Array(header) == [3, 0])
        #expect(
            inode(.symlink(linkCount: 1, target: Array("a/b".utf8), xattr: nil))
                == Self.hex("01 00 00 00 03 00 00 00 61 2f 62"))
        let dev = SquashFS.Inode.encodeDevice(major: 8, minor: 0x123)
        #expect(dev == 0x0010_0823)
        #expect(
            inode(.device(block: true, linkCount: 1, device: dev, xattr: nil)) == Self.hex("01 00 00 00 23 08 10 00"))
        #expect(inode(.ipc(socket: true, linkCount: 2, xattr: nil)) == Self.hex("02 00 00 00"))
        let socket = SquashFS.Inode(
            permissions: 0o755, uidIndex: 0, gidIndex: 0, mtime: 0, number: 3,
            body: .ipc(socket: true, linkCount: 2, xattr: nil))
        #expect(socket.type == .socket)
        #expect(
            SquashFS.Inode(
                permissions: 0, uidIndex: 0, gidIndex: 0, mtime: 0, number: 3,
                body: .device(block: false, linkCount: 1, device: 0, xattr: nil)
            ).type == .characterDevice)
    }

    @Test func directoryHeaderAndEntry() {
        let header = SquashFS.DirectoryHeader(count: 2, start: 0x2010, inodeNumber: 100)
        #expect(header.encoded() == Self.hex("01 00 00 00 10 20 00 00 64 00 00 00"))
        let entry = SquashFS.DirectoryEntry(
            offset: 0x40, inodeOffset: -3, type: .extendedFile, name: Array("init.py".utf8))
        #expect(entry.encoded() == Self.hex("40 00 fd ff 02 00 06 00 69 6e 69 74 2e 70 79"))
    }

    @Test func fragmentEntry() {
        let entry = SquashFS.FragmentEntry(start: 0x1_2345_6789, size: 0x0100_0400)
        #expect(entry.encoded() == Self.hex("89 67 45 23 01 00 00 00 00 04 00 01 00 00 00 00"))
    }

    /// A metadata block header is the payload size with bit 15 set when stored uncompressed; the id table is
    /// one such block of u32 ids followed by the u64 position of that block.
    @Test func metadataBlockHeaderAndIDTable() throws {
        var tree = SquashFS.Tree(root: SquashFS.Node(.directory, permissions: 0o755, uid: 1000, gid: 1000))
        tree.add(SquashFS.Node(.fifo, permissions: 0o600, uid: 0, gid: 7), named: Array("f".utf8), in: 0)
        let sink = SquashFS.MemorySink()
        let summary = try SquashFS.Writer(options: .init(), compressor: nil).write(tree, to: sink)
        let image = sink.bytes
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(image[at + $1]) << (8 * $1) } }
        let idTable = u64(48)
        let idBlock = u64(idTable)
        // Ids in first-use order: the fifo (uid 0, gid 7) is written before the root (1000).
        #expect(Array(image[idBlock..<idBlock + 14]) == Self.hex("0c 80 00 00 00 00 07 00 00 00 e8 03 00 00"))
        #expect(idTable == idBlock + 14)
        #expect(UInt64(idTable + 8) == summary.bytesUsed)
        #expect(image.count % 4096 == 0)
        // The inode table starts right after the superblock (no data): one uncompressed block.
        #expect(u64(64) == 96)
        #expect(image[97] & 0x80 == 0x80)
    }
}
