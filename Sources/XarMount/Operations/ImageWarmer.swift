internal import XarFormat
internal import XarSystem

/// `xarctl warm`: makes an image's first cold start on this host as fast as a repeat one, at deploy time.
///
/// A repeat cold start reads the start-up blocks the last server saved decompressed (docs/lifecycle.md, "Saved
/// blocks"); the first start of a new image on a host has none and decompresses them while the application
/// waits. Warming mounts the image as the launcher would, reads every file of the image's start-up list
/// (`/.xar/startup-files`, written by `xarbuild python`) through the mount, as a start would, and unmounts it; the
/// server saves its record (the plan) and those blocks when it ends, exactly as after a real start. Mounts and
/// saved blocks are per user: warm as the user who runs the tool.
public enum ImageWarmer {
    /// What `warm` did.
    public struct Report: Sendable {
        /// The image's mount point (gone again unless `alreadyMounted`).
        public var mountPoint: String
        /// True when the image was mounted already: nothing was done (its server saves its blocks when it ends).
        public var alreadyMounted = false
        /// False when the image has no start-up list: nothing was read.
        public var hasList = false
        /// Files read and their bytes.
        public var files = 0
        public var bytes: Int64 = 0
        /// The saved blocks' path and size once the server has ended, nil when it saved none
        /// (`XAR_STARTUP_BLOCKS=0`, or nothing was read).
        public var savedBlocks: (path: String, bytes: Int64)?
    }

    /// Warms `imagePath`; waits at most `timeout` seconds for its server to end after the unmount.
    public static func warm(imagePath: String, timeout: Double = 60) throws(OperationError) -> Report {
        if let record = try? MountRemover.find(imagePath), record.status == .live || record.status == .stopped {
            return Report(mountPoint: record.mountPoint, alreadyMounted: true)
        }
        let mountPoint = try MountStager.mount(imagePath: imagePath, pin: false)
        var report = Report(mountPoint: mountPoint)
        let server = XarMount.ServerState.read(from: mountPoint + ".state")?.pid
        readStartupFiles(into: &report)
        try MountRemover.unmount(try MountRemover.find(mountPoint), force: false)
        // The server saves the plan and the blocks after its mount is gone, then exits.
        let deadline = MonotonicClock.now() + timeout
        // (A zombie has ended: the server is not our child, and init may take a while to reap it.)
        while let server, let status = ProcessStatus.read(pid: server), status.state != .dead,
            MonotonicClock.now() < deadline
        {
            MonotonicClock.sleep(0.01)
        }
        if report.files > 0,
            let saved = XarMount.Server.StartupPlan.blocksPath(
                mountPoint: mountPoint, cacheHome: Settings.current.cacheHome),
            let status = try? FileSystem.fileStatus(saved, followSymlinks: false)
        {
            report.savedBlocks = (saved, Int64(status.size))
        }
        return report
    }

    /// The runtime the launcher would run the image at `imagePath` on (docs/runtimes.md): the path of the file
    /// found where the launcher looks (`RuntimeLocator`: `XAR_RUNTIME_PATH`, the image's directory,
    /// `/usr/lib/xar/runtimes`, the local copies), its bytes hashed as before the launcher first mounts it; nil for an image that
    /// names no runtime. A runtime found nowhere, or not the digest named, is one line naming the digest and
    /// every place looked.
    public static func runtime(of imagePath: String) throws(OperationError) -> String? {
        do throws(LaunchError) {
            let image = try LaunchImage.open(imagePath)
            guard let dependency = try Launcher.readHeader(image, path: imagePath).runtime else { return nil }
            let found = try RuntimeLocator.find(dependency, imagePath: imagePath)
            try RuntimeLocator.proveDigest(of: found, dependency, imagePath: imagePath)
            return found.path
        } catch {
            throw OperationError(error)
        }
    }

    /// Reads, through the mount, every regular file of the mount the image's start-up list names.
    private static func readStartupFiles(into report: inout Report) {
        let mountPoint = report.mountPoint
        guard let root = try? FileSystem.fileStatus(mountPoint),
            let list = SmallFile.read(mountPoint + "/" + XarImageLayout.startupList, followSymlinks: false)
        else { return }
        report.hasList = true
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for line in list.split(separator: UInt8(ascii: "\n")) {
            let path = String(decoding: line, as: UTF8.self)
            guard !path.split(separator: "/").contains("..") else { continue }
            guard let file = try? FileDescriptor.open(mountPoint + "/" + path, .readOnly, options: .noFollow) else {
                continue
            }
            // Only files of this mount: a symbolic link on the way could lead elsewhere.
            guard let status = try? file.fileStatus(), status.kind == .regular, status.device == root.device else {
                continue
            }
            report.files += 1
            while let n = try? file.read(into: buffer), n > 0 { report.bytes += Int64(n) }
        }
    }
}
