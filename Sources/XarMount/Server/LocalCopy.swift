import Glibc
import Synchronization
import XarFormat
import XarSystem

extension XarMount {
    /// When the server copies its image to local disk and serves from the copy (`XAR_LOCAL_COPY`,
    /// `--local-copy`).
    public enum LocalCopyPolicy: String, Sendable, Equatable {
        /// Always copy, whatever the source.
        case always
        /// Never copy: every read goes to the original file.
        case never
        /// Copy when the image's file system is network-like (NFS, SMB, FUSE, 9p, Ceph, Lustre, AFS, …; see
        /// `FileSystemType.networkTypes`, plus `XAR_NETWORK_FS_TYPES`). The default.
        case network
    }
}

/// The background copy that makes a mount independent of its source (docs/lifecycle.md, "Source loss").
///
/// Once the mount serves, a thread copies the whole `.xar` (header included, so the image offset stays valid)
/// into the cache directory under a temporary name, hashing the image part on the way, and renames it to
/// `<digest>.xar` only when the SHA-256 matches the header's `XAR_IMAGE_SHA256`: a torn or wrong copy never
/// has the final name. It then `dup2`s the copy onto the descriptor libsquashfuse reads through, which moves
/// every later read to the copy at once (a read in flight finishes on the old file). Until then reads go to the
/// source; when the source fails they fail with EIO, and the copy retries the same block with a growing pause
/// (the source may come back: an NFS server that restarts). The state file follows: `copying N%`, then
/// `local copy` and the copy's path. A copy already in the cache is verified and used at once.
final class LocalCopier: @unchecked Sendable {
    // @unchecked: the mutable state (`state`, `temporaryPath`) is touched only by the copier thread, and by
    // `stop()` under `gate`; the rest is immutable.

    private let imageFD: Int32
    private let offset: UInt64
    /// The file's size when the server started (the source may be gone by the time the copy begins).
    private let size: Int64
    /// The source file's identity when the server started, under which the copy records its digest.
    private let sourceIdentity: FileIdentity?
    private let digest: String
    private let cacheDirectory: String
    private let statePath: String
    private var state: XarMount.ServerState
    /// True while the copier may write the state file and rename its copy into place.
    private let gate = Mutex(true)
    private var temporaryPath: String?

    private let activity: SessionActivity

    /// Small enough that a launch's read waits little behind one chunk's read from the same source.
    private static let chunkSize = 256 << 10
    /// While requests came in this recently, the copy runs at most one chunk per `busyPause`: the first launch's
    /// own reads from the source come first, and the copy still progresses under an application that reads
    /// all the time.
    private static let busyWindow = 0.2
    private static let busyPause: UInt32 = 100_000
    /// The copy starts this long after the mount (`XAR_LOCAL_COPY_DELAY` seconds, default 0.5), and only once
    /// requests pause (for at most 5 s more): the first launch, which is what mounted the image, reads its
    /// start-up files undisturbed.
    private let startDelay: Double

    /// A copier for the image open as `imageFD`; `state` is what the server wrote at start; `activity` tells it
    /// when the session is busy.
    init(
        imageFD: Int32, offset: UInt64, digest: String, cacheDirectory: String, state: XarMount.ServerState,
        statePath: String, activity: SessionActivity
    ) {
        self.activity = activity
        startDelay =
            getenv("XAR_LOCAL_COPY_DELAY").flatMap { Double(String(cString: $0)) }.flatMap { $0 >= 0 ? $0 : nil } ?? 0.5
        self.imageFD = imageFD
        var info = stat()
        size = fstat(imageFD, &info) == 0 ? Int64(info.st_size) : 0
        sourceIdentity = FileIdentity(descriptor: imageFD)
        self.offset = offset
        self.digest = digest
        self.cacheDirectory = cacheDirectory
        self.state = state
        self.statePath = statePath
    }

    /// Why the image should be copied under `policy`, or nil when it should not (also logged).
    static func reason(policy: XarMount.LocalCopyPolicy, imageFD: Int32, digest: String?) -> String? {
        switch policy {
        case .never: return nil
        case .always: break
        case .network:
            let extra = getenv("XAR_NETWORK_FS_TYPES").map { String(cString: $0) }
            guard case .success(let type) = FileSystemType.of(descriptor: imageFD), type.isNetwork(extra: extra)
            else { return nil }
            guard digest != nil else {
                XarMount.Server.log(
                    "the image is on \(type.name) but has no XAR_IMAGE_SHA256 to verify a copy: no local copy")
                return nil
            }
            return "the image is on \(type.name)"
        }
        guard digest != nil else {
            XarMount.Server.log("the image has no XAR_IMAGE_SHA256 to verify a copy: no local copy")
            return nil
        }
        return "XAR_LOCAL_COPY=always"
    }

    /// The default cache directory: `images/` in the per-user directory that holds the mount point, which the
    /// launcher created and checked (ours, mode 0700) and which is on local storage by construction.
    static func defaultDirectory(mountPoint: String) -> String {
        guard let slash = mountPoint.lastIndex(of: "/"), slash != mountPoint.startIndex else { return "/images" }
        return String(mountPoint[..<slash]) + "/images"
    }

    /// Starts the copy on its own thread.
    func start() throws(XarMount.ServerError) {
        try ServerThread.start { self.run() }
    }

    /// Stops state writes and the final rename, and removes an unfinished copy; the thread itself may stay
    /// blocked in a read of a hung source until the process exits.
    func stop() {
        gate.withLock { open in
            open = false
            if let temporaryPath { unlink(temporaryPath) }
        }
    }

