internal import CXarSystem
internal import Glibc
public import SystemPackage

extension FileSystemType {
    /// The `f_type` magic numbers of file systems whose files can vanish or hang while open: network and
    /// cluster file systems, and FUSE (sshfs, bindfs and the like). From `<linux/magic.h>` and the file
    /// systems' own sources (OpenAFS, GPFS, Lustre, which are not in the kernel).
    public static let networkTypes: [Int: String] = [
        0x6969: "nfs",  // NFS_SUPER_MAGIC
        0x517B: "smb",  // SMB_SUPER_MAGIC
        0xFE53_4D42: "smb2",  // SMB2_SUPER_MAGIC
        0xFF53_4D42: "cifs",  // CIFS_SUPER_MAGIC
        0x6573_5546: "fuse",  // FUSE_SUPER_MAGIC
        0x0102_1997: "9p",  // V9FS_MAGIC
        0x00C3_6400: "ceph",  // CEPH_SUPER_MAGIC
        0x0BD0_0BD0: "lustre",  // LL_SUPER_MAGIC
        0x5346_414F: "afs",  // AFS_SUPER_MAGIC (OpenAFS)
        0x6B41_4653: "kafs",  // AFS_FS_MAGIC (the kernel's AFS)
        0x4750_4653: "gpfs",  // GPFS_SUPER_MAGIC
        0x7375_7245: "coda",  // CODA_SUPER_MAGIC
        0x564C: "ncp",  // NCP_SUPER_MAGIC
        0x0116_1970: "gfs2",  // GFS2_MAGIC
        0x7461_636F: "ocfs2",  // OCFS2_SUPER_MAGIC
    ]

    /// True when this is a network-like type: one of `networkTypes`, or one of the hexadecimal magic numbers
    /// listed (comma-separated) in `extra`, which comes from `XAR_NETWORK_FS_TYPES` so an operator can add a
    /// file system we do not know.
    public func isNetwork(extra: String? = nil) -> Bool {
        if Self.networkTypes[rawValue] != nil { return true }
        guard let extra else { return false }
        return extra.split(separator: ",").contains { item in
            let text = item.hasPrefix("0x") ? item.dropFirst(2) : item[...]
            return Int(text, radix: 16) == rawValue
        }
    }

    /// A short name for messages: `nfs`, `fuse`, …, or the magic number in hex.
    public var name: String { Self.networkTypes[rawValue] ?? "0x" + String(rawValue, radix: 16) }

    /// The type of the file system that holds the (not owned) descriptor `fd`, or nil with the errno when
    /// `fstatfs` fails. The corresponding C function is `fstatfs`.
    public static func of(descriptor fd: Int32) -> Result<FileSystemType, Errno> {
        let type = xar_fstatfs_type(fd)
        if type == -1 { return .failure(Errno(rawValue: errno)) }
        // f_type is a signed long holding a 32-bit magic; keep the unsigned 32-bit value for comparisons.
        return .success(FileSystemType(rawValue: type & 0xFFFF_FFFF))
    }
}
