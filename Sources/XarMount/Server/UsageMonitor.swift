import XarSystem
import struct SystemPackage.Errno

/// Watches a mount for users on a thread of its own and unmounts it once nobody used it for the grace period; gives
/// the session's memory back once the start is over and whenever requests stop (`Trimming`), also when the grace
/// period is 0 (never unmount), where it does nothing else.
///
/// A user is a process with its working directory, root or executable inside the mount, a file in it open or
/// mapped (an exec'd program, a shared library, an `mmap`): `ProcScan.anyUser` finds one in `/proc`. The
/// session answers no `open` (see server.c), so there are no FUSE handles to count; the process found last
/// is checked first, which makes a check of a mount with a long-running user a few syscalls. The thread
/// touches no libsquashfuse state: it scans `/proc` and unmounts. When the grace period has passed it takes
/// the image's lock exclusively without waiting (the launcher holds it shared while it pins the mount; if it
/// is busy the monitor tries again on the next tick), checks once more and unmounts without `MNT_DETACH`: the
/// kernel refuses with EBUSY if a user slipped in, which makes the last check race-free. A successful unmount ends the session's loop,
/// because reads of `/dev/fuse` then fail with ENODEV; the lock stays held until the process exits.
///
/// Two files next to the mount point tie in `xarctl`: while `<mount>.pin` exists (`xarctl mount --pin`) the mount
/// counts as used; and when the last user goes away the monitor sets the state file's modification time to
/// that moment, so `xarctl list` and `xarctl gc --idle` can tell how long the mount has been idle.
final class UsageMonitor: @unchecked Sendable {
    // @unchecked: `unmounted` is written only by the monitor thread and read only after `stop()` joined it;
    // everything else is immutable.

    /// The mount point as the kernel spells it in `/proc` (symlinks in its parent resolved).
    let mountPoint: String
    let idleTimeout: Double
    /// `<mount>.pin`: while it exists, the mount is in use (`xarctl mount --pin`).
    let pinPath: String
    /// The state file, whose modification time records when the mount was last seen in use.
    let statePath: String?
    /// The image's lock file, taken exclusively to unmount; the server takes it again to clean up (`stop()` first).
    let lock: FileLock
    /// The process last found using the mount, checked first next time; only the monitor thread uses it.
    private var lastUser: Int32?
    /// Written to by `stop()`, to wake the thread at once.
    private let wake: Pipe
    private var thread: BackgroundThread?
    /// The session, whose memory is trimmed once the start is over and whenever requests stop (`Trimming`).
    private let activity: SessionActivity?

    /// The start-up window: the record is made in the first 5 s after the mount is ready (server.c); the
    /// server's start-up memory (plan, record index, the blocks decompressed for the start) is returned after it.
    static let startupWindow = 6.0

    /// True when the monitor unmounted the mount (and holds the lock); valid after `stop()`.
    private(set) var unmounted = false

    /// A monitor for `mountPoint` that takes `lock` before it unmounts.
    init(
        mountPoint: String, idleTimeout: Double, lock: consuming FileLock, statePath: String? = nil,
        activity: SessionActivity? = nil
    ) throws(XarMount.ServerError) {
        self.activity = activity
        self.mountPoint = ProcScan.canonical(mountPoint)
        self.pinPath = mountPoint + ".pin"
        self.statePath = statePath
        self.idleTimeout = idleTimeout
        self.lock = lock
        // Close-on-exec (the process spawns nothing but fusermount3, after this): it keeps the pipe out of it.
        do { wake = try Pipe() } catch {
            throw .system("cannot create the usage monitor's pipe", reason: error.description)
        }
    }

    /// Starts the thread. Signals stay blocked on it, so that SIGTERM interrupts the session's loop instead.
    func start() throws(XarMount.ServerError) {
        thread = try ServerThread.start { self.run() }
    }

    /// Wakes the thread, waits for it to finish and returns whether it unmounted.
    func stop() -> Bool {
        guard let thread else { return unmounted }
        let byte: UInt8 = 1
        withUnsafeBytes(of: byte) { _ = try? wake.writeEnd.write($0) }
        thread.join()
        self.thread = nil
        return unmounted
    }

