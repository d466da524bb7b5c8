import Glibc
import struct SystemPackage.Errno
import XarCompression
import XarFormat
import XarMount
import XarSquashFS
import XarSystem

/// An opened `.xar` for `xarctl`: the owned descriptor, the file's size, the parsed header, and a SquashFS reader
/// over the image, each failure a `CommandFailure` that names the file.
///
/// The header is parsed by `XarFormat` and the image read through `XarMount.FileImageSource`, the very code the
/// launcher uses, so `xarctl` accepts and refuses exactly what `xarexec` does.
struct XarImageFile: ~Copyable {
    /// The path as the user gave it.
    let path: String
    /// The open file; the reader reads through its descriptor, so it lives as long as this value.
    let file: XarSystem.FileDescriptor
    /// The file's size in bytes.
    let size: Int64
    /// The parsed, validated header.
    let header: XarHeader

    /// Opens `path` and parses its header.
    init(path: String) throws {
        self.path = path
        let file: XarSystem.FileDescriptor
        do {
            // O_NONBLOCK: a FIFO given as the file opens at once (and is refused below) instead of waiting for a
            // writer; for a regular file the flag changes nothing.
            file = try XarSystem.FileDescriptor.open(path, flags: O_RDONLY | O_NONBLOCK)
        } catch {
            throw CommandFailure(path: path, "cannot be opened: \(CommandFailure.reason(error)).")
        }
        let info: stat
        do {
            info = try file.status()
        } catch {
            throw CommandFailure(path: path, "cannot be read: \(CommandFailure.reason(error)).")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CommandFailure(path: path, "is not a regular file.") }
        var first = [UInt8](repeating: 0, count: XarHeader.headerSizeBase)
        let raw = file.rawValue
        let count: Int
        do {
            count = try first.withUnsafeMutableBytes { try Self.read(raw, into: $0, at: 0) }
        } catch {
            throw CommandFailure(path: path, "cannot be read: \(CommandFailure.reason(error)).")
        }
        do {
            header = try XarHeader(parsing: Array(first[0..<count]), fileSize: Int64(info.st_size))
        } catch {
            throw CommandFailure(path: path, "\(error)")
        }
        self.size = Int64(info.st_size)
        self.file = file
    }

    /// A reader over the image at `OFFSET`; its superblock and tables are checked on opening.
    func reader() throws -> SquashFS.Reader {
        do {
            return try SquashFS.Reader(
                source: FileImageSource(descriptor: file.rawValue), imageOffset: UInt64(header.offset),
                decompressor: Codecs.decompressor(for:optionsBlock:))
        } catch {
            throw CommandFailure(path: path, "the image is not readable SquashFS: \(error)")
        }
    }

    /// The SHA-256 of the image bytes, from `OFFSET` to the end of the file, as lowercase hex.
    func imageDigest() throws -> String {
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = Int64(header.offset)
        let raw = file.rawValue
        while offset < size {
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { try Self.read(raw, into: $0, at: offset) }
            } catch {
                throw CommandFailure(path: path, "cannot be read: \(CommandFailure.reason(error)).")
            }
            guard n > 0 else { throw CommandFailure(path: path, "the file ended while its digest was computed.") }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += Int64(n)
        }
        return hash.finalizeHex()
    }

    /// Fills `buffer` from `offset` with `pread`, retrying `EINTR`; returns fewer bytes only at the end of the file.
    private static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Errno(rawValue: errno) }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
