internal import struct SystemPackage.Errno
internal import XarSystem

/// Opening the `.xar` a launch names: only a regular file, never a wait.
///
/// The file is opened with `O_NONBLOCK`, so a FIFO (or a device) given as the `.xar` returns at once instead of
/// waiting for a writer, and is then refused by its type; for a regular file the flag changes nothing, and it is
/// cleared anyway before the descriptor is handed to the FUSE server.
enum LaunchImage {
    /// Opens `path` for reading and requires a regular file; errors are `.badImage` sentences naming `path`.
    static func open(_ path: String) throws(LaunchError) -> FileDescriptor {
        let image: FileDescriptor
        do { image = try FileDescriptor.open(path, .readOnly, options: .nonBlocking) } catch {
            throw LaunchError(.badImage, "cannot open \(path): \(error)")
        }
        let status: FileStatus
        do { status = try image.fileStatus() } catch {
            throw LaunchError(.badImage, "cannot read \(path): \(error)")
        }
        guard status.kind == .regular else {
            throw LaunchError(.badImage, "\(path) is not a regular file, so it is not a .xar; give the path of one")
        }
        _ = try? image.clearNonBlocking()
        return image
    }
}
