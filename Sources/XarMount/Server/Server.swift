import Glibc
import XarSystem
import struct SystemPackage.Errno

extension XarMount {
    /// The FUSE server: `xarexec` runs as this when invoked as `xarfs` (see docs/lifecycle.md).
    ///
    /// It checks the image, detaches from the launcher, mounts `ro,nosuid,nodev`, writes its state file,
    /// reports `ok` through the readiness pipe once the kernel's INIT is answered, and serves requests on the
    /// main thread (libsquashfuse is single-threaded) while a `UsageMonitor` thread decides when nobody uses the
    /// mount any more. Every failure before readiness is one line `error: <sentence>` on the pipe and a
    /// non-zero exit status (`ServerError.exitStatus`), so the launcher never waits for a server that died.
    public enum Server {
        /// Runs the server with `arguments` (`argv`, including the program name) and exits.
        public static func main(arguments: [String]) -> Never {
            // The launcher's signal state is inherited: libfuse installs its SIGTERM/SIGINT/SIGHUP handlers
            // only over the default disposition, and a blocked SIGTERM would never end the loop.
            var handled = sigset_t()
            sigemptyset(&handled)
            for number in [SIGTERM, SIGINT, SIGHUP] {
                signal(number, SIG_DFL)
                sigaddset(&handled, number)
            }
            sigprocmask(SIG_UNBLOCK, &handled, nil)
            signal(SIGPIPE, SIG_IGN)
            let configuration: Configuration
            do {
                configuration = try Configuration(parsing: Array(arguments.dropFirst()))
            } catch {
                fail(error, readyFD: readyFD(in: arguments), detached: false)
            }
            do {
                try serve(configuration, settings: .current)
            } catch {
                fail(error, readyFD: configuration.readyFD, detached: false)
            }
        }

