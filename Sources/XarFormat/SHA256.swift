internal import CXarSHA256

/// SHA-256 (FIPS 180-4) for the image digest in the header (`XAR_IMAGE_SHA256`) and a file's proven identity.
///
/// The launcher's module graph must not link Foundation or a crypto library, and the digest of a large image is on
/// the build's and a joining launch's critical path. Whole blocks go to the CPU's SHA extensions when it has them
/// (`CXarSHA256`, about 1.5 GB/s of CPU time on the development machine, like OpenSSL's) and to the portable Swift
/// loop below otherwise (raw pointers, fast only in release builds); both give the same digest, which the tests
/// check on random inputs of many lengths and against `sha256sum`.
public struct SHA256: Sendable {
    /// Which compression function runs the blocks.
    public enum Implementation: Sendable {
        /// The x86 SHA extensions (SHA-NI), when `acceleratedAvailable`.
        case accelerated
        /// The portable Swift loop.
        case portable
    }

    /// Whether this CPU has the SHA extensions (asked once, by CPUID).
    public static var acceleratedAvailable: Bool { xar_sha256_accelerated() != 0 }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0
    private let accelerated: Bool

    /// A fresh hash state, on the SHA extensions when the CPU has them.
    public init() { self.init(.accelerated) }

    /// A fresh hash state on `implementation` (`.accelerated` falls back to `.portable` on a CPU without the SHA
    /// extensions).
    public init(_ implementation: Implementation) {
        accelerated = implementation == .accelerated && Self.acceleratedAvailable
        buffer.reserveCapacity(64)
    }

    /// Which compression function this state uses.
    public var implementation: Implementation { accelerated ? .accelerated : .portable }

    /// The digest of `bytes`, as lowercase hex.
    public static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var hash = SHA256()
        hash.update(Array(bytes))
        return hash.finalizeHex()
    }

    /// Feeds `bytes` into the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds `bytes` into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length += UInt64(bytes.count)
        var rest = bytes[...]
        if !buffer.isEmpty {
            let n = min(64 - buffer.count, rest.count)
            buffer.append(contentsOf: rest.prefix(n))
            rest = rest.dropFirst(n)
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress(blocks: $0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        let whole = rest.count & ~63
        if whole > 0 {
            compress(blocks: UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
            rest = rest.dropFirst(whole)
        }
        buffer.append(contentsOf: rest)
    }

    /// The 32-byte digest. The state is spent afterwards.
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var tail = buffer
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        tail.withUnsafeBytes { compress(blocks: $0) }
        var out: [UInt8] = []
        for word in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out += [
                UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                UInt8(truncatingIfNeeded: word),
            ]
        }
        return out
    }

    /// The digest as lowercase hex.
    public mutating func finalizeHex() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in finalize() {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private mutating func compress(blocks: UnsafeRawBufferPointer) {
        guard accelerated else { return compressPortable(blocks: blocks) }
        guard let base = blocks.baseAddress, blocks.count >= 64 else { return }
        withUnsafeMutableBytes(of: &h) { state in
            xar_sha256_blocks(
                state.baseAddress!.assumingMemoryBound(to: UInt32.self), base.assumingMemoryBound(to: UInt8.self),
                blocks.count / 64)
        }
    }

    private mutating func compressPortable(blocks: UnsafeRawBufferPointer) {
        var (a0, b0, c0, d0, e0, f0, g0, h0) = h
        Self.k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                var offset = 0
                while offset < blocks.count {
                    for i in 0..<16 {
                        w[i] = UInt32(bigEndian: blocks.loadUnaligned(fromByteOffset: offset + i * 4, as: UInt32.self))
                    }
                    for i in 16..<64 {
                        let x = w[i - 15], y = w[i - 2]
                        let s0 = x.rotr(7) ^ x.rotr(18) ^ (x >> 3)
                        let s1 = y.rotr(17) ^ y.rotr(19) ^ (y >> 10)
                        w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, hh) = (a0, b0, c0, d0, e0, f0, g0, h0)
                    for i in 0..<64 {
                        let s1 = e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                        let s0 = a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g
                        g = f
                        f = e
                        e = d &+ t1
                        d = c
                        c = b
                        b = a
                        a = t1 &+ t2
                    }
                    a0 = a0 &+ a
                    b0 = b0 &+ b
                    c0 = c0 &+ c
                    d0 = d0 &+ d
                    e0 = e0 &+ e
                    f0 = f0 &+ f
                    g0 = g0 &+ g
                    h0 = h0 &+ hh
                    offset += 64
                }
            }
        }
        h = (a0, b0, c0, d0, e0, f0, g0, h0)
    }
}

extension UInt32 {
    @inline(__always)
    fileprivate func rotr(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}
