import Synchronization
import XarFormat
import XarSystem
import struct SystemPackage.Errno

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
/// As soon as the launch has what it needs (the start-up plan is read ahead, or there is none), a thread at idle
/// I/O and lowest CPU priority copies the `.xar` into the cache directory under a temporary name, at the source's
/// speed: first the header with the superblock and the tables at the end (all that libsquashfuse reads but data
/// blocks), then the server reads through the copy (every data or fragment block an application's read takes from
/// the source is written into the copy at once, blocks.c) and serves from it, while the thread copies the data in
/// order, stepping aside while the application's requests keep coming (at most half a second per 1 MiB chunk).
/// Once the copy is whole the mount no longer needs its source; the copy is then hashed and renamed to
/// `<digest>.xar` only when its SHA-256 matches `XAR_IMAGE_SHA256`.
///
/// When the source fails before that, reads of data never read fail with EIO, the state file says
/// `source lost, N% copied`, and the copy waits for a new source: a file with the same identity that a launch or
/// `xarctl mount` names in `<mount>.source`, or the original path coming back, each hashed before it is used.
final class LocalCopier: @unchecked Sendable {
    // @unchecked: the mutable state (`state`, `temporaryPath`, `sourceFD`, `tried`) is touched only by the copier
    // thread, and `temporaryPath` by `stop()` under `gate`; the rest is immutable.

    private let imageFD: Int32
    private let offset: UInt64
    /// The file's size when the server started (the source may be gone by the time the copy begins).
    private let size: Int64
    /// The source file's identity when the server started, under which the copy records its digest.
    private let sourceIdentity: FileIdentity?
    private let digest: String
    private let cacheDirectory: String
    private let statePath: String
    /// The original path, tried again when the source fails (an NFS or sshfs mount coming back).
    private let imagePath: String
    /// `<mount>.source`: a launcher of the same image writes its file's path here when the source is lost.
    private let healPath: String
    private var state: XarMount.ServerState
    /// True while the copier may write the state file and rename its copy into place.
    private let gate = Mutex(true)
    private var temporaryPath: String?
    /// The copier's own descriptor of the source, kept open for the process's life (read-through reads it too,
    /// by number); a new source is duplicated onto its number.
    private var sourceFD: Int32 = -1
    /// Files already hashed and refused as a new source: device, inode, size, modification time.
    private var tried: Set<[Int64]> = []
    /// Where the data ends and the tables begin in the file (the file's size until known), and whether the tables
    /// are in the copy: for the percentage the state file shows.
    private var dataEnd: UInt64 = 0
    private var tablesCopied = false

    private let activity: SessionActivity
    /// `XAR_LOCAL_COPY_DELAY` (`Settings.localCopyDelay`, seconds, default 0): holds the copy back; tests use it to
    /// lose the source first.
    private let startDelay: Double

    private static let chunkSize = 1 << 20
    /// What is copied before read-through starts, from the start of the file: the header, the superblock, and the
    /// compressor options that may follow it.
    private static let headBytes: UInt64 = 64 << 10
    /// The launch's start-up plan is waited for at most this long before the copy starts.
    private static let planWait = 2.0
    /// While the application's requests come closer together than this, the copier steps aside before its next
    /// chunk: the application's own reads reach the copy anyway (read-through), and on a network file system the
    /// copy would otherwise share the one connection with them.
    private static let quietGap = 0.02
    /// The longest the copier steps aside per chunk, so that an application reading without pause still lets the
    /// copy end (a chunk at least every half second).
    private static let yieldLimit = 0.5

