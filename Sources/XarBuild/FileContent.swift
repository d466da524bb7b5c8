import XarSquashFS
import struct SystemPackage.Errno
import XarSystem

/// A regular file on disk as the writer's content source: opened only while the writer reads it, so a tree
/// of any size holds no file descriptors.
struct FileContent: SquashFS.ContentSource {
    /// The file's path, for opening and for error messages.
    let path: String
    /// The size the scan saw; any other size at read time is an error.
    let size: UInt64

    func open() throws -> any SquashFS.ContentReader {
        do {
            return Reader(file: try ReadOnlyFile(opening: path, followSymlinks: false), size: size)
        } catch {
            if error.errno == .noSuchFileOrDirectory || error.errno == .notDirectory {
                throw XarBuildError.vanished(path: path)
            }
            throw XarBuildError.unreadable(path: path, reason: error.reason)
        }
    }

    /// An open file; closes its descriptor when dropped.
    private final class Reader: SquashFS.ContentReader {
        let file: ReadOnlyFile
        let size: UInt64

        init(file: ReadOnlyFile, size: UInt64) {
            self.file = file
            self.size = size
        }

        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            let count: Int
            do { count = try file.read(into: buffer, at: offset) } catch {
                throw XarBuildError.unreadable(path: file.path, reason: error.reason)
            }
            if count < buffer.count { throw XarBuildError.changedSize(path: file.path) }
        }

        func nextData(from offset: UInt64) throws -> UInt64? { file.nextData(from: offset) }

        func finish() throws {
            let actual: UInt64
            do { actual = try file.size() } catch {
                throw XarBuildError.unreadable(path: file.path, reason: error.reason)
            }
            if actual != size { throw XarBuildError.changedSize(path: file.path) }
        }
    }
}
