internal import XarSystem

/// Can this process mount with FUSE? Checked before the first mount so that the launcher can fall back to
/// extraction with one clear sentence instead of a failed mount: the device must open read-write, and mount(2)
/// must be allowed (CAP_SYS_ADMIN as root, or a setuid-root `fusermount3` that the bounding set and
/// `no_new_privs` let work). What cannot be seen beforehand (a seccomp filter, a kernel that refuses) shows as a
/// failed mount, which the launcher treats the same way (`Launcher.run`).
enum FuseAvailability {
    /// The device the kernel's FUSE driver offers; `XAR_FUSE_DEVICE` overrides it (tests point it at a missing
    /// path to exercise the fallback).
    static var devicePath: String {
        Settings.current.fuseDevice
    }

    /// Where `fusermount3` is looked for: unprivileged users mount through it, and it must be setuid root.
    static let fusermountPaths = ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"]

    /// Nil when FUSE is usable, else the sentence saying why not.
    static func unavailableReason() -> String? {
        let device = devicePath
        do {
            let fd = try FileDescriptor.open(device, .readWrite)
            _ = try? fd.close()
        } catch {
            return "cannot open \(device) (\(error))"
        }
        let status = ProcessCapabilities.current()
        if Processes.effectiveUserID == 0 && status.effective(Self.capSysAdmin) { return nil }
        // Without CAP_SYS_ADMIN in the bounding set, not even setuid-root fusermount3 can mount (a container).
        if let bounding = status.bounding, bounding & (1 << Self.capSysAdmin) == 0 {
            return "mounting is not permitted here: no CAP_SYS_ADMIN"
        }
        if status.noNewPrivileges { return "mounting is not permitted here: no_new_privs stops the setuid fusermount3" }
        guard let path = fusermount3() else { return "fusermount3 is not installed (apt install fuse3)" }
        guard let file = try? FileSystem.fileStatus(path), file.uid == 0, file.permissions & 0o4000 != 0 else {
            return "\(path) is not setuid root (chmod u+s \(path) as root)"
        }
        return nil
    }

    /// CAP_SYS_ADMIN's bit (linux/capability.h): what mount(2) needs.
    static let capSysAdmin: UInt64 = 21

    /// The capability sets and `no_new_privs` of this process, from `/proc/self/status` (nil sets: unreadable).
    struct ProcessCapabilities {
        var effectiveSet: UInt64?
        var bounding: UInt64?
        var noNewPrivileges = false

        func effective(_ capability: UInt64) -> Bool {
            guard let effectiveSet else { return true }  // no /proc: let the mount itself decide
            return effectiveSet & (1 << capability) != 0
        }

        static func current() -> ProcessCapabilities {
            var result = ProcessCapabilities()
            for line in SmallFile.text("/proc/self/status").split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let value = parts[1].drop { $0 == " " || $0 == "\t" }
                switch parts[0] {
                case "CapEff": result.effectiveSet = UInt64(value, radix: 16)
                case "CapBnd": result.bounding = UInt64(value, radix: 16)
                case "NoNewPrivs": result.noNewPrivileges = value == "1"
                default: break
                }
            }
            return result
        }
    }

    /// True when the server could not mount (libfuse or `fusermount3` failed: the server reports
    /// `ServerError.mountFailed`), as opposed to a bad image or a server that could not start.
    static func isRefusedMount(_ error: LaunchError) -> Bool {
        error.kind == .serverFailed && error.message.hasPrefix("cannot mount on ")
    }

    /// The first `fusermount3` that exists, or nil.
    static func fusermount3() -> String? {
        fusermountPaths.first { FileSystem.isExecutable($0) }
    }
}
