public import XarSquashFS

/// Why building a `.xar` failed: one sentence naming the path and the problem. What the SquashFS format itself
/// refuses (names and link targets too long) is the writer's `SquashFS.WriterError`, with the input's path.
public enum XarBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file or directory could not be opened or read.
    case unreadable(path: String, reason: String)
    /// A file's size differs from the size it had when the tree was scanned.
    case changedSize(path: String)
    /// A path disappeared between the scan and the moment it was read.
    case vanished(path: String)
    /// What the format cannot store (`nameTooLong`, `symlinkTargetTooLong`), found while scanning: the path is
    /// the input's.
    case refused(SquashFS.WriterError)
    /// The input is not a directory.
    case notADirectory(path: String)
    /// The output's directory cannot take the temporary file or the rename.
    case outputNotWritable(path: String, reason: String)
    /// Writing the output failed.
    case writeFailed(path: String, reason: String)
    /// Options the writer or a compressor refused.
    case invalidOptions(String)
    /// The header callback returned the wrong number of bytes.
    case badHeaderSize(Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "Cannot read \(path): \(reason)."
        case .changedSize(let path): return "The file \(path) changed size while it was read."
        case .vanished(let path): return "The path \(path) vanished while the image was built."
        case .refused(let error): return error.description
        case .notADirectory(let path): return "The input \(path) is not a directory."
        case .outputNotWritable(let path, let reason): return "Cannot write the output \(path): \(reason)."
        case .writeFailed(let path, let reason): return "Writing \(path) failed: \(reason)."
        case .invalidOptions(let message): return message
        case .badHeaderSize(let count):
            return "The header is \(count) bytes long; it must be exactly 4096 bytes."
        }
    }
}
