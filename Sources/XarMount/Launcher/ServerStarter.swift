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
        let ends: (read: Int32, write: Int32)
        do {
            ends = try Pipe().release()
        } catch {
            throw LaunchError(.serverFailed, "cannot create a pipe for the FUSE server: \(error)")
        }
        let ready = FileDescriptor(owning: ends.read)
        // The child's 0, 1 and 2 become /dev/null; a launcher started with those closed may hold the image or
        // the pipe there, so hand the server copies numbered 3 and up (the pipe's own write end closes here).
        let original = FileDescriptor(owning: ends.write)
        let imageCopy: FileDescriptor
        do { imageCopy = try image.duplicate(atLeast: 3) } catch {
            throw LaunchError(.serverFailed, "cannot pass the image to the FUSE server: \(error)")
        }
        let writeEnd: FileDescriptor
        do { writeEnd = try original.duplicate(atLeast: 3) } catch {
            throw LaunchError(.serverFailed, "cannot pass the image to the FUSE server: \(error)")
        }
        _ = try? original.close()
        var arguments = [
            "xarfs", imagePath,
            "--image-fd", String(imageCopy.rawValue),
            "--offset", String(header.offset),
            "--mountpoint", location.mountPoint,
            "--lock", location.userDirectoryPath + "/" + location.lockName,
            "--state", location.userDirectoryPath + "/" + location.stateName,
            "--idle-timeout", String(idleTimeout(header: header)),
            "--ready-fd", String(writeEnd.rawValue),
            "--uuid", header.uuid,
        ]
        if let digest = header.digest { arguments += ["--digest", digest] }
        // Source loss (docs/lifecycle.md): the environment's XAR_LOCAL_COPY overrides the header's; the server
        // rejects a value other than always, never or network with a usage error.
        let localCopy = Settings.current.localCopy ?? header.localCopy
        if localCopy != "network" { arguments += ["--local-copy", localCopy] }
        let pid: Int32
        do {
            pid = try Spawn.detached(
                path: "/proc/self/exe", arguments: arguments, inherit: [imageCopy.rawValue, writeEnd.rawValue])
        } catch {
            throw LaunchError(.serverFailed, "cannot start the FUSE server for \(imagePath): \(error)")
        }
        // Closed now, so that a server that dies before it reports ends the read below at once.
        _ = try? writeEnd.close()
        let line: [UInt8]?
        do { line = try ready.readLine(timeout: readinessTimeout) } catch {
            line = nil
        }
        // The spawned process forks the server and exits at once (docs/architecture.md), so this wait is short
        // and leaves no zombie for the application to inherit.
        guard let line else {
            Signals.send(.kill, to: pid)
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
    static func reap(_ pid: Int32) -> Int32 {
        for _ in 0..<200 {
            do {
                if let status = try Spawn.waitIfEnded(pid) { return status }
            } catch {
                return 0
            }
            MonotonicClock.sleep(0.005)
        }
        return 0
    }

    private static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal != 0 { return "killed by signal \(signal)" }
        return "exit status \((status >> 8) & 0xff)"
    }
}
