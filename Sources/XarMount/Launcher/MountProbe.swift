internal import Glibc
internal import struct SystemPackage.Errno
internal import XarSystem

/// What the launcher finds at an image's mount point, with the image's lock held.
enum MountProbe: ~Copyable {
    /// A live mount of this image by our running server; the payload is the open mount root, which pins the
    /// mount (a FUSE directory handle) until `exec` closes it.
    case live(FileDescriptor)
    /// Nothing is mounted; the mount point may or may not exist.
    case absent
    /// A FUSE mount whose server is gone ("Transport endpoint is not connected"), or a state file whose server
    /// is gone: clean up, then mount afresh.
    case dead

    /// True for `.live`.
    var isLive: Bool {
        switch self {
        case .live: return true
        default: return false
        }
    }

    /// True for `.dead`.
    var isDead: Bool {
        switch self {
        case .dead: return true
        default: return false
        }
    }

    /// Looks at the mount point of `location` for the image described by `header`.
    ///
    /// The order matters: the state file and the server's process state are read before anything touches the
    /// mount, because any access to a FUSE mount whose server is stopped blocks until the server resumes.
    static func probe(_ location: borrowing MountLocation, header: LaunchHeader) throws(LaunchError) -> MountProbe {
        let state = readState(location)
        if let state {
            guard state.uuid == header.uuid, state.digest == (header.digest ?? "") else {
                throw LaunchError(
                    .unsafePath,
                    "\(location.mountPoint) serves another image (uuid \(state.uuid)) than \(header.uuid); unmount it "
                        + "with fusermount3 -u \(location.mountPoint)")
            }
            guard let server = ProcessStatus.read(pid: state.pid), server.state != .dead else { return .dead }
            if server.state == .stopped {
                throw LaunchError(
                    .stuck,
                    "the FUSE server (pid \(state.pid)) for \(location.mountPoint) is stopped; resume it with "
                        + "kill -CONT \(state.pid) or end it with kill -KILL \(state.pid)")
            }
        }
        let root: FileDescriptor
        do {
            root = try FileDescriptor.open(
                location.name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, relativeTo: location.userDirectory)
        } catch .socketNotConnected {
            return .dead
        } catch .noSuchFileOrDirectory {
            return state == nil ? .absent : .dead
        } catch .tooManySymbolicLinkLevels, .notDirectory {
            throw LaunchError(
                .unsafePath,
                "\(location.mountPoint) is a symbolic link or not a directory; remove it (rm \(location.mountPoint)) "
                    + "and run again")
        } catch {
            throw LaunchError(.unsafePath, "cannot open \(location.mountPoint): \(error)")
        }
        guard let mounted = try? root.status(), let parent = try? location.userDirectory.status() else {
            return .dead
        }
        if mounted.st_dev == parent.st_dev { return state == nil ? .absent : .dead }
        guard (try? FileSystemType.of(root)) == .fuse else {
            throw LaunchError(
                .unsafePath,
                "something other than a FUSE file system is mounted at \(location.mountPoint); unmount it")
        }
        guard state != nil else { return .dead }
        return .live(root)
    }

    /// The server's state file (`XarMount.ServerState`), or nil when it is missing or unreadable.
    static func readState(_ location: borrowing MountLocation) -> XarMount.ServerState? {
        guard
            let file = try? FileDescriptor.open(
                location.stateName, flags: O_RDONLY | O_NOFOLLOW, relativeTo: location.userDirectory)
        else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buffer -> XarMount.ServerState? in
            guard let n = try? file.readFully(into: buffer, at: 0), n > 0 else { return nil }
            return XarMount.ServerState(parsing: String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }
}
