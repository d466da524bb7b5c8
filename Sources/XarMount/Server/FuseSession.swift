internal import CXarFuse
internal import XarSystem
internal import struct SystemPackage.Errno

/// One image served over FUSE: libsquashfuse's state and the libfuse session, owned by exactly one value.
///
/// The only Swift file that sees `CXarFuse`. The session runs on the thread that calls `run()`; from any
/// other thread only `activity` may be used (it reads one atomic clock).
struct FuseSession: ~Copyable {
    private let server: OpaquePointer

    /// Opens the SquashFS image at `offset` in the open file `imageFD` and checks its superblock.
    /// `imagePath` only names the file in errors. The caller keeps `imageFD` open for the session's lifetime.
    /// The C server's knobs (`XAR_SERVER_TRACE`, `XAR_NO_OPEN`, `XAR_PREFETCH`, `XAR_SERVER_FAULT`) come from `settings`.
    init(imageFD: Int32, offset: UInt64, imagePath: String, settings: Settings) throws(XarMount.ServerError) {
        var error = [CChar](repeating: 0, count: 512)
        guard let server = xar_server_open(imageFD, offset, &error, error.count) else {
            throw .badImage(path: imagePath, reason: Self.text(error))
        }
        func configure(_ abortOnLookup: UnsafePointer<CChar>?) {
            var knobs = xar_server_settings(
                trace: settings.serverTrace ? 1 : 0, no_open: settings.noOpen ? 1 : 0,
                prefetch: settings.prefetch ? 1 : 0, abort_on_lookup: abortOnLookup)
            xar_server_configure(server, &knobs)
        }
        if let name = settings.abortOnLookup { name.withCString { configure($0) } } else { configure(nil) }
        self.server = server
    }

    /// Mounts on `mountPoint` with the `-o` option list `options`. `readyFD` then belongs to the session: it
    /// gets `ok\n` and is closed once the kernel's INIT is answered (inside `run()`).
    func mount(on mountPoint: String, options: String, readyFD: Int32) throws(XarMount.ServerError) {
        var error = [CChar](repeating: 0, count: 512)
        guard xar_server_mount(server, mountPoint, options, readyFD, &error, error.count) == 0 else {
            throw .mountFailed(mountPoint: mountPoint, reason: Self.text(error))
        }
    }

    /// Why a start-up plan was not taken.
    enum PlanRefusal: Error {
        case notAPlan
        case otherImage
    }

    /// Makes `record` (a start-up record of an earlier server of this image) the plan the read-ahead thread follows
    /// from the start. Call before `mount`. Nothing changes when it throws.
    func setStartupPlan(_ record: [UInt8]) throws(PlanRefusal) {
        let result = record.withUnsafeBufferPointer { xar_server_set_startup_plan(server, $0.baseAddress, $0.count) }
        if result == -Errno.staleNFSFileHandle.rawValue { throw .otherImage }
        if result != 0 { throw .notAPlan }
    }

    /// The longest start-up record there can be: a longer file is no plan.
    static var startupPlanMaximumSize: Int { xar_startup_plan_max_bytes() }

    /// Makes a plan from the image's list of start-up files at `list` (a path in the image), before mounting;
    /// false when the image has none.
    func planFromImage(list: String) -> Bool { xar_server_plan_from_list(server, list) == 0 }

