public import Glibc

/// What `stat` says about a file, as Swift values: code above XarSystem never sees `struct stat`.
public struct FileStatus: Sendable, Equatable {
    /// The file's type.
    public enum Kind: Sendable, Equatable {
        case regular, directory, symbolicLink, blockDevice, characterDevice, fifo, socket
    }

    /// The file's type.
    public var kind: Kind
    /// The permission bits, set-user-ID, set-group-ID and sticky bits (`st_mode & 07777`).
    public var permissions: UInt16
    /// The owner's user id.
    public var uid: UInt32
    /// The owner's group id.
    public var gid: UInt32
    /// The size in bytes.
    public var size: UInt64
    /// The last modification, in whole seconds since the epoch.
    public var modificationTime: Int
    /// The last access, in whole seconds since the epoch.
    public var accessTime: Int
    /// The last change of the inode (contents, mode, owner, links, a rename), in whole seconds since the epoch.
    public var changeTime: Int
    /// The nanoseconds of the last change of the inode, after `changeTime`'s whole seconds.
    public var changeTimeNanoseconds: Int
    /// The disk space allocated to the file (`st_blocks`, in units of 512 bytes), in bytes: less than `size` for
    /// a file with holes.
    public var allocatedBytes: Int64
    /// The device holding the file (`st_dev`).
    public var device: UInt64
    /// The inode number.
    public var inode: UInt64
    /// The number of hard links.
    public var linkCount: UInt64
    /// For a device file, the device's major and minor numbers (glibc's `gnu_dev_major`, `gnu_dev_minor`).
    public var deviceNumbers: (major: UInt32, minor: UInt32) {
        let d = rawDevice
        return (
            UInt32(truncatingIfNeeded: ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff)),
            UInt32(truncatingIfNeeded: (d & 0xff) | ((d >> 12) & ~0xff))
        )
    }
    /// `st_rdev`.
    public var rawDevice: UInt64

    /// The fields of `st`.
    public init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .regular
        case S_IFLNK: kind = .symbolicLink
        case S_IFBLK: kind = .blockDevice
        case S_IFCHR: kind = .characterDevice
        case S_IFIFO: kind = .fifo
        default: kind = .socket
        }
        permissions = UInt16(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = UInt64(st.st_size)
        modificationTime = Int(st.st_mtim.tv_sec)
        accessTime = Int(st.st_atim.tv_sec)
        changeTime = Int(st.st_ctim.tv_sec)
        changeTimeNanoseconds = Int(st.st_ctim.tv_nsec)
        allocatedBytes = Int64(st.st_blocks) * 512
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        linkCount = UInt64(st.st_nlink)
        rawDevice = UInt64(st.st_rdev)
    }
}

extension FileSystem {
    /// The status of `path` as Swift values; with `followSymlinks: false` a symbolic link's own.
    ///
    /// The corresponding C functions are `stat` and `lstat`.
    public static func fileStatus(_ path: String, followSymlinks: Bool = true) throws(SystemError) -> FileStatus {
        FileStatus(try status(path, followSymlinks: followSymlinks))
    }
}
