internal import Glibc
internal import struct SystemPackage.Errno
internal import XarSystem

/// Where one image's mount lives for this user and mount namespace: the per-user directory (open, checked)
/// under the mount root, and the names of the mount point, lock file and state file in it.
///
/// Layout (docs/architecture.md, "The mount"): `<root>/uid-<uid>/<UUID>-ns-<mntns>` with `.lock` and `.state`
/// siblings. The user directory is mode 0700 and ours; everything in it is opened relative to it.
struct MountLocation: ~Copyable {
    /// The per-user directory, open.
    let userDirectory: FileDescriptor
    /// Its path, for messages and for the server's arguments.
    let userDirectoryPath: String
    /// The mount point's name in the user directory.
    let name: String

    /// The mount point's path.
    var mountPoint: String { userDirectoryPath + "/" + name }
    /// The lock file's name in the user directory.
    var lockName: String { name + ".lock" }
    /// The state file's name in the user directory.
    var stateName: String { name + ".state" }

    /// Candidate mount roots in the order tried when neither the header nor `XAR_MOUNT_ROOT` names one.
    static func defaultRoots() -> [String] {
        var roots = ["/mnt/xarfuse"]
        if let runtime = getenv("XDG_RUNTIME_DIR"), runtime.pointee != 0 { roots.append(String(cString: runtime)) }
        roots.append("/dev/shm")
        return roots
    }

    /// Finds and opens the mount root and the per-user directory in it (creating that), for image `uuid`.
    ///
    /// An explicitly named root (header or environment) that is unusable is an error; default roots that are
    /// unusable are skipped.
    init(header: LaunchHeader) throws(LaunchError) {
        var rootPath = ""
        let root = try Self.openUsableRoot(named: header.mountRoot, path: &rootPath)
        let userName = "uid-\(geteuid())"
        let prefix = rootPath.hasSuffix("/") ? String(rootPath.dropLast()) : rootPath
        let userPath = prefix + "/" + userName
        let directory: FileDescriptor
        do {
            directory = try SecureDirectory.openOwnedDirectory(userName, in: root.rawValue, mode: 0o700, create: true)
        } catch let refusal {
            throw LaunchError(.unsafePath, "unsafe mount directory: " + refusal.message(for: userPath))
        }
        userDirectory = directory
        userDirectoryPath = userPath
        name = MountNamespace.current().map { "\(header.uuid)-ns-\($0)" } ?? header.uuid
    }

    /// Opens the header's root, else `XAR_MOUNT_ROOT`, else the first usable default root; sets `path`.
    static func openUsableRoot(named fromHeader: String?, path: inout String) throws(LaunchError) -> FileDescriptor {
        let fromEnvironment = getenv("XAR_MOUNT_ROOT").flatMap { $0.pointee == 0 ? nil : String(cString: $0) }
        if let explicit = fromHeader ?? fromEnvironment {
            path = explicit
            return try openRoot(explicit)
        }
        for candidate in defaultRoots() {
            do {
                let fd = try openRoot(candidate)
                path = candidate
                return fd
            } catch {}
        }
        throw LaunchError(
            .unsafePath,
            "no usable mount root among \(defaultRoots().joined(separator: ", ")); create one with "
                + "mkdir -p /mnt/xarfuse && chmod 1777 /mnt/xarfuse, or set XAR_MOUNT_ROOT to a directory you own")
    }

    /// Opens a mount root and requires it to be a directory that others cannot tamper with: root's with the
    /// sticky bit (mode 1777, like `/tmp`), or ours and not writable by others.
    static func openRoot(_ path: String) throws(LaunchError) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            throw LaunchError(
                .unsafePath,
                "cannot use mount root \(path): \(error); create it or set XAR_MOUNT_ROOT to another directory")
        }
        let st: stat
        do { st = try fd.status() } catch {
            throw LaunchError(.unsafePath, "cannot use mount root \(path): \(error)")
        }
        let mode = st.st_mode & 0o7777
        let shared = st.st_uid == 0 && mode == 0o1777
        let own = st.st_uid == geteuid() && mode & 0o022 == 0
        guard shared || own else {
            throw LaunchError(
                .unsafePath,
                "mount root \(path) is neither root's with mode 1777 nor yours and closed to others (owner uid "
                    + "\(st.st_uid), mode \(octal(mode))); run chmod 1777 \(path) as root or pick another root")
        }
        return fd
    }
}
