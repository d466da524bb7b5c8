internal import CXarSystem
public import SystemPackage

/// The file system type of an open file, as `statfs` reports it in `f_type`.
public struct FileSystemType: RawRepresentable, Equatable, Sendable {
    /// The magic number from `f_type`.
    public var rawValue: Int

    /// Wraps a magic number.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Every FUSE file system: `FUSE_SUPER_MAGIC` from `<linux/magic.h>`.
    public static let fuse = FileSystemType(rawValue: 0x6573_5546)

    /// The type of the file system that holds `fd`.
    ///
    /// The corresponding C function is `fstatfs`.
    public static func of(_ fd: borrowing FileDescriptor) throws(Errno) -> FileSystemType {
        FileSystemType(rawValue: try retryingEINTR { xar_fstatfs_type(fd.rawValue) })
    }
}
