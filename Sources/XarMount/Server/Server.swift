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
            Signals.restoreDefault([.terminate, .interrupt, .hangUp])
            Signals.ignore(.brokenPipe)
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
                guard (try? FileDescriptor.withUnowned(fd) { (fd) throws(Errno) in try fd.setCloseOnExec() }) != nil
                else { throw .usage("the \(what) descriptor \(fd) is not open") }
            }
            let lock: FileLock
            do {
                lock = FileLock(file: try FileDescriptor.open(configuration.lockPath, .readWrite, options: .noFollow))
            } catch {
                throw .system("cannot open the lock file \(configuration.lockPath)", reason: error.description)
            }
            // Checked before detaching, so that a bad image also shows in the exit status the launcher reaps: first
            // its structure, by the Swift reader (libsquashfuse trusts the image), then what libsquashfuse reads.
            let checkSeconds = try ImageCheck.checkOnce(
                imageFD: configuration.imageFD, offset: configuration.offset, imagePath: image,
                digest: configuration.digest)
            let session = try FuseSession(
                imageFD: configuration.imageFD, offset: configuration.offset, imagePath: image, settings: settings)

            // The log becomes the detached process's stderr (and its own number is closed there).
            let logFD =
                settings.serverLog.flatMap {
                    try? FileDescriptor.open($0, .writeOnly, options: [.append, .create], permissions: 0o600).release()
                } ?? -1
            try detach(
                name: "xarfs", stderrFD: logFD,
                keeping: [configuration.imageFD, configuration.readyFD, lock.file.rawValue])
            if checkSeconds > 0 { log("checked the structure of \(image) in \(Int(checkSeconds * 1e6)) µs") }
            do {
                try serveDetached(configuration, settings: settings, session: session, lock: lock)
            } catch {
                fail(error, readyFD: configuration.readyFD, detached: true)
            }
        }

        /// The part of `serve` in the detached process: mount, state, monitor, loop, clean-up.
        private static func serveDetached(
            _ configuration: Configuration, settings: Settings, session: consuming FuseSession, lock: consuming FileLock
        ) throws(ServerError) -> Never {
            let image = configuration.imagePath
            let plan = StartupPlan(configuration, settings: settings)
            plan.load(into: session)
            try session.mount(
                on: configuration.mountPoint, options: mountOptions(image: image), readyFD: configuration.readyFD)
            let state = ServerState(
                pid: Processes.currentID, imagePath: image, uuid: configuration.uuid ?? "",
                digest: configuration.digest ?? "", mountPoint: configuration.mountPoint, started: WallClock.now(),
                idleTimeout: configuration.idleTimeout,
                lockPath: configuration.lockPath, readSource: "source",
                device: (try? DeviceNumber.cached(configuration.mountPoint)) ?? 0,
                imageID: FileIdentity(descriptor: configuration.imageFD)?.text ?? "")
            try state.write(to: configuration.statePath)

            // Also without a grace period (0: never unmount): the monitor gives the idle server's memory back.
            let monitor = try UsageMonitor(
                mountPoint: configuration.mountPoint, idleTimeout: configuration.idleTimeout, lock: lock,
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
            cleanUp(configuration, lock: monitor.lock, locked: idleUnmount)
            _ = try? monitor.lock.unlock()  // a launcher may start the next server while the blocks are written
            plan.saveBlocks(from: session)
            session.close()
            Processes.exit(0)
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
        private static func cleanUp(_ configuration: Configuration, lock: borrowing FileLock, locked: Bool) {
            let haveLock = locked || (try? lock.lock(.exclusive, timeout: 2)) == true
            guard haveLock else {
                log("lock \(configuration.lockPath) busy: leaving \(configuration.statePath) to the launcher")
                return
            }
            if ServerState.read(from: configuration.statePath)?.pid == Processes.currentID {
                _ = try? FileSystem.removeFile(configuration.statePath)
            }
            _ = try? FileSystem.removeDirectory(configuration.mountPoint)
        }

        /// Reports `error` on the readiness pipe (when there is one) and, once detached, in the log; exits with its
        /// status. Before detaching, stderr is the user's terminal: the launcher decides what to print there.
        private static func fail(_ error: ServerError, readyFD: Int32?, detached: Bool) -> Never {
            let line = "error: \(error)\n"
            if let readyFD {
                _ = Array(line.utf8).withUnsafeBytes { bytes in
                    try? FileDescriptor.withUnowned(readyFD) { (pipe) throws(Errno) in try pipe.write(bytes) }
                }
            }
            if detached { log("\(error)") }
            Processes.exit(error.exitStatus)
        }

        /// The `--ready-fd` value of an argument list that did not parse, so the error still reaches the launcher.
        private static func readyFD(in arguments: [String]) -> Int32? {
            guard let index = arguments.firstIndex(of: "--ready-fd"), index + 1 < arguments.count,
                let fd = Int32(arguments[index + 1]), FileDescriptor.isOpen(fd)
            else { return nil }
            return fd
        }

        /// Writes one line to stderr: the file named by `XAR_SERVER_LOG` once detached, else /dev/null.
        static func log(_ message: String) {
            StandardError.writeLine("xarfs[\(Processes.currentID)]: \(message)")
        }
    }
}
