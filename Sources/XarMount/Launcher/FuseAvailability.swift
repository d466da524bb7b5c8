internal import Glibc
internal import XarSystem

/// Can this process mount with FUSE? Checked before the first mount so that the launcher can fall back to
/// extraction with one clear sentence instead of a failed mount.
enum FuseAvailability {
    /// The device the kernel's FUSE driver offers; `XAR_FUSE_DEVICE` overrides it (tests point it at a missing
    /// path to exercise the fallback).
    static var devicePath: String {
        getenv("XAR_FUSE_DEVICE").map { String(cString: $0) } ?? "/dev/fuse"
    }

    /// Where `fusermount3` is looked for: unprivileged users mount through it, and it must be setuid root.
    static let fusermountPaths = ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"]

    /// Nil when FUSE is usable, else the sentence saying why not.
    static func unavailableReason() -> String? {
        let device = devicePath
        do {
            let fd = try FileDescriptor.open(device, flags: O_RDWR)
            _ = try? fd.close()
        } catch {
            return "cannot open \(device) (\(error))"
        }
        if geteuid() == 0 { return nil }
        guard let path = fusermount3() else { return "fusermount3 is not installed (apt install fuse3)" }
        var st = stat()
        guard stat(path, &st) == 0, st.st_uid == 0, st.st_mode & S_ISUID != 0 else {
            return "\(path) is not setuid root (chmod u+s \(path) as root)"
        }
        return nil
    }

    /// The first `fusermount3` that exists, or nil.
    static func fusermount3() -> String? {
        fusermountPaths.first { access($0, X_OK) == 0 }
    }
}