    private func run() {
        guard size > 0 else {
            XarMount.Server.log("the image's size is unknown: no local copy")
            return
        }
        let final = "\(cacheDirectory)/\(digest).xar"
        guard makeDirectory(cacheDirectory) else { return }
        if access(final, F_OK) == 0 {
            if verify(final) {
                switchTo(final)
                return
            }
            XarMount.Server.log("\(final) does not match its digest: copying again")
            unlink(final)
        }
        let temporary = "\(cacheDirectory)/.tmp-\(digest)-\(getpid())"
        gate.withLock { _ in temporaryPath = temporary }
        guard copy(to: temporary) else {
            unlink(temporary)
            setReadSource("source")
            return
        }
        let renamed = gate.withLock { open -> Bool in
            guard open else { return false }
            temporaryPath = nil
            return rename(temporary, final) == 0
        }
        guard renamed else {
            unlink(temporary)
            return
        }
        switchTo(final)
    }

    /// Copies the whole file to `path`, hashing the image part; true when the digest matched.
    private func copy(to path: String) -> Bool {
        let out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard out >= 0 else {
            XarMount.Server.log("cannot create \(path): \(XarMount.ServerError.text(errno: errno)); no local copy")
            return false
        }
        defer { close(out) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        var position: Int64 = 0
        var pause: UInt32 = 1
        var reported = -1
        let started = MonotonicTime.now()
        while true {
            let waited = MonotonicTime.now() - started
            let busy = activity.secondsSinceLastRequest < Self.busyWindow
            if waited >= startDelay && (!busy || waited >= startDelay + 5) { break }
            usleep(50_000)
        }
        while position < size {
            if activity.secondsSinceLastRequest < Self.busyWindow { usleep(Self.busyPause) }
            let wanted = Int(min(Int64(Self.chunkSize), size - position))
            let count = buffer.withUnsafeMutableBytes { pread(imageFD, $0.baseAddress, wanted, off_t(position)) }
            if count < 0 {
                if errno == EINTR { continue }
                XarMount.Server.log(
                    "reading the source at \(position) failed (\(XarMount.ServerError.text(errno: errno))); retrying in \(pause) s"
                )
                sleep(pause)
                pause = min(pause * 2, 30)
                continue
            }
            guard count > 0 else {
                XarMount.Server.log("the source ended at \(position) of \(size) bytes: no local copy")
                return false
            }
            pause = 1
            let written = buffer.withUnsafeBytes { writeAll(out, $0.baseAddress!, count) }
            guard written else {
                XarMount.Server.log("cannot write \(path): \(XarMount.ServerError.text(errno: errno)); no local copy")
                return false
            }
            // Only the image (from the header's OFFSET on) is covered by XAR_IMAGE_SHA256.
            let end = position + Int64(count)
            if end > Int64(offset) {
                let skip = max(0, Int(Int64(offset) - position))
                buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[skip..<count])) }
            }
            position = end
            let percent = Int(position * 100 / max(size, 1))
            if percent / 10 != reported / 10 && percent < 100 {
                reported = percent
                setReadSource("copying \(percent)%")
            }
        }
        let actual = hash.finalizeHex()
        // The source's real digest, for launches of other files that want to join (docs/lifecycle.md, "Identity").
        if let source = sourceIdentity, FileIdentity(descriptor: imageFD) == source {
            DigestCache.record(actual, for: source)
        }
        guard actual == digest else {
            XarMount.Server.log("the copy's SHA-256 is \(actual), not the header's \(digest): serving from the source")
            return false
        }
        return fsync(out) == 0
    }

    /// True when the file at `path` hashes to the digest (from the image offset on).
    private func verify(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        var position = Int64(offset)
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            position += Int64(count)
        }
        return hash.finalizeHex() == digest
    }

    /// Points the image descriptor at the copy and says so in the state file.
    private func switchTo(_ path: String) {
        let copy = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard copy >= 0 else {
            XarMount.Server.log(
                "cannot open \(path): \(XarMount.ServerError.text(errno: errno)); serving from the source")
            return
        }
        // dup2 replaces what imageFD refers to in one step; it clears close-on-exec, which is set back at once.
        guard dup2(copy, imageFD) >= 0 else {
            close(copy)
            return
        }
        _ = fcntl(imageFD, F_SETFD, FD_CLOEXEC)
        close(copy)
        state.copyPath = path
        setReadSource("local copy")
        XarMount.Server.log("serving from the local copy \(path)")
    }

    /// Rewrites the state file with a new `source`, keeping its modification time: that records when the
    /// mount was last in use (`UsageMonitor`), which a copy's progress says nothing about.
    private func setReadSource(_ source: String) {
        state.readSource = source
        gate.withLock { open in
            guard open else { return }
            var before = stat()
            let hadTime = stat(statePath, &before) == 0
            do { try state.write(to: statePath) } catch { XarMount.Server.log("\(error)") }
            if hadTime {
                var times = [before.st_atim, before.st_mtim]
                _ = utimensat(AT_FDCWD, statePath, &times, AT_SYMLINK_NOFOLLOW)
            }
        }
    }

    private func makeDirectory(_ path: String) -> Bool {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return true }
        XarMount.Server.log(
            "cannot create the cache directory \(path): \(XarMount.ServerError.text(errno: errno)); no local copy")
        return false
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = write(fd, bytes + done, count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}
