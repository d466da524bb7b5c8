internal import struct SystemPackage.Errno
internal import XarFormat
internal import XarSystem

/// `xarexec`: runs a `.xar` like a native program, mounting its image on first use.
///
/// Invoked by the kernel through the shebang (`#!/usr/bin/env xarexec`: `argv = [xarexec, ./tool.xar, args…]`),
/// or by hand (`xarexec tool.xar args…`), or as `xarexec_fuse` for Facebook's files. The hot path (already
/// mounted) is: one `pread` of the header, open the per-user directory and the lock file, `flock(LOCK_SH)`, read
/// the server's state file, check the server process, open the mount root (the pin), `execve`. See
/// docs/launcher.md.
public enum Launcher {
    /// The message prefix and program name in errors.
    static let programName = "xarexec"

    /// Runs the launcher with the process's `arguments` and never returns: it execs the target or exits with
    /// one of `LaunchError`'s statuses after printing one line to standard error.
    public static func main(arguments: [String]) -> Never {
        do {
            try run(arguments)
        } catch {
            fail(error)
        }
    }

    /// Exits with status 121 and one line when the process runs with privileges its caller does not have (a
    /// setuid or setgid `xarexec`: real and effective ids differ). The launcher and the
    /// server take paths from `XAR_*` variables and from the caller's files; run with another user's rights they
    /// would open, create and mount wherever the caller says. `xarexec`'s `main` calls it first, before anything reads the
    /// environment, for the launcher and the server alike.
    public static func refuseIfPrivileged() {
        let uid = Processes.realUserID
        let euid = Processes.effectiveUserID
        let gid = Processes.realGroupID
        let egid = Processes.effectiveGroupID
        guard uid != euid || gid != egid else { return }
        fail(
            LaunchError(
                .unsafePath,
                "xarexec runs setuid or setgid (uid \(uid), euid \(euid), gid \(gid), egid \(egid)), which it "
                    + "must never do; remove the bits with chmod u-s,g-s on it"))
    }

    /// Prints `error` as one line and exits with its status.
    public static func fail(_ error: LaunchError) -> Never {
        StandardError.writeLine(
            "\(programName): error: \(error.message)")
        Processes.exit(error.exitStatus)
    }

    /// What the caller asked for with an option before the `.xar` path (Facebook's launcher has the same ones).
    enum Mode { case run, mountOnly, printOnly }

    static let usage = """
        usage: xarexec [-m | -n] FILE.xar [ARGUMENT...]
          -m  mount the image and print the mount path, do not run it
          -n  print the mount path, do not mount
        """

