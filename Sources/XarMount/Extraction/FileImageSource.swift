public import XarSquashFS
public import XarSystem

/// A `SquashFS.ImageSource` over an open file: XarSystem's `pread` loop, with a short file reported as such.
public struct FileImageSource: SquashFS.ImageSource {
    /// The open image file.
    public let file: ReadOnlyFile

    /// A source reading from `file`.
    public init(file: ReadOnlyFile) { self.file = file }

    /// Fills `buffer` from `offset`; a short file or an I/O error throws a sentence.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let count: Int
        do { count = try file.read(into: buffer, at: offset) } catch {
            throw SquashFS.ReadError("Reading the image at byte \(offset) failed: \(error.reason).")
        }
        if count < buffer.count {
            throw SquashFS.ReadError("The file ends before byte \(offset + UInt64(buffer.count)).")
        }
    }
}
