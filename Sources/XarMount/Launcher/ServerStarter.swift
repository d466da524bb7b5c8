internal import Glibc
internal import struct SystemPackage.Errno
internal import XarSystem

/// Starting the FUSE server (`xarfs`, this same executable under another `argv[0]`) and waiting for it to
/// say that the mount is up.
///
/// The server gets the open image as an inherited descriptor (so it reads the very file the launcher
/// checked), detaches itself (`setsid`), and writes one line to the ready pipe: `ok` or `error: <sentence>`.
/// The launcher waits for that line with `poll`, at most `readinessTimeout` seconds: a server that never answers
/// is killed and reported, never waited on forever.
enum ServerStarter {
    /// The longest the launcher waits for the server's readiness line.
    static let readinessTimeout = 10.0
    /// The idle grace period when neither `XAR_MOUNT_TIMEOUT` (environment) nor the header sets one.
    static let defaultIdleTimeout = 300

    /// The idle timeout to give the server: the environment's `XAR_MOUNT_TIMEOUT`, else the header's, else
    /// `defaultIdleTimeout`.
    static func idleTimeout(header: LaunchHeader) -> Int {
        Settings.current.mountTimeout ?? header.mountTimeout ?? defaultIdleTimeout
    }

    /// Starts the server for `imagePath` (absolute) at `location` and returns once it reports the mount is up.
    static func start(
        _ location: borrowing MountLocation, header: LaunchHeader, image: borrowing FileDescriptor, imagePath: String
    ) throws(LaunchError) {
        var readEnd: Int32 = -1
        var writeEnd: Int32 = -1
        do {
            (readEnd, writeEnd) = try Pipe().release()
        } catch {
            throw LaunchError(.serverFailed, "cannot create a pipe for the FUSE server: \(error)")
        }
        let ready = FileDescriptor(owning: readEnd)
        // The child's 0, 1 and 2 become /dev/null; a launcher started with those closed may hold the image or
        // the pipe there, so hand the server copies numbered 3 and up.
        let imageCopy = FileDescriptor(owning: fcntl(image.rawValue, F_DUPFD_CLOEXEC, 3))
        let writeCopy = fcntl(writeEnd, F_DUPFD_CLOEXEC, 3)
        _ = Glibc.close(writeEnd)
        writeEnd = writeCopy
        guard imageCopy.rawValue >= 3, writeEnd >= 3 else {
            _ = Glibc.close(writeEnd)
            throw LaunchError(.serverFailed, "cannot pass the image to the FUSE server: \(Errno(rawValue: errno))")
        }
        var arguments = [
            "xarfs", imagePath,
            "--image-fd", String(imageCopy.rawValue),
            "--offset", String(header.offset),
            "--mountpoint", location.mountPoint,
            "--lock", location.userDirectoryPath + "/" + location.lockName,
            "--state", location.userDirectoryPath + "/" + location.stateName,
            "--idle-timeout", String(idleTimeout(header: header)),
            "--ready-fd", String(writeEnd),
            "--uuid", header.uuid,
        ]
        if let digest = header.digest { arguments += ["--digest", digest] }
        // Source loss (docs/lifecycle.md): the environment's XAR_LOCAL_COPY overrides the header's; the server
        // rejects a value other than always, never or network with a usage error.
        let localCopy = Settings.current.localCopy ?? header.localCopy
        if localCopy != "network" { arguments += ["--local-copy", localCopy] }
        let pid: pid_t
        do {
            pid = try Spawn.detached(
                path: "/proc/self/exe", arguments: arguments, inherit: [imageCopy.rawValue, writeEnd])
        } catch {
            _ = Glibc.close(writeEnd)
            throw LaunchError(.serverFailed, "cannot start the FUSE server for \(imagePath): \(error)")
        }
        _ = Glibc.close(writeEnd)
        let line: [UInt8]?
        do { line = try ready.readLine(timeout: readinessTimeout) } catch {
            line = nil
        }
        // The spawned process forks the server and exits at once (docs/architecture.md), so this wait is short
        // and leaves no zombie for the application to inherit.
        guard let line else {
            _ = kill(pid, SIGKILL)
            reap(pid)
            throw LaunchError(
                .stuck,
                "the FUSE server for \(imagePath) did not report within \(Int(readinessTimeout)) s and was killed; "
                    + "check that \(location.mountPoint) is not on a hung file system")
        }
        let status = reap(pid)
        let text = String(decoding: line, as: UTF8.self)
        if text == "ok" { return }
        if text.hasPrefix("error: ") {
            throw LaunchError(.serverFailed, String(text.dropFirst(7)))
        }
        throw LaunchError(
            .serverFailed,
            "the FUSE server for \(imagePath) exited without mounting it (\(describe(status: status))); run "
                + "xarctl verify \(imagePath)")
    }

    /// Reaps `pid` (the spawned process, which forks the server and exits at once) within a second, its wait status
    /// (0 when it did not end in time: a process stuck in the kernel, e.g. on a hung file system, is left to init).
    @discardableResult
    static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        for _ in 0..<200 {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { return status }
            if done < 0 && errno != EINTR { return 0 }
            usleep(5000)
        }
        return 0
    }

    private static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal != 0 { return "killed by signal \(signal)" }
        return "exit status \((status >> 8) & 0xff)"
    }
}
