import Foundation
internal import CZlib
import XarSystem

/// A zip archive read fully into memory: the container format of wheels.
///
/// Layout (APPNOTE.TXT §4.3): local file headers with data, then the central directory, then the
/// "end of central directory" record (signature `0x06054b50`, at most 65 535 bytes of comment after it).
/// Entries are found through the central directory; data is stored (method 0) or raw deflate (method 8),
/// checked against the CRC-32 the directory records. Zip64 archives are refused (no wheel needs them).
struct ZipArchive {
    /// One member of the archive.
    struct Entry {
        /// The member's path inside the archive (`/`-separated).
        var name: String
        /// 0 = stored, 8 = deflated.
        var method: UInt16
        /// CRC-32 of the uncompressed data.
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        /// Where the member's local file header starts.
        var localHeaderOffset: Int
        /// The Unix mode from the "external file attributes" high half, when the archive was made on Unix.
        var unixMode: UInt32?
    }

    /// The archive's path, for messages.
    let path: String
    /// Every member, in directory order.
    let entries: [Entry]
    private let bytes: [UInt8]

    /// Reads the archive at `path` and its central directory.
    init(path: String) throws {
        guard let contents = try? FileSystem.contents(path) else {
            throw PythonBuildError("Cannot read \(path).")
        }
        self.path = path
        bytes = contents
        entries = try Self.readDirectory(bytes, path: path)
    }

    private static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ at: Int) -> Int { u16(b, at) | u16(b, at + 2) << 16 }

    private static func readDirectory(_ b: [UInt8], path: String) throws -> [Entry] {
        let bad = PythonBuildError("\(path) is not a valid zip archive (a wheel is one); download it again.")
        guard b.count >= 22 else { throw bad }
        // End of central directory record, searched backwards past a possible comment.
        var eocd = -1
        var at = b.count - 22
        while at >= max(0, b.count - 22 - 65535) {
            if u32(b, at) == 0x0605_4b50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw bad }
        let count = u16(b, eocd + 10)
        let directorySize = u32(b, eocd + 12)
        let directoryOffset = u32(b, eocd + 16)
        guard count != 0xFFFF, directoryOffset != 0xFFFF_FFFF else {
            throw PythonBuildError("\(path) is a zip64 archive, which is not supported.")
        }
        guard directoryOffset + directorySize <= b.count else { throw bad }
        var entries: [Entry] = []
        var p = directoryOffset
        for _ in 0..<count {
            // Central directory file header, APPNOTE §4.3.12.
            guard p + 46 <= b.count, u32(b, p) == 0x0201_4b50 else { throw bad }
            let madeBy = u16(b, p + 4) >> 8
            let nameLength = u16(b, p + 28), extraLength = u16(b, p + 30), commentLength = u16(b, p + 32)
            guard p + 46 + nameLength <= b.count else { throw bad }
            let external = UInt32(u32(b, p + 38))
            let name = String(decoding: b[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            entries.append(
                Entry(
                    name: name, method: UInt16(u16(b, p + 10)), crc32: UInt32(u32(b, p + 16)),
                    compressedSize: u32(b, p + 20), uncompressedSize: u32(b, p + 24),
                    localHeaderOffset: u32(b, p + 42), unixMode: madeBy == 3 ? external >> 16 : nil))
            p += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// The uncompressed bytes of `entry`, checked against its CRC-32.
    func contents(of entry: Entry) throws -> Data {
        let b = bytes
        let h = entry.localHeaderOffset
        // Local file header, APPNOTE §4.3.7: the name and extra lengths here may differ from the directory's.
        guard h + 30 <= b.count, Self.u32(b, h) == 0x0403_4b50 else {
            throw PythonBuildError("\(path): the member \(entry.name) has no valid local header.")
        }
        let start = h + 30 + Self.u16(b, h + 26) + Self.u16(b, h + 28)
        guard start + entry.compressedSize <= b.count else {
            throw PythonBuildError("\(path): the member \(entry.name) runs past the end of the archive.")
        }
        let output: [UInt8]
        switch entry.method {
        case 0:
            output = Array(b[start..<(start + entry.compressedSize)])
        case 8:
            output = try inflateRaw(
                b, from: start, count: entry.compressedSize, expected: entry.uncompressedSize, name: entry.name)
        default:
            throw PythonBuildError(
                "\(path): the member \(entry.name) uses compression method \(entry.method), which wheels do not use.")
        }
        let crc = output.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        guard crc == entry.crc32, output.count == entry.uncompressedSize else {
            throw PythonBuildError("\(path): the member \(entry.name) is corrupt (CRC mismatch).")
        }
        return Data(output)
    }

    private func inflateRaw(_ b: [UInt8], from start: Int, count: Int, expected: Int, name: String) throws -> [UInt8] {
        var stream = z_stream()
        // Negative window bits: a raw deflate stream with no zlib header, as zip stores it.
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw PythonBuildError("\(path): cannot initialise zlib to read \(name).")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(expected, 1))
        let status: Int32 = b.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + start)
                stream.avail_in = uInt(count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == expected else {
            throw PythonBuildError("\(path): the member \(name) is corrupt (deflate stream ended early).")
        }
        return expected == 0 ? [] : output
    }
}