    /// A copier for the image open as `imageFD` (from `imagePath`); `state` is what the server wrote at start.
    init(
        imageFD: Int32, offset: UInt64, digest: String, cacheDirectory: String, state: XarMount.ServerState,
        statePath: String, imagePath: String, mountPoint: String, activity: SessionActivity, startDelay: Double
    ) {
        self.activity = activity
        self.startDelay = startDelay
        self.imageFD = imageFD
        sourceIdentity = FileIdentity(descriptor: imageFD)
        size = sourceIdentity?.size ?? 0
        self.offset = offset
        self.digest = digest
        self.cacheDirectory = cacheDirectory
        self.state = state
        self.statePath = statePath
        self.imagePath = imagePath
        self.healPath = mountPoint + ".source"
    }
    /// Why the image should be copied under `policy`, or nil when it should not (also logged).
    static func reason(
        policy: XarMount.LocalCopyPolicy, imageFD: Int32, digest: String?, extraNetworkTypes extra: String?
    ) -> String? {
        switch policy {
        case .never: return nil
        case .always: break
        case .network:
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
            if let temporaryPath { _ = try? FileSystem.removeFile(temporaryPath) }
            _ = try? FileSystem.removeFile(healPath)
        }
    }

    private func run() {
        guard size > 0 else {
            XarMount.Server.log("the image's size is unknown: no local copy")
            return
        }
        let final = "\(cacheDirectory)/\(digest).xar"
        guard makeDirectory(cacheDirectory) else { return }
        if FileSystem.exists(final) {
            if verify(path: final) {
                switchTo(final)
                return
            }
            XarMount.Server.log("\(final) does not match its digest: copying again")
            _ = try? FileSystem.removeFile(final)
        }
        if startDelay > 0 { MonotonicClock.sleep(min(startDelay, 60)) }
        let started = MonotonicClock.now()
        while !activity.planDone && MonotonicClock.now() - started < Self.planWait { MonotonicClock.sleep(0.02) }
        activity.lowerThreadPriority()
        do {
            sourceFD = try FileDescriptor.withUnowned(imageFD) { (image) throws(Errno) in try image.duplicate() }
                .release()
        } catch {
            XarMount.Server.log("cannot duplicate the image descriptor: \(error.description)")
            return
        }
        let temporary = "\(cacheDirectory)/.tmp-\(digest)-\(Processes.currentID)"
        gate.withLock { _ in temporaryPath = temporary }
        guard let copyFD = copy(to: temporary, started: started) else {
            _ = try? FileSystem.removeFile(temporary)
            setReadSource("source")
            return
        }
        let actual = FileDescriptor.withUnowned(copyFD) { (copy) -> String? in
            (try? copy.sync()) != nil ? digestHex(copy) : nil
        }
        // The source's real digest, for launches of other files that want to join (docs/lifecycle.md, "Identity"):
        // the copy holds the source's bytes (a source taken by healing recorded its own when it was hashed).
        if let actual, let source = sourceIdentity, FileIdentity(descriptor: sourceFD) == source {
            DigestCache.record(actual, for: source)
        }
        guard actual == digest else {
            // Not the image the header names: back to the source, which the application was reading anyway.
            XarMount.Server.log("the copy's SHA-256 is not the header's \(digest): serving from the source")
            _ = activity.readThrough(source: -1, copy: -1, copiedEnd: 0, tailStart: 0)
            _ = try? FileDescriptor.withUnowned(sourceFD) { (source) throws(Errno) in
                try source.duplicate(onto: imageFD)
            }
            _ = try? FileSystem.removeFile(temporary)
            setReadSource("source")
            return
        }
        let renamed = gate.withLock { open -> Bool in
            guard open else { return false }
            temporaryPath = nil
            return (try? FileSystem.rename(temporary, to: final)) != nil
        }
        guard renamed else {
            _ = try? FileSystem.removeFile(temporary)
            return
        }
        state.copyPath = final
        setReadSource("local copy")
        XarMount.Server.log("serving from the local copy \(final)")
    }