    /// The blocks the application read and the names it looked up in the first seconds after the mount was ready,
    /// in order: the plan for the next server of this image. Empty when nothing was read. Call after `run()`.
    func startupRecord() -> [UInt8] {
        let length = xar_server_startup_record(server, nil, 0)
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: length)
        let copied = bytes.withUnsafeMutableBufferPointer {
            xar_server_startup_record(server, $0.baseAddress, $0.count)
        }
        return copied == length ? bytes : []
    }

    /// Makes the decompressed start-up blocks an earlier server of this image saved (`file`, open for reading; the
    /// C session owns it from here on, and closes it when it throws) the first place blocks are read from. Call
    /// before `mount`.
    func useSavedBlocks(_ file: consuming FileDescriptor) throws(PlanRefusal) {
        let result = xar_server_use_saved_blocks(server, file.release())
        if result == -Errno.staleNFSFileHandle.rawValue { throw .otherImage }
        if result != 0 { throw .notAPlan }
    }

    /// True when the saved blocks in use are exactly those of this session's start-up record: writing them again
    /// would give the same file. Call after `run()`.
    var savedBlocksAreCurrent: Bool { xar_server_saved_blocks_current(server) != 0 }

    /// Writes the start-up record's blocks, decompressed, to `fd` (a new, empty file), up to `maxBytes` of block
    /// data. Returns 0 or an `errno` value (`ENODATA`: nothing was recorded). Call after `run()`.
    func saveBlocks(to fd: Int32, maxBytes: Int) -> Int32 { -xar_server_save_blocks(server, fd, maxBytes) }

    /// Serves requests until the mount goes away (unmounted by the usage monitor or by someone else) or a
    /// SIGTERM, SIGINT or SIGHUP arrives. Returns libfuse's result (0, or a negative errno).
    func run() -> Int32 { xar_server_run(server) }

    /// True once readiness was reported (the kernel's INIT was answered).
    var isReady: Bool { xar_server_is_ready(server) != 0 }

    /// A view of the request clock that the helper threads may hold.
    var activity: SessionActivity { SessionActivity(server: server) }

    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Unmounts (lazily) if the mount is still there, after `run()`: what the session recorded stays readable.
    func unmount() { xar_server_unmount(server) }

    /// Unmounts (lazily, if the mount is still there), ends the session and frees libsquashfuse's state.
    consuming func close() {}

    deinit { xar_server_close(server) }
}

/// Reads the time of a session's last request, from any thread.
///
/// Valid while its `FuseSession` lives; the server joins the monitor thread before the session ends.
struct SessionActivity: @unchecked Sendable {
    fileprivate let server: OpaquePointer

    /// Seconds since the last request that may read the image (lookup, readdir, read); infinity before the first.
    var secondsSinceLastRequest: Double {
        let last = xar_server_last_request_ns(server)
        if last == 0 { return .infinity }
        return Double(MonotonicClock.nanoseconds() - last) / 1e9
    }

    /// True once the start-up plan has been read ahead (or there is none): the launch has what it needs.
    var planDone: Bool { xar_server_plan_done(server) != 0 }

    /// Reads every block through the local copy from now on (`xar_server_read_through`); false when out of memory.
    func readThrough(source: Int32, copy: Int32, copiedEnd: UInt64, tailStart: UInt64) -> Bool {
        xar_server_read_through(server, source, copy, copiedEnd, tailStart) == 0
    }

    /// The local copy holds the file's bytes before `end`.
    func copied(upTo end: UInt64) { xar_server_copied(server, end) }

    /// Gives the calling thread the idle I/O class and the lowest CPU priority (`xar_thread_lower_priority`).
    func lowerThreadPriority() { xar_thread_lower_priority() }

    /// Returns the memory an idle server does not need (`xar_server_trim`); the size of the executable's mappings
    /// whose pages it unmapped.
    @discardableResult
    func trim() -> Int { xar_server_trim(server) }

    /// Unmaps again the executable's pages the last `trim()` unmapped, which code run since mapped back
    /// (`xar_release_file_pages_again`).
    func releaseExecutablePagesAgain() { xar_release_file_pages_again() }
}

extension XarMount.Server {
    /// The version of libfuse3 linked into this binary (e.g. 314), for diagnostics.
    public static var fuseLibraryVersion: Int { Int(xar_fuse_library_version()) }

    /// Detaches the process (fork, `setsid`, stdio to /dev/null, stderr to `stderrFD`, other descriptors
    /// closed except `keep`, renamed `name`). Returns in the child only; the parent exits 0.
    static func detach(name: String, stderrFD: Int32, keeping keep: [Int32]) throws(XarMount.ServerError) {
        let result = keep.withUnsafeBufferPointer { xar_detach(name, stderrFD, $0.baseAddress, Int32($0.count)) }
        if result < 0 {
            throw .system("cannot start the server process", reason: Errno(rawValue: -result).description)
        }
    }
}
