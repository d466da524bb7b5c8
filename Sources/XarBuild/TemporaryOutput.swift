import XarSquashFS
import XarSystem

/// The output being written: a temporary file next to its final path, renamed into place on `commit`,
/// removed on `discard` (or when dropped uncommitted), so a failed build leaves nothing behind.
struct TemporaryOutput {
    /// The temporary file.
    let file: TemporaryFile
    /// Removes the file if the build is interrupted by a signal (`BuildCleanup`).
    private let cleanup: Int

    /// Creates `.<name>.XXXXXX` in the output's directory.
    init(next finalPath: String) throws {
        do { file = try TemporaryFile(next: finalPath) } catch {
            throw XarBuildError.outputNotWritable(path: finalPath, reason: error.reason)
        }
        cleanup = BuildCleanup.register(path: file.path)
    }

    /// Sets the mode, flushes to disk and renames into place.
    func commit(mode: UInt32) throws {
        do { try file.flush(mode: mode) } catch {
            throw XarBuildError.writeFailed(path: file.finalPath, reason: error.reason)
        }
        do { try file.rename() } catch {
            throw XarBuildError.outputNotWritable(path: file.finalPath, reason: error.reason)
        }
        BuildCleanup.unregister(cleanup)
    }

    /// Removes the temporary file.
    func discard() {
        file.discard()
        BuildCleanup.unregister(cleanup)
    }
}

/// The writer's sink over the output file: image offsets shifted by the header's size.
final class FileSink: SquashFS.Sink {
    let file: TemporaryFile
    let base: UInt64
    let path: String
    private var end: UInt64 = 0

    init(file: TemporaryFile, base: UInt64, path: String) {
        self.file = file
        self.base = base
        self.path = path
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, absoluteOffset: base + end)
        end += UInt64(bytes.count)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try write(bytes, absoluteOffset: base + offset)
    }

    /// All of `bytes` at a file offset.
    func write(_ bytes: UnsafeRawBufferPointer, absoluteOffset: UInt64) throws {
        do { try file.write(bytes, at: absoluteOffset) } catch {
            throw XarBuildError.writeFailed(path: path, reason: error.reason)
        }
    }
}