    /// Copies the file to `path` (head and tables first, then read-through, then the data in order) and makes the
    /// server read from it; the copy's descriptor (kept open for the process's life: read-through writes into it
    /// by number) or nil.
    private func copy(to path: String, started: Double) -> Int32? {
        let out: Int32
        do {
            out = try FileDescriptor.open(
                path, .readWrite, options: [.create, .truncate, .noFollow], permissions: 0o600
            ).release()
        } catch {
            XarMount.Server.log("cannot create \(path): \(error.description); no local copy")
            return nil
        }
        let total = UInt64(size)
        dataEnd = total
        let headEnd = min(total, offset + Self.headBytes)
        guard copyRange(from: 0, to: headEnd, into: out, path: path) else { return nil }
        // The superblock's inode_table_start (byte 64): the tables run from there to the end of the image.
        var field = [UInt8](repeating: 0, count: 8)
        var tailStart = total
        let fieldRead = field.withUnsafeMutableBytes { buffer in
            FileDescriptor.withUnowned(out) { (copy) in try? copy.readFully(into: buffer, at: Int64(offset + 64)) }
        }
        if fieldRead == 8 {
            let start = offset + field.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if start >= headEnd && start < total { tailStart = start }
        }
        dataEnd = tailStart
        guard copyRange(from: tailStart, to: total, into: out, path: path) else { return nil }
        tablesCopied = true
        guard activity.readThrough(source: sourceFD, copy: out, copiedEnd: headEnd, tailStart: tailStart) else {
            return nil
        }
        // From here every block is in the copy before it is read: libsquashfuse may read it there.
        do {
            try FileDescriptor.open(path, .readOnly, options: .noFollow).duplicate(onto: imageFD)
        } catch {
            XarMount.Server.log("cannot read the copy \(path): \(error.description)")
            return nil
        }
        var position = headEnd
        var reported = -1
        while position < tailStart {
            var waited = 0.0
            while activity.secondsSinceLastRequest < Self.quietGap && waited < Self.yieldLimit {
                MonotonicClock.sleep(Self.quietGap)
                waited += Self.quietGap
            }
            let end = min(tailStart, position + UInt64(Self.chunkSize))
            guard copyRange(from: position, to: end, into: out, path: path) else { return nil }
            position = end
            activity.copied(upTo: position)
            let percent = copiedPercent(position)
            if percent / 10 != reported / 10 && percent < 100 {
                reported = percent
                setReadSource("copying \(percent)%")
            }
        }
        let seconds = (MonotonicClock.now() - started).rounded(toPlaces: 2)
        XarMount.Server.log("the mount no longer needs its source (\(seconds) s after the copier started)")
        setReadSource("copied, verifying")
        return out
    }

    /// How much of the file is in the copy, in percent, when the data is copied up to `position`.
    private func copiedPercent(_ position: UInt64) -> Int {
        let tables = tablesCopied ? UInt64(size) - dataEnd : 0
        return Int((min(position, dataEnd) + tables) * 100 / UInt64(max(size, 1)))
    }

    /// Copies bytes `start..<end` from the source into `out` at the same place. A failing source makes the state
    /// say so and waits for it to heal (`heal`); false only when the copy itself cannot be written.
    private func copyRange(from start: UInt64, to end: UInt64, into out: Int32, path: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        var position = start
        var lost = false
        var pause = 0.2
        while position < end {
            let wanted = Int(min(UInt64(Self.chunkSize), end - position))
            let read = buffer.withUnsafeMutableBytes { (buffer) -> Result<Int, Errno> in
                let wantedBytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted])
                return Result { () throws(Errno) in
                    try FileDescriptor.withUnowned(sourceFD) { (source) throws(Errno) in
                        try source.read(into: wantedBytes, at: Int64(position))
                    }
                }
            }
            let count = (try? read.get()) ?? -1
            if count <= 0 {
                let reason: String
                if case .failure(let error) = read { reason = error.description } else { reason = "it ended early" }
                if !lost {
                    lost = true
                    XarMount.Server.log("reading the source at \(position) failed (\(reason)); waiting for a new one")
                    setReadSource("source lost, \(copiedPercent(position))% copied")
                }
                if heal() {
                    pause = 0.2
                    continue
                }
                guard gate.withLock({ $0 }) else { return false }
                MonotonicClock.sleep(pause)
                pause = min(pause * 1.5, 2)
                continue
            }
            if lost {
                lost = false
                setReadSource("copying")
            }
            let failure = buffer.withUnsafeBytes { (bytes) -> Errno? in
                do throws(Errno) {
                    try FileDescriptor.withUnowned(out) { (copy) throws(Errno) in
                        try copy.write(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), at: Int64(position))
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure {
                XarMount.Server.log("cannot write \(path): \(failure.description); no local copy")
                return false
            }
            position += UInt64(count)
        }
        return true
    }

