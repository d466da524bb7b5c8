extension SquashFS {
    /// Where a `SquashFS.Reader` gets its bytes: anything that can read a range at an offset, like `pread`.
    ///
    /// The format module has no I/O of its own, so callers supply this: over a file descriptor (the launcher,
    /// `xarctl`), or over bytes in memory (`MemorySource`, for tests). Offsets are positions in the whole file; the
    /// reader adds the image's offset (4096 in a `.xar`) itself.
    public protocol ImageSource {
        /// Fills all of `buffer` with the bytes that start at `offset`. Throws when they cannot all be read
        /// (short file, I/O error); a short read must never leave part of `buffer` unfilled silently.
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
    }

    /// An image source over bytes in memory.
    ///
    /// Tests build images in memory and read them back without touching the disk; callers that already hold a
    /// whole file can use it too.
    public struct MemorySource: ImageSource, Sendable {
        /// The whole file.
        public let bytes: [UInt8]

        /// A source over `bytes`.
        public init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// Copies the bytes at `offset`; throws a `ReadError` when they run past the end.
        public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            guard offset <= UInt64(bytes.count), UInt64(buffer.count) <= UInt64(bytes.count) - offset else {
                throw ReadError(
                    "The file ends before byte \(offset + UInt64(buffer.count)) (it has \(bytes.count) bytes).")
            }
            let start = Int(offset)
            bytes.withUnsafeBytes { all in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[start..<(start + buffer.count)]))
            }
        }
    }
}