    static func run(_ arguments: [String]) throws(LaunchError) -> Never {
        var index = 1
        var mode = Mode.run
        while index < arguments.count, arguments[index].hasPrefix("-") {
            switch arguments[index] {
            case "-m": mode = .mountOnly
            case "-n": mode = .printOnly
            case "-h", "--help":
                print(usage)
                Processes.exit(0)
            default: throw LaunchError(.usage, "unknown option \(arguments[index])\n\(usage)")
            }
            index += 1
        }
        guard index < arguments.count else { throw LaunchError(.usage, "no .xar file given\n\(usage)") }
        let imagePath = arguments[index]
        let userArguments = arguments[(index + 1)...]

        let image = try LaunchImage.open(imagePath)
        let header = try readHeader(image, path: imagePath)
        try HostFloor.check(header, path: imagePath)
        let found: MountLocation?
        do { found = try MountLocation.find(header: header) } catch {
            // Containers without FUSE often have no usable mount root either; the extraction needs none.
            if mode == .run, let reason = FuseAvailability.unavailableReason() {
                try Extraction.runFallback(
                    why: "FUSE is unavailable (\(reason))", image: consume image, header: header, imagePath: imagePath,
                    userArguments: userArguments)
            }
            throw error
        }
        let location: MountLocation
        switch consume found {
        case .some(let usable): location = usable
        case .none:
            // Another user took our directory in every mount root: the extraction cache is ours alone.
            guard mode == .run else { throw LaunchError(.unsafePath, "no mount root is usable for \(imagePath)") }
            try Extraction.runFallback(
                why: "another user took your directory in every mount root", image: consume image, header: header,
                imagePath: imagePath, userArguments: userArguments)
        }
        if mode == .printOnly {
            print(location.mountPoint)
            Processes.exit(0)
        }
        // A thin image's runtime first: when it is missing, nothing of the application is mounted.
        var runtimeRoot: String?
        var runtimePin: FileDescriptor?
        if let dependency = header.runtime {
            let outcome = try mountRuntime(dependency, imagePath: imagePath)
            switch consume outcome {
            case .mounted(let mounted):
                runtimeRoot = mounted.mountPoint
                runtimePin = consume mounted.pin
            case .noFuse(let why):
                // Both images then run from the extraction cache (docs/runtimes.md, "Without FUSE").
                guard mode == .run else {
                    throw LaunchError(.noFuse, "cannot mount the runtime of \(imagePath): \(why)")
                }
                try Extraction.runFallback(
                    why: why, image: consume image, header: header, imagePath: imagePath,
                    userArguments: userArguments)
            }
        }
        let lock = try openLock(location)
        var sourceLost = false
        var probe = try MountProbe.probe(location, header: header, sourceLost: &sourceLost)
        // Identity is proven before a mount is joined: the header's UUID and digest are only claims.
        try MountIdentity.admit(&probe, location, header: header, image: image, imagePath: imagePath)
        if !probe.isLive { sourceLost = false }  // not joined: a fresh mount is made
        if !probe.isLive {
            if let reason = FuseAvailability.unavailableReason() {
                guard mode == .run else {
                    throw LaunchError(.noFuse, "cannot mount \(imagePath): \(reason); install fuse3 or run it directly")
                }
                try? lock.unlock()
                try Extraction.runFallback(
                    why: "FUSE is unavailable (\(reason))", image: consume image, header: header, imagePath: imagePath,
                    userArguments: userArguments)
            }
            try take(lock, .exclusive, location)
            probe = try MountProbe.probe(location, header: header)
            try MountIdentity.replaceForeign(&probe, location, header: header, image: image, imagePath: imagePath)
            if probe.isDead { try removeDeadMount(location) }
            if !probe.isLive {
                do {
                    try mount(location, header: header, image: image, imagePath: imagePath)
                } catch let error where mode == .run && FuseAvailability.isRefusedMount(error) {
                    // Refused where no check could see it coming (seccomp, a kernel or fusermount3 saying EPERM):
                    // the same fallback as a missing /dev/fuse.
                    try? lock.unlock()
                    try Extraction.runFallback(
                        why: "FUSE is unavailable (mounting failed: \(error.message))", image: consume image,
                        header: header,
                        imagePath: imagePath, userArguments: userArguments)
                }
                probe = try MountProbe.probe(location, header: header)
            }
        }
        let root: FileDescriptor
        switch consume probe {
        case .live(let pin): root = pin
        default:
            throw LaunchError(
                .serverFailed,
                "the FUSE server reported \(location.mountPoint) mounted, but it is not; see xarctl list")
        }
        // (Not `sourceLost && offer(…)`: the right side would be an autoclosure capturing the noncopyable location.)
        let healed = sourceLost ? SourceHealing.offer(location, imagePath: imagePath) : true
        if !healed {
            // A healthy file never fails because of an orphaned mount of the same image.
            guard mode == .run else {
                throw LaunchError(
                    .serverFailed,
                    "\(location.mountPoint) lost its source and did not take \(imagePath) as the new one; see xarctl list"
                )
            }
            _ = consume root
            try? lock.unlock()
            try Extraction.runFallback(
                why: "\(location.mountPoint) lost its source and did not take this file as the new one",
                image: consume image, header: header, imagePath: imagePath, userArguments: userArguments)
        }
        _ = consume image
        if mode == .mountOnly {
            print(location.mountPoint)
            Processes.exit(0)
        }
        let target = TargetArguments(
            header: header, root: location.mountPoint, runtimeRoot: runtimeRoot, invokedPath: imagePath,
            userArguments: userArguments)
        try execute(target, pin: root, runtimePin: runtimePin)
    }

