public import XarSquashFS
internal import XarSystem
internal import Glibc

/// A `SquashFS.ImageSource` over an open file: `pread` until the buffer is full.
///
/// Holds the raw descriptor number; the caller's `FileDescriptor` owns it and must outlive the reader.
public struct FileImageSource: SquashFS.ImageSource {
    /// The open image file.
    public let descriptor: Int32

    /// A source reading from `descriptor`.
    public init(descriptor: Int32) { self.descriptor = descriptor }

    /// Fills `buffer` from `offset`; a short file or an I/O error throws a sentence.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SquashFS.ReadError("Reading the image at byte \(offset + UInt64(done)) failed: errno \(errno).")
            }
            if n == 0 {
                throw SquashFS.ReadError("The file ends before byte \(offset + UInt64(buffer.count)).")
            }
            done += n
        }
    }
}
