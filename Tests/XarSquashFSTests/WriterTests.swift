import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// `SquashFS.Writer` on in-memory trees: refusals, determinism across thread counts, devices and sockets, and
/// the bare image (no header) read back by `unsquashfs`.
@Suite("SquashFS.Writer")
struct WriterTests {
    static func node(_ kind: SquashFS.Node.Kind, _ mode: UInt16 = 0o644) -> SquashFS.Node {
        SquashFS.Node(kind, permissions: mode, mtime: 1_600_000_000)
    }

    static func file(_ bytes: [UInt8]) -> SquashFS.Node {
        node(.file(size: UInt64(bytes.count), content: SquashFS.BytesContent(bytes)))
    }

    static func image(
        _ tree: SquashFS.Tree, _ options: SquashFS.WriterOptions = .init(),
        _ choice: CompressionChoice = .gzip(level: 6)
    )
        throws -> [UInt8]
    {
        let sink = SquashFS.MemorySink()
        let compressor = try Codecs.compressor(choice, blockSize: options.blockSize)
        _ = try SquashFS.Writer(options: options, compressor: compressor).write(tree, to: sink)
        return sink.bytes
    }

    static var root: SquashFS.Tree { SquashFS.Tree(root: node(.directory, 0o755)) }

    @Test func refusesNamesLongerThan256Bytes() throws {
        var tree = Self.root
        tree.add(Self.file([1]), named: [UInt8](repeating: 0x61, count: 257), in: 0)
        #expect(throws: SquashFS.WriterError.self) { try Self.image(tree) }
        var ok = Self.root
        ok.add(Self.file([1]), named: [UInt8](repeating: 0x61, count: 256), in: 0)
        _ = try Self.image(ok)
    }

    @Test func refusesSymlinkTargetsOf4096Bytes() throws {
        var tree = Self.root
        tree.add(Self.node(.symlink(target: [UInt8](repeating: 0x78, count: 4096))), named: [0x6c], in: 0)
        do {
            _ = try Self.image(tree)
            Issue.record("accepted")
        } catch let error as SquashFS.WriterError {
            #expect("\(error)" == "The symbolic link /l has a target of 4096 bytes; at most 4095 fit.")
        }
    }

    @Test func refusesDuplicateAndInvalidNames() throws {
        for names in [[[0x61], [0x61]], [[0x2e]], [[0x2e, 0x2e]], [[0x61, 0x2f, 0x62]], [[]]] as [[[UInt8]]] {
            var tree = Self.root
            for name in names { tree.add(Self.file([]), named: name, in: 0) }
            #expect(throws: SquashFS.WriterError.self) { try Self.image(tree) }
        }
    }

    @Test(arguments: [0, 1000, 2048, 4095, 12288, 2 << 20])
    func refusesBlockSizesOutsideTheFormat(blockSize: Int) throws {
        #expect(throws: SquashFS.WriterError.invalidBlockSize(blockSize)) {
            try SquashFS.Writer(options: .init(blockSize: blockSize), compressor: nil).write(
                Self.root, to: SquashFS.MemorySink())
        }
    }

    /// Many blocks, fragments and duplicates: 1, 2 and 4 threads give the same bytes.
    @Test(arguments: [CompressionChoice.zstd(level: 3), .xz(bcj: false), .gzip(level: 9)])
    func threadCountDoesNotChangeTheBytes(choice: CompressionChoice) throws {
        var tree = Self.root
        var state: UInt64 = 1
        for i in 0..<60 {
            let bytes = (0..<(i * 1777)).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> (i % 2 == 0 ? 60 : 33))
            }
            tree.add(Self.file(bytes), named: Array("f\(i)".utf8), in: 0)
            tree.add(Self.file(bytes), named: Array("g\(i)".utf8), in: 0)
        }
        let one = try Self.image(tree, .init(blockSize: 4096, threads: 1), choice)
        #expect(try Self.image(tree, .init(blockSize: 4096, threads: 2), choice) == one)
        #expect(try Self.image(tree, .init(blockSize: 4096, threads: 4), choice) == one)
    }

    /// Devices, sockets, fifos and owners from an in-memory tree, through `unsquashfs -lln` on the bare image.
    @Test(.enabled(if: TestEnvironment.hasTool("unsquashfs")), .tags(.oracle))
    func bareImageListsEveryKind() throws {
        var tree = Self.root
        let sub = tree.add(Self.node(.directory, 0o750), named: Array("sub".utf8), in: 0)
        tree.add(Self.node(.blockDevice(major: 8, minor: 1), 0o660), named: Array("sda1".utf8), in: sub)
        tree.add(Self.node(.characterDevice(major: 259, minor: 77), 0o600), named: Array("big".utf8), in: sub)
        tree.add(Self.node(.socket, 0o755), named: Array("sock".utf8), in: 0)
        tree.add(Self.node(.fifo, 0o600), named: Array("fifo".utf8), in: 0)
        var owned = Self.file(Array("hello".utf8))
        owned.uid = 1234
        owned.gid = 99
        let f = tree.add(owned, named: Array("owned".utf8), in: sub)
        tree.link(f, named: Array("again".utf8), in: 0)
        let dir = TemporaryDirectory()
        let bytes = try Self.image(tree)
        let fd = open(dir("img"), O_WRONLY | O_CREAT, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        let result = try Process.run(["unsquashfs", "-lln", "-o", "0", dir("img")], timeout: 60)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true)
        }
        func line(_ path: String) -> [Substring] { lines.first { $0.last == Substring(path) } ?? [] }
        #expect(line("squashfs-root/sub/sda1").prefix(3) == ["brw-rw----", "0/0", "8,"])
        #expect(line("squashfs-root/sub/big").prefix(4) == ["crw-------", "0/0", "259,", "77"])
        #expect(line("squashfs-root/sock").first == "srwxr-xr-x")
        #expect(line("squashfs-root/fifo").first == "prw-------")
        #expect(line("squashfs-root/sub/owned").prefix(3) == ["-rw-r--r--", "1234/99", "5"])
        #expect(line("squashfs-root/again").prefix(3) == ["-rw-r--r--", "1234/99", "5"])
    }
}
