internal import Glibc
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
        do { image = try FileDescriptor.open(path, flags: O_RDONLY | O_NONBLOCK) } catch {
            throw LaunchError(.badImage, "cannot open \(path): \(error)")
        }
        let st: stat
        do { st = try image.status() } catch {
            throw LaunchError(.badImage, "cannot read \(path): \(error)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw LaunchError(.badImage, "\(path) is not a regular file, so it is not a .xar; give the path of one")
        }
        _ = fcntl(image.rawValue, F_SETFL, fcntl(image.rawValue, F_GETFL) & ~O_NONBLOCK)
        return image
    }
}
