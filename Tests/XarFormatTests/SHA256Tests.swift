import Foundation
import Testing
import XarFormat
import XarTestSupport

/// `SHA256` on both of its compression functions: the SHA extensions (`CXarSHA256`) and the portable Swift loop,
/// against each other on random inputs, against FIPS 180-4's examples and against coreutils' `sha256sum`.
struct SHA256Tests {
    /// The digest of `bytes` on `implementation`, fed in pieces of the given sizes (cycled), so that the buffered
    /// tail and the whole-block path both run.
    static func digest(_ bytes: [UInt8], _ implementation: SHA256.Implementation, pieces: [Int] = [Int.max]) -> String {
        var hash = SHA256(implementation)
        var start = 0
        var index = 0
        while start < bytes.count {
            let end = min(bytes.count, start + max(1, min(pieces[index % pieces.count], bytes.count)))
            bytes[start..<end].withUnsafeBytes { hash.update($0) }
            start = end
            index += 1
        }
        return hash.finalizeHex()
    }

    @Test func theStandardsExamplesOnBothImplementations() {
        let cases: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ]
        for (text, expected) in cases {
            #expect(Self.digest(Array(text.utf8), .portable) == expected)
            #expect(Self.digest(Array(text.utf8), .accelerated) == expected)
        }
        // One million times "a", in pieces of 1000 bytes.
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(Self.digest(million, .portable, pieces: [1000]) == expected)
        #expect(Self.digest(million, .accelerated, pieces: [1000]) == expected)
    }

    /// Every length from 0 to 300 bytes (each padding case: the length word in the last block or one more block),
    /// then longer ones, of random bytes fed in random pieces: both implementations agree.
    @Test func theAcceleratedDigestEqualsThePortableOneOnRandomInputs() {
        var generator = SystemRandomNumberGenerator()
        let lengths = Array(0...300) + [511, 512, 513, 4095, 4096, 4097, 65_535, 65_536, 1 << 20, (1 << 20) + 17]
        for length in lengths {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let pieces = (0..<4).map { _ in Int.random(in: 1...200, using: &generator) }
            let portable = Self.digest(bytes, .portable)
            #expect(Self.digest(bytes, .accelerated) == portable, "length \(length)")
            #expect(Self.digest(bytes, .accelerated, pieces: pieces) == portable, "length \(length), \(pieces)")
            #expect(Self.digest(bytes, .portable, pieces: pieces) == portable, "length \(length), \(pieces)")
        }
    }

    /// On this machine's CPU (x86-64 with the SHA extensions, as the benchmarks assume) the accelerated path is
    /// the one `SHA256()` takes; elsewhere it falls back and says so.
    @Test func theDefaultStateUsesTheExtensionsWhenTheCPUHasThem() throws {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let hasSHA = cpu.split(separator: "\n").contains {
            $0.hasPrefix("flags") && $0.split(separator: " ").contains("sha_ni")
        }
        #expect(SHA256.acceleratedAvailable == hasSHA)
        #expect(SHA256().implementation == (hasSHA ? .accelerated : .portable))
        #expect(SHA256(.portable).implementation == .portable)
    }

    /// Files of random bytes, from empty to a few megabytes: both implementations give `sha256sum`'s digest.
    @Test(.enabled(if: TestEnvironment.hasTool("sha256sum")))
    func bothImplementationsMatchSha256sum() throws {
        let directory = TemporaryDirectory(prefix: "sha256")
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 55, 56, 63, 64, 65, 1000, 100_003, 3 << 20] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let path = directory("data-\(length)")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try XarTestSupport.Process.run(["sha256sum", path])
            try #require(result.status == 0, "\(result)")
            let expected = String(result.stdout.prefix(64))
            #expect(Self.digest(bytes, .accelerated, pieces: [1 << 16]) == expected, "length \(length)")
            #expect(Self.digest(bytes, .portable) == expected, "length \(length)")
            #expect(SHA256.hex(bytes) == expected, "length \(length)")
        }
    }
}