    /// Reads the header with one `pread` and checks it.
    static func readHeader(_ image: borrowing FileDescriptor, path: String) throws(LaunchError) -> LaunchHeader {
        let parsed = try withUnsafeTemporaryAllocation(byteCount: XarHeader.headerSizeBase, alignment: 16) {
            (buffer) throws(LaunchError) -> XarHeader in
            let count: Int
            do { count = try image.read(into: buffer, at: 0) } catch {
                throw LaunchError(.badImage, "cannot read \(path): \(error)")
            }
            do {
                return try XarHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            } catch {
                throw LaunchError(.badImage, "\(path) is not a usable .xar: \(error)")
            }
        }
        return try LaunchHeader(path: path, header: parsed)
    }

    /// Takes the image's lock within a bounded time.
    static func take(_ lock: borrowing FileLock, _ kind: FileLock.Kind, _ location: borrowing MountLocation)
        throws(LaunchError)
    {
        let acquired: Bool
        do { acquired = try lock.lock(kind, timeout: ServerStarter.readinessTimeout + 5) } catch {
            throw LaunchError(.unsafePath, "cannot lock \(location.userDirectoryPath)/\(location.lockName): \(error)")
        }
        guard acquired else {
            throw LaunchError(
                .stuck,
                "\(location.userDirectoryPath)/\(location.lockName) stayed locked for "
                    + "\(Int(ServerStarter.readinessTimeout + 5)) s; find the holder with fuser -v on it")
        }
    }

    /// Detaches the dead mount (a server killed without unmounting) and removes its stale state file.
    ///
    /// Whatever `MountProbe` took for dead is detached when the mount table has it, without asking its server
    /// (which may be stopped or stuck: a question could wait for ever); the processes still using it keep it.
    static func removeDeadMount(_ location: borrowing MountLocation) throws(LaunchError) {
        if let entry = MountInfo.current().entries[location.mountPoint], entry.type.hasPrefix("fuse") {
            do { try XarMount.MountTable.removeDeadMount(location.mountPoint) } catch {
                throw LaunchError(
                    .stuck,
                    "cannot remove the dead mount at \(location.mountPoint) (\(error)); run fusermount3 -u -z "
                        + "\(location.mountPoint) and try again")
            }
        }
        try? location.userDirectory.removeFile(location.stateName)
    }

    /// Creates (or checks) the mount point and starts the server; the exclusive lock is held.
    static func mount(
        _ location: borrowing MountLocation, header: LaunchHeader, image: borrowing FileDescriptor, imagePath: String
    ) throws(LaunchError) {
        do {
            let directory = try SecureDirectory.openOwnedDirectory(
                location.name, in: location.userDirectory.rawValue, mode: 0o755, create: true)
            _ = try? directory.close()
        } catch let refusal {
            throw LaunchError(.unsafePath, "unsafe mount point: " + refusal.message(for: location.mountPoint))
        }
        try ServerStarter.start(location, header: header, image: image, imagePath: absolute(imagePath))
    }

    /// `path` made absolute (symlinks resolved), so the server's `ps` line and state file name the real file.
    static func absolute(_ path: String) -> String {
        FileSystem.resolvedPath(path) ?? path
    }

    /// Replaces the launcher with the target; `pin` (the open mount root) stays open until the exec closes it.
    /// A thin image's runtime mount stays pinned the same way, by `runtimePin`.
    static func execute(
        _ target: TargetArguments, pin: consuming FileDescriptor, runtimePin: consuming FileDescriptor? = nil
    )
        throws(LaunchError) -> Never
    {
        let error = Exec.replace(path: target.path, arguments: target.argv)
        _ = consume pin
        _ = consume runtimePin
        throw LaunchError(
            .execFailed,
            "cannot execute \(target.path): \(error); check that XAREXEC_TARGET names an executable file in the image")
    }
}