    /// Looks for a new source: the path a launcher left in `<mount>.source`, then the original path. One whose
    /// SHA-256 (from the image offset on) is the digest replaces the source descriptor (`dup3`), so read-through
    /// and the copy both read it from now on. True when the source was replaced.
    private func heal() -> Bool {
        var candidates: [String] = []
        if let bytes = SmallFile.read(healPath, followSymlinks: false) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingNewlines()
            if text.hasPrefix("/") { candidates.append(text) }
        }
        candidates.append(imagePath)
        for candidate in candidates {
            guard let file = try? FileDescriptor.open(candidate, .readOnly, options: .nonBlocking) else { continue }
            guard let info = try? file.fileStatus(), info.kind == .regular, Int64(info.size) == size else { continue }
            let key = [
                Int64(bitPattern: info.device), Int64(bitPattern: info.inode), Int64(info.size),
                Int64(info.modificationTime),
            ]
            if tried.contains(key) { continue }
            tried.insert(key)
            guard verify(file) else {
                XarMount.Server.log("\(candidate) does not hash to \(digest): not taken as the new source")
                continue
            }
            guard (try? file.duplicate(onto: sourceFD)) != nil else { continue }
            _ = try? FileSystem.removeFile(healPath)
            XarMount.Server.log("the source is now \(candidate)")
            state.imagePath = candidate
            // Launches of this file join without hashing it again (MountIdentity compares `image_id`).
            if let identity = FileIdentity(descriptor: sourceFD) {
                state.imageID = identity.text
                DigestCache.record(digest, for: identity)
            }
            return true
        }
        return false
    }

    /// True when the file at `path` hashes to the digest (from the image offset on).
    private func verify(path: String) -> Bool {
        guard let file = try? FileDescriptor.open(path, .readOnly, options: .noFollow) else { return false }
        return verify(file)
    }

    /// True when `file` hashes to the digest (from the image offset on).
    private func verify(_ file: borrowing FileDescriptor) -> Bool { digestHex(file) == digest }

    /// The SHA-256 of `file` from the image offset on, in hex; nil when it cannot be read.
    private func digestHex(_ file: borrowing FileDescriptor) -> String? {
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        var position = Int64(offset)
        while true {
            let count = buffer.withUnsafeMutableBytes { (buffer) -> Int in
                (try? file.read(into: buffer, at: position)) ?? -1
            }
            if count < 0 { return nil }
            if count == 0 { break }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            position += Int64(count)
        }
        return hash.finalizeHex()
    }

    /// Points the image descriptor at a verified copy already in the cache and says so in the state file.
    private func switchTo(_ path: String) {
        let copy: FileDescriptor
        do { copy = try FileDescriptor.open(path, .readOnly, options: .noFollow) } catch {
            XarMount.Server.log("cannot open \(path): \(error.description); serving from the source")
            return
        }
        // Replaces what imageFD refers to in one step, close-on-exec.
        guard (try? copy.duplicate(onto: imageFD)) != nil else { return }
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
            let before = try? FileSystem.times(statePath)
            do { try state.write(to: statePath) } catch { XarMount.Server.log("\(error)") }
            if let before { _ = try? FileSystem.setTimes(statePath, to: before) }
        }
    }

    private func makeDirectory(_ path: String) -> Bool {
        do {
            try FileSystem.createDirectory(path, mode: 0o700)
        } catch {
            guard error.errno == .fileExists else {
                XarMount.Server.log("cannot create the cache directory \(path): \(error.reason); no local copy")
                return false
            }
        }
        return true
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}

extension String {
    fileprivate func trimmingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline { text = text.dropLast() }
        return String(text)
    }
}
