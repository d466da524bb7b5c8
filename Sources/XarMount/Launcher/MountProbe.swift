internal import struct SystemPackage.Errno
internal import XarSystem

/// What the launcher finds at an image's mount point, with the image's lock held.
enum MountProbe: ~Copyable {
    /// A live mount of this image by our running server; the payload is the open mount root, which pins the
    /// mount (the kernel refuses to unmount it, the server sees it in /proc) until `exec` closes it.
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
        var sourceLost = false
        return try probe(location, header: header, sourceLost: &sourceLost)
    }

    /// `probe`, and `sourceLost` set for a live mount whose server lost its source before its local copy was
    /// complete (docs/lifecycle.md, "Source loss": the launcher then offers its own file as the new source).
    static func probe(
        _ location: borrowing MountLocation, header: LaunchHeader, sourceLost: inout Bool
    ) throws(LaunchError) -> MountProbe {
        let state = readState(location)
        if let state {
            guard state.uuid == header.uuid, state.digest == (header.digest ?? "") else {
                throw LaunchError(
                    .unsafePath,
                    "\(location.mountPoint) serves another image (uuid \(state.uuid)) than \(header.uuid); unmount it "
                        + "with fusermount3 -u \(location.mountPoint)")
            }
            guard let process = serverProcess(state.pid) else { return .dead }
            switch process.letter {
            case UInt8(ascii: "Z"), UInt8(ascii: "X"): return .dead
            case UInt8(ascii: "T"), UInt8(ascii: "t"):
                throw LaunchError(
                    .stuck,
                    "the FUSE server (pid \(state.pid)) for \(location.mountPoint) is stopped; resume it with "
                        + "kill -CONT \(state.pid) or end it with kill -KILL \(state.pid)")
            case UInt8(ascii: "D"):
                // Waiting in the kernel: briefly for a slow disk; for good when it crashed while waiting on a mount
                // (an older server) or reads from a file system that went away. Past `uninterruptibleGrace` its
                // mount is treated as dead: detached, and mounted afresh.
                if !leavesUninterruptibleSleep(state.pid) { return .dead }
            default: break
            }
            // The state file names a process that is not a server (a pid reused after a crash, an edited file): the
            // mount's server is unknown, maybe stopped, so nothing touches the mount.
            guard process.isServer else { return .dead }
        } else if let entry = MountInfo.current().entries[location.mountPoint] {
            guard entry.type.hasPrefix("fuse") else {
                throw LaunchError(
                    .unsafePath,
                    "something other than a FUSE file system is mounted at \(location.mountPoint); unmount it")
            }
            // Mounted, but no state file names its server, which may be stopped: not touched, replaced.
            return .dead
        } else {
            return .absent
        }
        let root: FileDescriptor
        do {
            root = try location.userDirectory.open(location.name, .readOnly, options: [.directory, .noFollow])
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
        guard let mounted = try? root.fileStatus(), let parent = try? location.userDirectory.fileStatus() else {
            return .dead
        }
        if mounted.device == parent.device { return state == nil ? .absent : .dead }
        // The state file names the device number of the server's mount: the same number here is that mount, and
        // proving it asks the server nothing (a `statfs` is a round trip that has to wake the server). Without the
        // number (an older server), ask the file system's type.
        let device = state?.device ?? 0
        let ours = device != 0 && device == mounted.device
        if !ours {
            guard (try? FileSystemType.of(root)) == .fuse else {
                throw LaunchError(
                    .unsafePath,
                    "something other than a FUSE file system is mounted at \(location.mountPoint); unmount it")
            }
        }
        guard let state else { return .dead }
        sourceLost = state.sourceLost
        return .live(root)
    }

    /// What the launcher needs from the server's state file (`XarMount.ServerState`'s format).
    struct StateFields {
        var pid: Int32
        var uuid: String
        var digest: String
        var device: UInt64
        /// `image_id`: the server's image file's `FileIdentity`, empty from servers before it was recorded.
        var imageID = ""
        /// `image`: the path the server was started for.
        var imagePath = ""
        /// The state's `source` says `source lost, …`.
        var sourceLost = false
    }

    /// Reads `pid`, `uuid`, `digest`, `dev`, `image` and `image_id` from the state file; nil when it is missing or has no pid.
    ///
    /// A byte scan rather than `ServerState(parsing:)`: in a static binary every new generic instantiation
    /// (its dictionary) costs a scan of the conformance tables, measurable on the hot path (perf).
    static func readState(_ location: borrowing MountLocation) -> StateFields? {
        guard
            let file = try? location.userDirectory.open(location.stateName, .readOnly, options: .noFollow)
        else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buffer -> StateFields? in
            guard let n = try? file.readFully(into: buffer, at: 0), n > 0 else { return nil }
            var fields = StateFields(pid: 0, uuid: "", digest: "", device: 0)
            var lineStart = 0
            for index in 0...n where index == n || buffer[index] == 0x0A {
                let line = UnsafeRawBufferPointer(rebasing: buffer[lineStart..<index])
                lineStart = index + 1
                guard let equals = line.firstIndex(of: 0x3D) else { continue }
                let key = UnsafeRawBufferPointer(rebasing: line[..<equals])
                let value = UnsafeRawBufferPointer(rebasing: line[(equals + 1)...])
                if key.elementsEqual("pid".utf8) {
                    fields.pid = Int32(truncatingIfNeeded: decimal(value, below: 1_000_000_000))
                } else if key.elementsEqual("dev".utf8) {
                    fields.device = decimal(value, below: UInt64.max)
                } else if key.elementsEqual("uuid".utf8) {
                    fields.uuid = String(decoding: value, as: UTF8.self)
                } else if key.elementsEqual("digest".utf8) {
                    fields.digest = String(decoding: value, as: UTF8.self)
                } else if key.elementsEqual("image_id".utf8) {
                    fields.imageID = String(decoding: value, as: UTF8.self)
                } else if key.elementsEqual("image".utf8) {
                    fields.imagePath = String(decoding: value, as: UTF8.self)
                } else if key.elementsEqual("source".utf8) {
                    fields.sourceLost = value.starts(with: "source lost".utf8)
                }
            }
            return fields.pid > 0 ? fields : nil
        }
    }

    /// The decimal number in `digits` (other bytes skipped), its digits taken while the number stays below `limit`.
    static func decimal(_ digits: UnsafeRawBufferPointer, below limit: UInt64) -> UInt64 {
        var number: UInt64 = 0
        for byte in digits where byte >= 0x30 && byte <= 0x39 && number < limit / 10 {
            number = number * 10 + UInt64(byte - 0x30)
        }
        return number
    }

    /// How long a server may stay in uninterruptible sleep (`D`) before its mount is taken for dead.
    static let uninterruptibleGrace = 2.0

    /// Polls the state of `pid` until it is no longer `D`, for at most `uninterruptibleGrace` seconds.
    static func leavesUninterruptibleSleep(_ pid: Int32) -> Bool {
        let deadline = MonotonicClock.now() + uninterruptibleGrace
        while MonotonicClock.now() < deadline {
            MonotonicClock.sleep(0.02)
            guard let process = serverProcess(pid) else { return true }
            if process.letter != UInt8(ascii: "D") { return true }
        }
        return false
    }

    /// The state letter of process `pid` from `/proc/PID/stat` (proc(5)), the byte after the last `)` and a space,
    /// and whether its command name (between the first `(` and the last `)`) is `xarfs`, the name our servers give
    /// themselves. Nil when there is no such process. The same reading as `ProcessStatus.read`, without its strings.
    static func serverProcess(_ pid: Int32) -> (letter: UInt8, isServer: Bool)? {
        guard let file = try? FileDescriptor.open("/proc/\(pid)/stat", .readOnly) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: 512, alignment: 1) { buffer -> (UInt8, Bool)? in
            guard let n = try? file.read(into: buffer), n > 0 else { return nil }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            guard let open = bytes.firstIndex(of: 0x28), let close = bytes.lastIndex(of: 0x29), open < close,
                close + 2 < n
            else { return nil }
            let name = UnsafeRawBufferPointer(rebasing: bytes[(open + 1)..<close])
            return (bytes[close + 2], name.elementsEqual("xarfs".utf8))
        }
    }
}
