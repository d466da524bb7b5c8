import SystemPackage
import XarBuild
import XarSquashFS
import XarSystem

/// One build, as `xarbuild` runs it: the writer call with its progress bar, turned into a report, and the
/// writer's errors turned into one line that starts with the path.
struct BuildRequest {
    var directory: String
    var output: String
    var executable: Bool
    var options: BuildOptions
    var sortFirst: [String]
    var sourceDateEpoch: Int?
    /// Renders the 4096 header bytes for the image's SHA-256.
    var header: (String) throws -> [UInt8]

    /// Writes the `.xar` atomically; nothing is left behind when it throws.
    func build() throws -> BuildReport {
        let progress = BuildProgress()
        defer { progress.finish() }
        let imageOptions = XarImageOptions(
            compression: options.choice, blockSize: options.blockSize.bytes,
            threads: options.threads ?? XarImageOptions.allCores, keepOwners: options.keepOwners,
            keepXattrs: options.xattrs, sortFirst: sortFirst, sourceDateEpoch: sourceDateEpoch)
        let summary: XarImageSummary
        do {
            summary = try XarImageWriter.write(
                directory: FilePath(directory), options: imageOptions, to: FilePath(output), executable: executable,
                progress: { done, total in progress.update(done: done, total: total) }, header: header)
        } catch let error as XarBuildError {
            throw CommandFailure(message(for: error))
        } catch {
            throw CommandFailure(path: output, "\(error)")
        }
        if summary.droppedXattrs {
            StandardError.writeLine("xarbuild: note: \(directory): extended attributes were dropped.")
        }
        if let skipped = summary.skippedXattrs {
            StandardError.writeLine(
                "xarbuild: note: \(directory): extended attributes SquashFS cannot store were dropped: "
                    + skipped.joined(separator: ", ") + ".")
        }
        return BuildReport(
            input: directory, output: output, inputBytes: summary.inputBytes, outputBytes: summary.outputBytes,
            ratio: summary.inputBytes > 0 ? Double(summary.outputBytes) / Double(summary.inputBytes) : 0,
            seconds: summary.seconds, sha256: summary.sha256, uuid: String(summary.sha256.prefix(16)),
            files: summary.fileCount, compression: options.choiceName, blockSize: options.blockSize.bytes)
    }

    /// The writer's error as `<path>: <problem>`.
    private func message(for error: XarBuildError) -> String {
        switch error {
        case .unreadable(let path, let reason): return "\(path): cannot be read: \(reason)."
        case .changedSize(let path): return "\(path): the file changed size while it was read."
        case .vanished(let path): return "\(path): the path vanished while the image was built."
        case .refused(.nameTooLong(path: let path)): return "\(path): the name is longer than 256 bytes."
        case .refused(.symlinkTargetTooLong(path: let path, length: let length)):
            return "\(path): the symbolic link's target is \(length) bytes long; at most 4095 fit in an image."
        case .refused(let refusal): return "\(output): \(refusal)"
        case .notADirectory(let path): return "\(path): is not a directory."
        case .outputNotWritable(let path, let reason): return "\(path): cannot be written: \(reason)."
        case .writeFailed(let path, let reason): return "\(path): writing failed: \(reason)."
        case .invalidOptions(let problem): return "\(output): \(problem)"
        case .badHeaderSize: return "\(output): \(error)"
        }
    }
}