        /// The part of `main` after parsing; returns only by throwing.
        private static func serve(_ configuration: Configuration, settings: Settings) throws(ServerError) -> Never {
            let image = configuration.imagePath
            for (fd, what) in [(configuration.imageFD, "image"), (configuration.readyFD, "readiness pipe")] {
                guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else {
                    throw .usage("the \(what) descriptor \(fd) is not open")
                }
            }
            let lockFD = open(configuration.lockPath, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
            guard lockFD >= 0 else {
                throw .system(
                    "cannot open the lock file \(configuration.lockPath)", reason: Errno(rawValue: errno).description)
            }
            // Checked before detaching, so that a bad image also shows in the exit status the launcher reaps: first
            // its structure, by the Swift reader (libsquashfuse trusts the image), then what libsquashfuse reads.
            let checkSeconds = try ImageCheck.checkOnce(
                imageFD: configuration.imageFD, offset: configuration.offset, imagePath: image,
                digest: configuration.digest)
            let session = try FuseSession(
                imageFD: configuration.imageFD, offset: configuration.offset, imagePath: image, settings: settings)

            var logFD: Int32 = -1
            if let path = settings.serverLog {
                logFD = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            }
            try detach(name: "xarfs", stderrFD: logFD, keeping: [configuration.imageFD, configuration.readyFD, lockFD])
            if checkSeconds > 0 { log("checked the structure of \(image) in \(Int(checkSeconds * 1e6)) µs") }
            do {
                try serveDetached(configuration, settings: settings, session: session, lockFD: lockFD)
            } catch {
                fail(error, readyFD: configuration.readyFD, detached: true)
            }
        }

        /// The part of `serve` in the detached process: mount, state, monitor, loop, clean-up.
        private static func serveDetached(
            _ configuration: Configuration, settings: Settings, session: consuming FuseSession, lockFD: Int32
        ) throws(ServerError) -> Never {
            let image = configuration.imagePath
            let plan = StartupPlan(configuration, settings: settings)
            plan.load(into: session)
            try session.mount(
                on: configuration.mountPoint, options: mountOptions(image: image), readyFD: configuration.readyFD)
            let state = ServerState(
                pid: getpid(), imagePath: image, uuid: configuration.uuid ?? "", digest: configuration.digest ?? "",
                mountPoint: configuration.mountPoint, started: Int64(time(nil)), idleTimeout: configuration.idleTimeout,
                lockPath: configuration.lockPath, readSource: "source",
                device: (try? DeviceNumber.cached(configuration.mountPoint)) ?? 0,
                imageID: FileIdentity(descriptor: configuration.imageFD)?.text ?? "")
            try state.write(to: configuration.statePath)

            // Also without a grace period (0: never unmount): the monitor gives the idle server's memory back.
            let monitor = try UsageMonitor(
                mountPoint: configuration.mountPoint, idleTimeout: configuration.idleTimeout, lockFD: lockFD,
                statePath: configuration.statePath, activity: session.activity)
            try monitor.start()
            var copier: LocalCopier?
            if let reason = LocalCopier.reason(
                policy: configuration.localCopy, imageFD: configuration.imageFD, digest: configuration.digest,
                extraNetworkTypes: settings.networkFileSystemTypes),
                let digest = configuration.digest
            {
                let directory =
                    configuration.cacheDirectory ?? LocalCopier.defaultDirectory(mountPoint: configuration.mountPoint)
                log("copying the image to \(directory): \(reason)")
                copier = LocalCopier(
                    imageFD: configuration.imageFD, offset: configuration.offset, digest: digest,
                    cacheDirectory: directory, state: state, statePath: configuration.statePath, imagePath: image,
                    mountPoint: configuration.mountPoint, activity: session.activity,
                    startDelay: settings.localCopyDelay)
                try copier?.start()
            }
            // The copy hashes the file anyway (and records its digest); otherwise verify it once idle.
            if copier == nil,
                let verifier = SourceVerifier(
                    imageFD: configuration.imageFD, offset: configuration.offset, claimed: configuration.digest,
                    activity: session.activity, delay: settings.verifyDelay)
            {
                try verifier.start()
            }
            log("serving \(image) on \(configuration.mountPoint)")
            let result = session.run()
            copier?.stop()
            let idleUnmount = monitor.stop()
            if result < 0 { log("the session ended with: \(Errno(rawValue: -result).description)") }
            plan.save(from: session)
            session.unmount()  // (after a signal the mount is still there, and cleanUp's rmdir needs it gone)
            cleanUp(configuration, lockFD: lockFD, locked: idleUnmount)
            flock(lockFD, LOCK_UN)  // a launcher may start the next server while the blocks are written
            plan.saveBlocks(from: session)
            session.close()
            exit(0)
        }

        /// The `-o` list: read-only, no setuid or devices, the kernel checks permissions, and a name in
        /// `/proc/mounts` that says what is served. Commas and backslashes in the path are escaped for libfuse.
        static func mountOptions(image: String) -> String {
            var escaped = ""
            for character in image {
                if character == "," || character == "\\" { escaped.append("\\") }
                escaped.append(character)
            }
            return "ro,nosuid,nodev,default_permissions,fsname=xarfs:\(escaped),subtype=xarfs"
        }

        /// Removes the state file (if it is still ours) and the mount directory, holding the image's lock so
        /// that a launcher starting a new server at the same place is not disturbed. The lock is already held
        /// after an idle unmount; otherwise (SIGTERM, an unmount by someone else) it is waited for, briefly.
        private static func cleanUp(_ configuration: Configuration, lockFD: Int32, locked: Bool) {
            var haveLock = locked
            let deadline = MonotonicClock.now() + 2
            while !haveLock && MonotonicClock.now() < deadline {
                if flock(lockFD, LOCK_EX | LOCK_NB) == 0 { haveLock = true } else { usleep(20_000) }
            }
            guard haveLock else {
                log("lock \(configuration.lockPath) busy: leaving \(configuration.statePath) to the launcher")
                return
            }
            if ServerState.read(from: configuration.statePath)?.pid == getpid() {
                unlink(configuration.statePath)
            }
            rmdir(configuration.mountPoint)
        }

        /// Reports `error` on the readiness pipe (when there is one) and, once detached, in the log; exits with its
        /// status. Before detaching, stderr is the user's terminal: the launcher decides what to print there.
        private static func fail(_ error: ServerError, readyFD: Int32?, detached: Bool) -> Never {
            let line = "error: \(error)\n"
            if let readyFD {
                var bytes = Array(line.utf8)
                _ = write(readyFD, &bytes, bytes.count)
            }
            if detached { log("\(error)") }
            exit(error.exitStatus)
        }

        /// The `--ready-fd` value of an argument list that did not parse, so the error still reaches the launcher.
        private static func readyFD(in arguments: [String]) -> Int32? {
            guard let index = arguments.firstIndex(of: "--ready-fd"), index + 1 < arguments.count,
                let fd = Int32(arguments[index + 1]), fcntl(fd, F_GETFD) >= 0
            else { return nil }
            return fd
        }

        /// Writes one line to stderr: the file named by `XAR_SERVER_LOG` once detached, else /dev/null.
        static func log(_ message: String) {
            StandardError.writeLine("xarfs[\(getpid())]: \(message)")
        }
    }
}