    private func run() {
        // A quarter of the grace period, between 0.1 s and 5 s: an idle mount costs a walk over /proc per tick.
        // Without a grace period (0: never unmount) the thread only gives memory back, every 5 s.
        let interval = idleTimeout > 0 ? min(5.0, max(0.1, idleTimeout / 4)) : 5.0
        var use = Use(idleSince: MonotonicClock.now())
        var trim = Trimming(started: MonotonicClock.now())
        while !sleepOrStop(seconds: interval) {
            if let activity { trim.tick(activity, now: MonotonicClock.now()) }
            if idleTimeout > 0, watch(&use) {
                unmounted = true
                return
            }
            // Last, so that what this tick ran is not left mapped until the next.
            if let activity { trim.settle(activity) }
        }
    }

    /// What the monitor saw of the mount's users.
    private struct Use {
        var idleSince: Double
        var wasUsed = false
    }

    /// One look at the mount's users; true when it was unmounted (and the lock is held).
    private func watch(_ use: inout Use) -> Bool {
        if isUsed() {
            use.idleSince = MonotonicClock.now()
            use.wasUsed = true
            return false
        }
        if use.wasUsed {
            // One utimensat per busy-to-idle change: the state file's mtime is the last moment of use.
            if let statePath { _ = try? FileSystem.setTimes(statePath) }
            use.wasUsed = false
        }
        guard MonotonicClock.now() - use.idleSince >= idleTimeout else { return false }
        switch tryUnmount() {
        case .unmounted: return true
        case .lockBusy: return false
        case .inUse:
            use.idleSince = MonotonicClock.now()
            return false
        }
    }

    /// When the session's memory is given back (docs/lifecycle.md, "An idle server's memory"): once the start-up
    /// window is over and the plan has been read ahead, then again each time requests came and then stopped for
    /// `quietPeriod` seconds. Between requests an idle server holds little more than its heap: the trim drops the
    /// decompressed blocks, the allocator's free pages and the executable's pages the requests mapped.
    struct Trimming {
        /// Seconds without a request after which the memory the requests used is given back.
        static let quietPeriod = 5.0
        let started: Double
        /// When the last trim was made; nil before the first.
        private(set) var trimmedAt: Double?

        init(started: Double) { self.started = started }

        mutating func tick(_ activity: SessionActivity, now: Double) {
            guard let last = trimmedAt else {
                guard now - started >= UsageMonitor.startupWindow, activity.planDone else { return }
                log("start-up over", released: activity.trim())
                trimmedAt = now
                return
            }
            let quiet = activity.secondsSinceLastRequest
            // A request after the last trim, and none for the quiet period since.
            guard quiet.isFinite, now - quiet > last, quiet >= Self.quietPeriod else { return }
            log("no request for \(Int(quiet)) s", released: activity.trim())
            trimmedAt = now
        }

        /// At the end of a tick of a quiet session, after the first trim: unmaps the executable's pages the tick
        /// mapped back (the kernel maps 16 pages around each one a fault needs, so one walk over /proc maps
        /// megabytes of the Swift runtime).
        func settle(_ activity: SessionActivity) {
            guard trimmedAt != nil, activity.secondsSinceLastRequest >= Self.quietPeriod else { return }
            activity.releaseExecutablePagesAgain()
        }

        private func log(_ why: String, released: Int) {
            XarMount.Server.log("\(why): memory given back (\(released >> 10) KiB of the executable's mappings)")
        }
    }

    /// True while the pin file exists or a process uses the mount.
    private func isUsed() -> Bool {
        if FileSystem.exists(pinPath) { return true }
        lastUser = ProcScan.anyUser(of: mountPoint, checkingFirst: lastUser)
        return lastUser != nil
    }

    private enum Attempt { case unmounted, lockBusy, inUse }

    private func tryUnmount() -> Attempt {
        guard (try? lock.lock(.exclusive, timeout: 0)) == true else { return .lockBusy }
        if !isUsed() {
            do {
                try XarMount.MountTable.unmount(mountPoint, lazy: false)
                XarMount.Server.log("idle for \(idleTimeout) s: unmounted \(mountPoint)")
                return .unmounted
            } catch {
                XarMount.Server.log("not unmounting, still in use: \(error)")
            }
        }
        _ = try? lock.unlock()
        return .inUse
    }

    /// Sleeps `seconds` unless `stop()` is called first; returns true when it was.
    private func sleepOrStop(seconds: Double) -> Bool {
        wake.readEnd.waitUntilReadable(timeout: seconds)
    }
}
