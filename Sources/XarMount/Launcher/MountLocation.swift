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
        if let runtime = Settings.current.runtimeDirectory { roots.append(runtime) }
        roots.append("/dev/shm")
        return roots
    }

    /// Finds and opens the mount root and the per-user directory in it (creating that), for image `uuid`.
    ///
    /// An explicitly named root (header or environment) that is unusable is an error; default roots that are
    /// unusable are skipped. A shared root whose `uid-<uid>` another user took is passed over (`find`); when
    /// every root is taken so, this throws.
    init(header: LaunchHeader) throws(LaunchError) {
        guard let found = try Self.find(header: header) else {
            throw LaunchError(
                .unsafePath,
                "another user took your directory in every usable mount root (\(Self.candidateRoots(header).joined(separator: ", "))); "
                    + "ask root to remove it, or set XAR_MOUNT_ROOT to a directory you own")
        }
        self = found
    }

    private init(userDirectory: consuming FileDescriptor, userDirectoryPath: String, name: String) {
        self.userDirectory = userDirectory
        self.userDirectoryPath = userDirectoryPath
        self.name = name
    }

    /// The roots tried, in order: the header's `MOUNT_ROOT`, else `XAR_MOUNT_ROOT`, else the defaults.
    static func candidateRoots(_ header: LaunchHeader) -> [String] {
        if let explicit = header.mountRoot ?? explicitRoot() { return [explicit] }
        return defaultRoots()
    }

    /// `XAR_MOUNT_ROOT`, when set and not empty.
    static func explicitRoot() -> String? {
        Settings.current.mountRoot
    }

    /// The mount location in the first usable root, or nil when every usable root is a shared one (root's, mode
    /// 1777) in which another user made our `uid-<uid>` first (squatting: we can neither use nor remove it);
    /// each root passed over so is said in one line on stderr.
    ///
    /// An explicitly named root (header or environment) that is unusable is an error; default roots that are
    /// unusable are skipped.
    static func find(header: LaunchHeader) throws(LaunchError) -> MountLocation? {
        let explicit = header.mountRoot ?? explicitRoot()
        let candidates = explicit.map { [$0] } ?? defaultRoots()
        let userName = "uid-\(Processes.effectiveUserID)"
        var usable = false
        for rootPath in candidates {
            let root: FileDescriptor
            do { root = try openRoot(rootPath) } catch {
                if explicit != nil { throw error }
                continue
            }
            usable = true
            let prefix = rootPath.hasSuffix("/") ? String(rootPath.dropLast()) : rootPath
            let userPath = prefix + "/" + userName
            let directory: FileDescriptor
            do {
                directory = try SecureDirectory.openOwnedDirectory(
                    userName, in: root.rawValue, mode: 0o700, create: true)
            } catch let refusal {
                if let owner = squatter(userName, in: root) {
                    StandardError.writeLine(
                        "\(Launcher.programName): \(userPath) was made by uid \(owner), not by you; passing over "
                            + "\(rootPath) (ask root to remove it)")
                    continue
                }
                throw LaunchError(.unsafePath, "unsafe mount directory: " + refusal.message(for: userPath))
            }
            let name = MountNamespace.current().map { "\(header.uuid)-ns-\($0)" } ?? header.uuid
            return MountLocation(userDirectory: directory, userDirectoryPath: userPath, name: name)
        }
        guard usable else {
            throw LaunchError(
                .unsafePath,
                "no usable mount root among \(defaultRoots().joined(separator: ", ")); create one with "
                    + "mkdir -p /mnt/xarfuse && chmod 1777 /mnt/xarfuse, or set XAR_MOUNT_ROOT to a directory you own")
        }
        return nil
    }

    /// The owner of `name` in the shared `root` when another user made it (so we cannot remove it: the sticky
    /// bit), else nil (ours to fix, or not a shared root).
    static func squatter(_ name: String, in root: borrowing FileDescriptor) -> UInt32? {
        guard let rootStatus = try? root.fileStatus(), rootStatus.uid == 0, rootStatus.permissions == 0o1777
        else { return nil }
        guard let status = try? root.status(of: name), status.uid != Processes.effectiveUserID else { return nil }
        return status.uid
    }

    /// Opens a mount root and requires it to be a directory that others cannot tamper with: root's with the
    /// sticky bit (mode 1777, like `/tmp`), or ours and not writable by others.
    static func openRoot(_ path: String) throws(LaunchError) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: .directory)
        } catch {
            throw LaunchError(
                .unsafePath,
                "cannot use mount root \(path): \(error); create it or set XAR_MOUNT_ROOT to another directory")
        }
        let status: FileStatus
        do { status = try fd.fileStatus() } catch {
            throw LaunchError(.unsafePath, "cannot use mount root \(path): \(error)")
        }
        let mode = UInt32(status.permissions)
        let shared = status.uid == 0 && mode == 0o1777
        let own = status.uid == Processes.effectiveUserID && mode & 0o022 == 0
        guard shared || own else {
            throw LaunchError(
                .unsafePath,
                "mount root \(path) is neither root's with mode 1777 nor yours and closed to others (owner uid "
                    + "\(status.uid), mode \(octal(mode))); run chmod 1777 \(path) as root or pick another root")
        }
        return fd
    }
}
