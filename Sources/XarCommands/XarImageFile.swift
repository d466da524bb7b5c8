import XarCompression
import XarFormat
import XarMount
import XarSquashFS
import XarSystem

/// An opened `.xar` for `xarctl`: the open file, its size, the parsed header, and a SquashFS reader over the
/// image, each failure a `CommandFailure` that names the file.
///
/// The header is parsed by `XarFormat` and the image read through `XarMount.FileImageSource`, the very code the
/// launcher uses, so `xarctl` accepts and refuses exactly what `xarexec` does.
struct XarImageFile: ~Copyable {
    /// The path as the user gave it.
    let path: String
    /// The open file; readers share it.
    let file: ReadOnlyFile
    /// The file's size in bytes.
    let size: Int64
    /// The parsed, validated header.
    let header: XarHeader

    /// Opens `path` and parses its header.
    init(path: String) throws {
        self.path = path
        let file: ReadOnlyFile
        do {
            // Non-blocking: a FIFO given as the file opens at once (and is refused below) instead of waiting for a
            // writer; for a regular file the flag changes nothing.
            file = try ReadOnlyFile(opening: path, nonBlocking: true)
        } catch {
            throw CommandFailure(path: path, "cannot be opened: \(error.reason).")
        }
        let isRegular: Bool
        let size: UInt64
        do {
            isRegular = try file.isRegularFile()
            size = try file.size()
        } catch {
            throw CommandFailure(path: path, "cannot be read: \(error.reason).")
        }
        guard isRegular else { throw CommandFailure(path: path, "is not a regular file.") }
        var first = [UInt8](repeating: 0, count: XarHeader.headerSizeBase)
        let count: Int
        do {
            count = try first.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        } catch {
            throw CommandFailure(path: path, "cannot be read: \(CommandFailure.reason(error)).")
        }
        do {
            header = try XarHeader(parsing: Array(first[0..<count]), fileSize: Int64(size))
        } catch {
            throw CommandFailure(path: path, "\(error)")
        }
        self.size = Int64(size)
        self.file = file
    }

    /// A reader over the image at `OFFSET`; its superblock and tables are checked on opening.
    func reader() throws -> SquashFS.Reader {
        do {
            return try SquashFS.Reader(
                source: FileImageSource(file: file), imageOffset: UInt64(header.offset),
                decompressor: Codecs.decompressor(for:optionsBlock:))
        } catch {
            throw CommandFailure(path: path, "the image is not readable SquashFS: \(error)")
        }
    }

    /// The SHA-256 of the image bytes, from `OFFSET` to the end of the file, as lowercase hex.
    func imageDigest() throws -> String {
        do { return try file.sha256(from: UInt64(header.offset)) } catch {
            throw CommandFailure(path: path, "cannot be read: \(error.reason).")
        }
    }
}
