import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarTestSupport

/// Random damage to small images: whatever the bytes, reading everything either succeeds or throws a
/// `ReadError`; a trap would end the test process, a hang would hit the time limit.
@Suite("SquashFS.Reader fuzzing", .enabled(if: TestEnvironment.hasTool("mksquashfs")))
struct ReaderFuzzTests {
    /// 2,000 per image by default; `XAR_FUZZ_ITERATIONS` raises it for a longer hunt (with `XAR_FUZZ_SEED`).
    static let iterations = getenv("XAR_FUZZ_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 2000
    static let seed = getenv("XAR_FUZZ_SEED").flatMap { UInt64(String(cString: $0)) } ?? 0x5EED_0000

    @Test(
        "2,000 randomly damaged images only ever throw", .timeLimit(.minutes(10)),
        arguments: [["-noI", "-noD", "-noF", "-noX"], ["-comp", "zstd"], ["-comp", "gzip"], ["-comp", "xz"]])
    func randomDamageOnlyThrows(compression: [String]) throws {
        let bytes = try ReaderCorruptionTests.smallImage(compression: compression)
        var random = Xorshift(seed: Self.seed + UInt64(compression.count) * 7 + UInt64(compression.last!.utf8.count))
        let tables = Int(try ReaderCorruptionTests.superblock(bytes).inodeTableStart)
        var outcomes = (read: 0, threw: 0)
        for _ in 0..<Self.iterations {
            var copy = bytes
            // One to four bytes, mostly in the tables at the end of the image, sometimes anywhere.
            for _ in 0...random.next(below: 3) {
                let anywhere = random.next(below: 4) == 0
                let start = anywhere ? 0 : tables
                let position = start + random.next(below: copy.count - start)
                copy[position] = UInt8(truncatingIfNeeded: random.next(below: 256))
            }
            do {
                try ReaderCorruptionTests.readEverything(copy)
                outcomes.read += 1
            } catch is SquashFS.ReadError {
                outcomes.threw += 1
            } catch {
                Issue.record("threw \(type(of: error)): \(error), not a ReadError")
            }
        }
        #expect(outcomes.threw > Self.iterations / 10, "\(outcomes)")
    }
}

/// A small deterministic generator, so a failure reproduces.
struct Xorshift {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next(below bound: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(bound))
    }
}
