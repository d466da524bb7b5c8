import Foundation

/// What a finished build reports: the one-line summary on standard error, or `--json` on standard output.
struct BuildReport: Encodable, Sendable {
    /// The directory that was packed.
    var input: String
    /// The `.xar` written.
    var output: String
    /// Bytes of file data read from the directory.
    var inputBytes: Int64
    /// Size of the `.xar`, header included.
    var outputBytes: Int64
    /// `outputBytes / inputBytes` (0 for an empty input).
    var ratio: Double
    /// Wall time of the build in seconds.
    var seconds: Double
    /// SHA-256 of the image (the header's `XAR_IMAGE_SHA256`).
    var sha256: String
    /// The header's `UUID`.
    var uuid: String
    /// Number of regular files in the image.
    var files: Int
    /// The compressor setting, e.g. `zstd-15`.
    var compression: String
    /// The data block size in bytes.
    var blockSize: Int

    /// `xarbuild: wrote app.xar: 1234 files, 54.0 MB → 13.7 MB (25.4 %), zstd-15, 128K blocks, 4.1 s, sha256 …`.
    var line: String {
        let percent = (ratio * 1000).rounded() / 10
        let time = (seconds * 10).rounded() / 10
        return "xarbuild: wrote \(output): \(files) file\(files == 1 ? "" : "s"), \(ByteSize.human(inputBytes)) -> "
            + "\(ByteSize.human(outputBytes)) (\(percent)%), \(compression), \(ByteSize(bytes: blockSize)) blocks, "
            + "\(time) s, sha256 \(sha256)"
    }

    /// The report as one JSON object with sorted keys.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
