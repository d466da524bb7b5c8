extension SquashFS {
    /// Where the writer puts the image. Offsets are relative to the image's first byte.
    ///
    /// The writer appends almost everything in order; only the superblock is written last, over the zeros it
    /// reserved at offset 0, once the table positions are known.
    public protocol Sink: AnyObject {
        /// Appends `bytes` at the end.
        func write(_ bytes: UnsafeRawBufferPointer) throws
        /// Overwrites bytes already appended, at `offset`.
        func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws
    }

    /// A sink that keeps the image in memory, for tests.
    public final class MemorySink: Sink {
        /// The image so far.
        public private(set) var bytes: [UInt8] = []

        /// An empty sink.
        public init() {}

        /// Appends `bytes`.
        public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }

        /// Overwrites at `offset`.
        public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
            for (i, byte) in bytes.enumerated() { self.bytes[Int(offset) + i] = byte }
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in little-endian byte order, as every SquashFS field is stored.
    @inlinable
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}
