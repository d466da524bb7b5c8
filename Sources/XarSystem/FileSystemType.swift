internal import CXarSystem
internal import Glibc
public import SystemPackage

/// The file system type of an open file, as `statfs` reports it in `f_type`.
public struct FileSystemType: RawRepresentable, Equatable, Sendable {
    /// The magic number from `f_type`.
    public var rawValue: Int

    /// Wraps a magic number.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Every FUSE file system: `FUSE_SUPER_MAGIC` from `<linux/magic.h>`.
    public static let fuse = FileSystemType(rawValue: 0x6573_5546)

    /// tmpfs (`/dev/shm`, `$XDG_RUNTIME_DIR`): `TMPFS_MAGIC`. Its pages are memory the kernel cannot reclaim.
    public static let tmpfs = FileSystemType(rawValue: 0x0102_1994)

    /// The type of the file system that holds `fd`.
    ///
    /// The corresponding C function is `fstatfs`.
    public static func of(_ fd: borrowing FileDescriptor) throws(Errno) -> FileSystemType {
        FileSystemType(rawValue: try retryingEINTR { xar_fstatfs_type(fd.rawValue) })
    }
}

/// Device numbers, as `stat` reports them in `st_dev`.
public enum DeviceNumber {
    /// The device number of the file system at `path` (not following a final symbolic link), as the kernel has it
    /// cached: it asks a FUSE server nothing, so a server can read its own mount's number before it serves.
    ///
    /// The corresponding C function is `statx` with `AT_STATX_DONT_SYNC` and an empty mask.
    public static func cached(_ path: String) throws(Errno) -> UInt64 {
        let device = xar_cached_device(path)
        guard device != 0 else { throw Errno(rawValue: errno) }
        return UInt64(device)
    }
}
