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
///
/// A runtime (docs/runtimes.md) has no start-up list: what a thin application's start reads of it depends on the
/// application. What every one of them reads is the runtime's interpreter starting (its loader, its binary, the
/// libraries mapped at its exec, the modules every interpreter imports before any code runs), so warming a runtime
/// starts its interpreter once through the mount, as a thin application's launch does but on no application:
/// `-I -S -c pass` (no `site`, nothing from the environment, no code but the interpreter's own start).
public enum ImageWarmer {
    /// What `warm` did.
    public struct Report: Sendable {
        /// The image's mount point (gone again unless `alreadyMounted`).
        public var mountPoint: String
        /// True when the image was mounted already: nothing was done (its server saves its blocks when it ends).
        public var alreadyMounted = false
        /// False when the image has no start-up list: nothing was read.
        public var hasList = false
        /// True when the image is a runtime whose interpreter was started once through the mount (no start-up
        /// list: `startInterpreter`).
        public var startedInterpreter = false
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
        if !report.hasList { try startInterpreter(imagePath: imagePath, into: &report) }
        try MountRemover.unmount(try MountRemover.find(mountPoint), force: false)
        // The server saves the plan and the blocks after its mount is gone, then exits.
        let deadline = MonotonicClock.now() + timeout
        // (A zombie has ended: the server is not our child, and init may take a while to reap it.)
        while let server, let status = ProcessStatus.read(pid: server), status.state != .dead,
            MonotonicClock.now() < deadline
        {
            MonotonicClock.sleep(0.01)
        }
        if report.files > 0 || report.startedInterpreter,
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

    /// The arguments a warming start of a runtime's interpreter gets: no `site`, nothing from the environment, and
    /// no code but the interpreter's own start.
    public static let interpreterStart = ["-I", "-S", "-c", "pass"]

    /// When the image at `imagePath` is a runtime (its metadata's `kind`; it names no runtime of its own), starts
    /// its interpreter once through the mount with `interpreterStart`, as its header launches it, and waits for it.
    /// A start that fails is an error naming the runtime: a runtime whose interpreter cannot start is broken.
    private static func startInterpreter(imagePath: String, into report: inout Report) throws(OperationError) {
        let mountPoint = report.mountPoint
        guard let metadata = SmallFile.read(mountPoint + "/" + XarImageLayout.metadata, followSymlinks: false),
            isRuntimeMetadata(metadata)
        else { return }
        let header: LaunchHeader
        do throws(LaunchError) {
            let image = try LaunchImage.open(imagePath)
            header = try Launcher.readHeader(image, path: imagePath)
        } catch {
            throw OperationError(error)
        }
        guard header.runtime == nil else { return }
        let target = TargetArguments(
            header: header, root: mountPoint, invokedPath: imagePath, userArguments: interpreterStart[...])
        let status: Int32
        do { status = try Spawn.run(path: target.path, arguments: target.argv) } catch {
            throw OperationError("cannot start the interpreter of the runtime \(imagePath) to warm it: \(error)")
        }
        guard status == 0 else {
            throw OperationError(
                "the interpreter of the runtime \(imagePath) failed to start (wait status \(status)) with "
                    + "\(interpreterStart.joined(separator: " ")); check it with xarctl verify \(imagePath)")
        }
        report.startedInterpreter = true
    }

    /// Whether `metadata` (an image's `/.xar/metadata.json`) says `"kind": "runtime"`, read without a JSON parser
    /// (the launcher's module has none): the first `"kind"` key. Only a thin image's metadata nests another
    /// object with one (its runtime's), and a thin image is never taken for a runtime (`startInterpreter`).
    static func isRuntimeMetadata(_ metadata: [UInt8]) -> Bool {
        let key = Array("\"kind\"".utf8), value = Array("\"runtime\"".utf8)
        guard let start = firstIndex(of: key, in: metadata) else { return false }
        var index = start + key.count
        let blanks: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        while index < metadata.count, blanks.contains(metadata[index]) { index += 1 }
        guard index < metadata.count, metadata[index] == UInt8(ascii: ":") else { return false }
        index += 1
        while index < metadata.count, blanks.contains(metadata[index]) { index += 1 }
        return metadata.count - index >= value.count && Array(metadata[index..<index + value.count]) == value
    }

    private static func firstIndex(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for index in 0...(bytes.count - needle.count) where bytes[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
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
