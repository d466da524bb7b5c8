internal import Glibc

/// The identity of this process's mount namespace: the inode number in `/proc/self/ns/mnt`'s link text
/// (`mnt:[4026531841]`).
///
/// Mounts are per namespace, so two namespaces must not share a mount point name.
public enum MountNamespace {
    /// The namespace's inode number, or nil where `/proc` is not mounted.
    ///
    /// The corresponding C function is `readlink`; one system call, no allocation besides the stack buffer.
    public static func current() -> UInt64? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer -> UInt64? in
            let n = readlink("/proc/self/ns/mnt", buffer.baseAddress!, 64)
            guard n > 0 else { return nil }
            var value: UInt64 = 0
            var digits = 0
            for byte in buffer[0..<n] where byte >= 0x30 && byte <= 0x39 {
                value = value &* 10 &+ UInt64(byte - 0x30)
                digits += 1
            }
            return digits > 0 ? value : nil
        }
    }
}
