public import SystemPackage
import XarCompression
import XarFormat
import XarSquashFS
import XarSystem

/// Writes a `.xar`: scans a directory, writes the SquashFS image after a 4096-byte header, atomically.
public enum XarImageWriter {
    /// The header's size, where the image starts (`OFFSET`).
    public static let headerSize = 4096

    /// Scans `directory`, writes header + image to a temp file next to `output`, fsync, rename; mode 0755 if
    /// `executable` (0644 otherwise, whatever the umask).
    ///
    /// `header` is called once with the image's SHA-256 (lowercase hex) and returns exactly the header bytes
    /// (4096 long). On any error nothing is left behind.
    public static func write(
        directory: FilePath, options: XarImageOptions, to output: FilePath, executable: Bool,
        progress: ((_ done: Int64, _ total: Int64) -> Void)?, header: (String) throws -> [UInt8]
    ) throws -> XarImageSummary {
        let started = MonotonicClock.now()
        var wanted: [String] = []
        for path in options.sortFirst {
            var p = Substring(path)
            while p.hasPrefix("./") { p = p.dropFirst(2) }
            while p.hasPrefix("/") { p = p.dropFirst() }
            while p.hasSuffix("/") { p = p.dropLast() }
            wanted.append(String(p))
        }
        let scanner = DirectoryScanner(
            keepOwners: options.keepOwners, keepXattrs: options.keepXattrs, sourceDateEpoch: options.sourceDateEpoch,
            wantedPaths: Set(wanted))
        let scan = try scanner.scan(directory.string)
        let compressor: (any SquashFS.Compressor)?
        do {
            compressor = try Codecs.compressor(options.compression, blockSize: options.blockSize)
        } catch {
            throw XarBuildError.invalidOptions("\(error)")
        }
        let sortFirst = wanted.compactMap { scan.nodesByPath[$0] }
        let writerOptions = SquashFS.WriterOptions(
            blockSize: options.blockSize, threads: max(1, options.threads),
            modificationTime: options.sourceDateEpoch.map { UInt32(clamping: max(0, $0)) }, sortFirst: sortFirst)

        let file = try TemporaryOutput(next: output.string)
        let outputPath = output.string
        let total = Int64(scan.inputBytes)
        do {
            let sink = FileSink(file: file.file, base: UInt64(headerSize), path: outputPath)
            let summary: SquashFS.WriterSummary
            do {
                summary = try SquashFS.Writer(options: writerOptions, compressor: compressor).write(
                    scan.tree, to: sink, progress: progress.map { report in { report(Int64($0), total) } })
            } catch let error as SquashFS.WriterError {
                throw XarBuildError.invalidOptions("Cannot write an image of \(directory.string): \(error)")
            }
            let digest = try digestOfImage(file.file, length: summary.imageBytes, path: outputPath)
            let headerBytes = try header(digest)
            guard headerBytes.count == headerSize else { throw XarBuildError.badHeaderSize(headerBytes.count) }
            try headerBytes.withUnsafeBytes { try sink.write($0, absoluteOffset: 0) }
            try file.commit(mode: executable ? 0o755 : 0o644)
            return XarImageSummary(
                inputBytes: total, imageBytes: Int64(summary.imageBytes),
                outputBytes: Int64(summary.imageBytes) + Int64(headerSize), fileCount: scan.fileCount,
                sha256: digest, seconds: MonotonicClock.now() - started,
                skippedXattrs: scan.skippedXattrs.isEmpty ? nil : scan.skippedXattrs.sorted(),
                droppedXattrs: scan.droppedXattrs)
        } catch {
            file.discard()
            throw error
        }
    }

    /// SHA-256 of the image as written, read back from the file (the superblock was written last).
    private static func digestOfImage(_ file: TemporaryFile, length: UInt64, path: String) throws -> String {
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < length {
            let want = Int(min(UInt64(buffer.count), length - offset))
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes {
                    try file.read(
                        into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: UInt64(headerSize) + offset)
                }
            } catch {
                throw XarBuildError.writeFailed(
                    path: path, reason: "cannot read back the image: \(Errno.reason(of: error))")
            }
            guard n > 0 else { throw XarBuildError.writeFailed(path: path, reason: "cannot read back the image") }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += UInt64(n)
        }
        return hash.finalizeHex()
    }
}
