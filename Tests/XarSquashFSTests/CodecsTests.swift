import Dispatch
import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// Golden tests for `XarCompression.Codecs`: round trips, options-block bytes, the kernel's limits on xz
/// dictionaries and zstd windows, thread safety, and corrupt input.
@Suite("Codecs")
struct CodecsTests {
    static let choices: [CompressionChoice] = [
        .zstd(level: 1), .zstd(level: 15), .zstd(level: 19), .xz(bcj: false), .xz(bcj: true), .gzip(level: 1),
        .gzip(level: 9),
    ]

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    static func randomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func text(_ count: Int) -> [UInt8] {
        let line = Array("def main():\n    print('hello, squashfs', 42)\n    return sum(range(10))\n".utf8)
        var words = randomBytes(count / 16 + 1, seed: 7)
        var out: [UInt8] = []
        while out.count < count {
            out += line
            out += String(words.removeLast() % 100).utf8
        }
        return Array(out.prefix(count))
    }

    static func compress(_ choice: CompressionChoice, _ data: [UInt8], blockSize: Int) throws -> [UInt8]? {
        let compressor = try #require(try Codecs.compressor(choice, blockSize: blockSize))
        return try data.withUnsafeBytes { try compressor.compress($0) }
    }

    static func decompress(_ id: SquashFS.CompressorID, _ block: [UInt8], capacity: Int) throws -> [UInt8] {
        let decompressor = try Codecs.decompressor(for: id, optionsBlock: nil)
        var output = [UInt8](repeating: 0, count: capacity)
        let count = try block.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { try decompressor.decompress(input, into: $0) }
        }
        return Array(output.prefix(count))
    }

    @Test("round trip of zeros and text, each codec and block size", arguments: choices, [4096, 131_072, 1 << 20])
    func roundTripCompressibleData(choice: CompressionChoice, blockSize: Int) throws {
        let compressor = try #require(try Codecs.compressor(choice, blockSize: blockSize))
        for data in [[UInt8](repeating: 0, count: blockSize), Self.text(blockSize), Self.text(blockSize / 3 + 5)] {
            let block = try #require(try Self.compress(choice, data, blockSize: blockSize))
            #expect(block.count < data.count)
            // The block keeps no buffer as large as the input alive (the writer holds many blocks at once).
            #expect(block.capacity <= block.count + 4096)
            #expect(try Self.decompress(compressor.id, block, capacity: blockSize) == data)
        }
    }

    @Test("incompressible input returns nil", arguments: choices)
    func incompressibleReturnsNil(choice: CompressionChoice) throws {
        #expect(try Self.compress(choice, Self.randomBytes(131_072), blockSize: 131_072) == nil)
        #expect(try Self.compress(choice, [42], blockSize: 4096) == nil)
        #expect(try Self.compress(choice, [], blockSize: 4096) == nil)
    }

    @Test("random data with a compressible half round-trips")
    func roundTripMixedData() throws {
        for choice in Self.choices {
            let data = Self.randomBytes(65_536) + [UInt8](repeating: 7, count: 65_536)
            let compressor = try #require(try Codecs.compressor(choice, blockSize: 131_072))
            let block = try #require(try data.withUnsafeBytes { try compressor.compress($0) })
            #expect(try Self.decompress(compressor.id, block, capacity: 131_072) == data)
        }
    }

    @Test("options blocks: bytes, and none for the tools' defaults")
    func optionsBlocks() throws {
        func options(_ choice: CompressionChoice, _ blockSize: Int = 131_072) throws -> [UInt8]? {
            try #require(try Codecs.compressor(choice, blockSize: blockSize)).optionsBlock
        }
        #expect(try options(.zstd(level: 15)) == nil)
        #expect(try options(.zstd(level: 19)) == [19, 0, 0, 0])
        #expect(try options(.zstd(level: 3)) == [3, 0, 0, 0])
        #expect(try options(.gzip(level: 9)) == nil)
        #expect(try options(.gzip(level: 6)) == [6, 0, 0, 0, 15, 0, 0, 0])
        #expect(try options(.xz(bcj: false)) == nil)
        // dictionary_size = 128 KiB, executable_filters = x86.
        #expect(try options(.xz(bcj: true)) == [0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00])
        #expect(try options(.xz(bcj: true), 1 << 20) == [0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00])
        #expect(try Codecs.compressor(.none, blockSize: 4096) == nil)
    }

    @Test("ids match the superblock's compression_id")
    func ids() throws {
        #expect(try Codecs.compressor(.gzip(level: 9), blockSize: 4096)?.id.rawValue == 1)
        #expect(try Codecs.compressor(.xz(bcj: false), blockSize: 4096)?.id.rawValue == 4)
        #expect(try Codecs.compressor(.zstd(level: 3), blockSize: 4096)?.id.rawValue == 6)
    }

    @Test("bad settings are refused with a sentence")
    func badSettings() {
        #expect(throws: CompressionError.self) { try Codecs.compressor(.zstd(level: 0), blockSize: 4096) }
        #expect(throws: CompressionError.self) { try Codecs.compressor(.zstd(level: 23), blockSize: 4096) }
        #expect(throws: CompressionError.self) { try Codecs.compressor(.gzip(level: 10), blockSize: 4096) }
        #expect(throws: CompressionError.self) { try Codecs.compressor(.xz(bcj: false), blockSize: 2048) }
        #expect(throws: CompressionError.self) { try Codecs.compressor(.xz(bcj: false), blockSize: 3 << 16) }
        #expect(throws: CompressionError.self) { try Codecs.compressor(.xz(bcj: false), blockSize: 2 << 20) }
        #expect(throws: CompressionError.self) { try Codecs.decompressor(for: .lz4, optionsBlock: nil) }
        #expect(throws: CompressionError.self) { try Codecs.decompressor(for: .zstd, optionsBlock: [1, 2]) }
    }

    /// The kernel allocates a zstd window of one block: the frame header must not ask for more.
    @Test("zstd frames announce a window no larger than the block", arguments: [4096, 131_072, 1 << 20])
    func zstdWindowWithinBlock(blockSize: Int) throws {
        let data = Self.text(blockSize)
        let frame = try #require(try Self.compress(.zstd(level: 19), data, blockSize: blockSize))
        #expect(Array(frame.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        let descriptor = frame[4]
        let singleSegment = descriptor & 0x20 != 0
        if singleSegment {
            // The window is the content size, which is at most one block.
            #expect(data.count <= blockSize)
        } else {
            let windowDescriptor = frame[5]
            let base = 1 << (10 + Int(windowDescriptor >> 3))
            let window = base + base / 8 * Int(windowDescriptor & 7)
            #expect(window <= blockSize)
        }
    }

    /// The kernel allocates an xz dictionary of one block and wants CRC32 checks; `xz --robot -lvv` shows both.
    @Test(
        "xz streams use a one-block dictionary and CRC32", .tags(.oracle), .enabled(if: TestEnvironment.hasTool("xz")))
    func xzStreamSettings() throws {
        let dir = TemporaryDirectory(prefix: "codecs-xz")
        for bcj in [false, true] {
            let stream = try #require(try Self.compress(.xz(bcj: bcj), Self.text(131_072), blockSize: 131_072))
            let path = dir("block-\(bcj).xz")
            try writeFile(path, stream)
            let list = try Process.run(["xz", "--robot", "--list", "-vv", path], timeout: 30)
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("CRC32"), "\(list.stdout)")
            #expect(list.stdout.contains("--lzma2=") && list.stdout.contains("dict=128KiB"), "\(list.stdout)")
            let decoded = try Process.run(["xz", "-t", path], timeout: 30)
            #expect(decoded.status == 0, "\(decoded)")
        }
    }

    @Test("a shared compressor gives the same blocks from many threads")
    func concurrentCompression() throws {
        for choice in [CompressionChoice.zstd(level: 3), .xz(bcj: false), .gzip(level: 6)] {
            let compressor = try #require(try Codecs.compressor(choice, blockSize: 65_536))
            let inputs = (0..<16).map { Self.text(65_536 - $0 * 1000) }
            let serial = try inputs.map { input in try input.withUnsafeBytes { try compressor.compress($0) } }
            let results = ResultBox(count: inputs.count)
            DispatchQueue.concurrentPerform(iterations: inputs.count * 4) { i in
                let index = i % inputs.count
                let block = try? inputs[index].withUnsafeBytes { try compressor.compress($0) }
                results.set(index, block ?? nil)
            }
            #expect(results.values == serial)
        }
    }

    @Test(
        "corrupt and truncated blocks throw",
        arguments: [CompressionChoice.zstd(level: 3), .xz(bcj: false), .gzip(level: 9)])
    func corruptInputThrows(choice: CompressionChoice) throws {
        let compressor = try #require(try Codecs.compressor(choice, blockSize: 131_072))
        let data = Self.text(100_000)
        let block = try #require(try data.withUnsafeBytes { try compressor.compress($0) })
        let id = compressor.id
        #expect(throws: CompressionError.self) {
            try Self.decompress(id, Array(block.prefix(block.count / 2)), capacity: 131_072)
        }
        #expect(throws: CompressionError.self) { try Self.decompress(id, [], capacity: 131_072) }
        #expect(throws: CompressionError.self) { try Self.decompress(id, Self.randomBytes(500), capacity: 131_072) }
        // Too small an output buffer is an error, not an overrun.
        #expect(throws: CompressionError.self) { try Self.decompress(id, block, capacity: 50_000) }
        var flipped = block
        flipped[0] ^= 0xFF
        #expect(throws: CompressionError.self) { try Self.decompress(id, flipped, capacity: 131_072) }
        // Flipping any byte must never crash; it may decode (zstd has no checksum here) or throw.
        for i in stride(from: 0, to: block.count, by: max(1, block.count / 200)) {
            var bad = block
            bad[i] ^= 0x5A
            _ = try? Self.decompress(id, bad, capacity: 131_072)
        }
    }
}

/// Collects per-index results from concurrent workers.
final class ResultBox: @unchecked Sendable {
    private var storage: [[UInt8]?]
    private let lock = DispatchSemaphore(value: 1)
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: [UInt8]?) {
        lock.wait()
        storage[index] = value
        lock.signal()
    }
    var values: [[UInt8]?] {
        lock.wait()
        defer { lock.signal() }
        return storage
    }
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard let file = fopen(path, "wb") else { throw TestFailure("cannot create \(path)") }
    defer { fclose(file) }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    guard written == bytes.count else { throw TestFailure("cannot write \(path)") }
}

/// An error a test helper throws when its own set-up fails.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
