import Glibc
import Testing
import XarMount
import XarTestSupport

/// What the kernel may keep without asking the server again, counted from the server's request trace
/// (`XAR_SERVER_TRACE=1` writes one log line per request that reaches it).
///
/// Recent kernels (6.18 here) keep a plain ENOENT as a negative dentry too; older ones ask again after ENOENT,
/// and there only the server's negative entries (inode 0, infinite timeout) keep the count at one.
extension ServerTests {
    @Test func missingNamesAreCachedAsNegativeEntries() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(harness.log)")

        let mount = harness.mountPoint
        // What Python's import system does for every package: probe extension-module names that are not there.
        for _ in 0..<5 {
            #expect(statErrno("\(mount)/lib/pkg/__init__.abi3.so") == ENOENT)
            #expect(statErrno("\(mount)/missing") == ENOENT)
            #expect(statErrno("\(mount)/hello.txt") == 0)
        }
        // Still answered right after the negative entries are in place.
        #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
        // A name under a regular file is not a negative entry: the server still says ENOTDIR.
        #expect(statErrno("\(mount)/hello.txt/x") == ENOTDIR)

        let lookups = harness.requests("lookup")
        let probe = lookups.filter { $0.hasSuffix(" __init__.abi3.so: negative") }
        let missing = lookups.filter { $0.hasSuffix(" missing: negative") }
        let present = lookups.filter { $0.hasSuffix(" hello.txt") }
        #expect(probe.count == 1, "\(lookups)")
        #expect(missing.count == 1, "\(lookups)")
        #expect(present.count == 1, "\(lookups)")
    }

    /// "No open" mode: the server answers the first open and opendir with ENOSYS, after which the kernel sends
    /// neither again (nor release), keeps file data and directory listings cached, and reads and readdirs work
    /// without a handle.
    @Test func opensAndListingsCostNoRoundTrips() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(harness.log)")

        let mount = harness.mountPoint
        var listings: [[String]] = []
        for _ in 0..<5 {
            #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
            #expect(byteCount("\(mount)/lib/pkg/data.bin") == 1_000_000)
            listings.append(names(in: "\(mount)/lib/pkg"))
        }
        #expect(listings.allSatisfy { $0 == ["data.bin"] }, "\(listings)")

        let requests = harness.requests()
        let opens = requests.filter { $0.hasPrefix("request open ") }
        let opendirs = requests.filter { $0.hasPrefix("request opendir ") }
        #expect(opens.count == 1 && opens.allSatisfy { $0.hasSuffix(": ENOSYS") }, "\(opens)")
        #expect(opendirs.count <= 1 && opendirs.allSatisfy { $0.hasSuffix(": ENOSYS") }, "\(opendirs)")
        #expect(!requests.contains { $0.hasPrefix("request release") }, "\(requests)")
        let readdirs = requests.filter { $0.hasPrefix("request readdir ") }
        #expect(readdirs.count <= 2, "\(readdirs)")
        let reads = requests.filter { $0.hasPrefix("request read ") }
        // Each file's data is read once and later opens are served from the page cache: 1 MB in reads of up to
        // 128 KiB plus the small file; reading it again on every open would make this five times as many.
        #expect(reads.count >= 2 && reads.count <= 20, "\(reads)")
    }

    /// Kernels without "no open" support (before 4.19 / 5.1), as `XAR_NO_OPEN=0` makes the server behave: opens
    /// and listings reach the server and get libsquashfuse's handles, which release frees; reads still work.
    @Test func withoutNoOpenSupportFilesAndDirectoriesAreOpenedAndReleased() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1", "XAR_NO_OPEN": "0"])
        #expect(start.line == "ok", "\(harness.log)")
        let mount = harness.mountPoint
        for _ in 0..<3 {
            #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
            #expect(names(in: "\(mount)/lib/pkg") == ["data.bin"])
        }
        // The kernel sends release in the background after close: wait for the last one.
        let count = { (kind: String) in
            harness.requests(kind).count
        }
        _ = harness.wait(seconds: 5) { count("release") >= 3 && count("releasedir") >= 3 }
        let requests = harness.requests()
        let opens = requests.filter { $0.hasPrefix("request open ") }
        #expect(opens.count == 3 && !opens.contains { $0.hasSuffix("ENOSYS") }, "\(requests)")
        #expect(requests.filter { $0.hasPrefix("request release ") }.count == 3, "\(requests)")
        #expect(requests.filter { $0.hasPrefix("request opendir ") }.count == 3, "\(requests)")
        #expect(requests.filter { $0.hasPrefix("request releasedir ") }.count == 3, "\(requests)")
    }

    /// The one request the kernel never stops sending: every ioctl on a file of the mount reaches the server
    /// (CPython before 3.14 makes one, `isatty`, per file its `open()` opens). The server answers "not a
    /// terminal" and the trace counts each, as it does every `statfs`.
    @Test func everyIoctlReachesTheServerAndIsAnsweredNotATerminal() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(harness.log)")
        let fd = open("\(harness.mountPoint)/hello.txt", O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        for _ in 0..<3 {
            errno = 0
            #expect(isatty(fd) == 0)
            #expect(errno == ENOTTY)
        }
        var status = statvfs()
        #expect(fstatvfs(fd, &status) == 0)
        let requests = harness.requests()
        #expect(requests.filter { $0.hasPrefix("request ioctl ") }.count == 3, "\(requests)")
        #expect(requests.filter { $0.hasPrefix("request statfs ") }.count == 1, "\(requests)")
    }

    /// Read-ahead (prefetch.c): the first read of a multi-block file makes the server push the rest of it into
    /// the page cache, so later reads of the file send no request, and the data is the file's.
    @Test func firstReadOfAFilePrefetchesTheRestIntoThePageCache() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(harness.log)")
        let path = "\(harness.mountPoint)/lib/pkg/data.bin"
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        var first = [UInt8](repeating: 0, count: 4096)
        #expect(read(fd, &first, first.count) == 4096)
        close(fd)
        let reads = { harness.requests("read").count }
        // The page cache fills in the background; then a whole read finds everything there.
        var settled = false
        for _ in 0..<100 where !settled {
            usleep(20_000)
            settled = fileBytes(path) == fileBytes("\(harness.tree)/lib/pkg/data.bin")
        }
        #expect(settled)
        #expect(reads() <= 2, "\(harness.log)")
    }

    /// With `XAR_PREFETCH=0` the same reads all reach the server.
    @Test func prefetchCanBeTurnedOff() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(
            idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1", "XAR_PREFETCH": "0"])
        #expect(start.line == "ok", "\(harness.log)")
        let path = "\(harness.mountPoint)/lib/pkg/data.bin"
        #expect(same(path, "\(harness.tree)/lib/pkg/data.bin"))
        let reads = harness.requests("read").count
        #expect(reads >= 4, "\(harness.log)")
    }

    @Test func serverTracesNothingUnlessAsked() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line == "ok", "\(harness.log)")
        #expect(statErrno("\(harness.mountPoint)/missing") == ENOENT)
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        #expect(!harness.log.contains("request "), "\(harness.log)")
    }

    /// The number of bytes a `read` loop gets from `path`, or -1 when it cannot be opened.
    private func byteCount(_ path: String) -> Int {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while case let count = read(fd, &buffer, buffer.count), count > 0 { total += count }
        return total
    }

    /// The whole contents of `path` (empty when it cannot be opened).
    private func fileBytes(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let count = read(fd, &buffer, buffer.count), count > 0 { bytes += buffer[0..<count] }
        return bytes
    }

    /// The names in a directory, sorted, without `.` and `..`.
    private func names(in path: String) -> [String] {
        guard let stream = opendir(path) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// 0 when `stat` succeeds, else its errno.
    private func statErrno(_ path: String) -> Int32 {
        var info = stat()
        return stat(path, &info) == 0 ? 0 : errno
    }
}

/// The start-up plan (blocks.c, StartupPlan.swift): a server records which blocks were read after it became
/// ready and saves them next to the mount point when it ends; the next server of the same image follows them.
extension ServerTests {
    @Test func aServerSavesWhatWasReadAndTheNextOneFollowsIt() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let plan = harness.mountPoint + ".startup"
        let data = "\(harness.tree)/lib/pkg/data.bin"
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        #expect(same("\(harness.mountPoint)/lib/pkg/data.bin", data))
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        try stop(harness)
        let saved = fileBytes(plan)
        // "xarplan3", the image's 96-byte superblock, the number of pieces and 36 bytes per piece (data.bin's 8
        // blocks, hello.txt's tail), then the names looked up and the directories listed.
        #expect(saved.starts(with: Array("xarplan3".utf8)))
        let pieces = saved.count >= 108 ? Int(saved[104]) | Int(saved[105]) << 8 : 0
        #expect(pieces >= 9 && saved.count > 108 + 36 * pieces, "\(saved.count) bytes, \(pieces) pieces")
        for name in ["lib", "pkg", "data.bin", "hello.txt"] {
            #expect(contains(saved, name), "the plan does not name \(name)")
        }

        let second = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(second.line == "ok", "\(second.status) \(harness.log)")
        #expect(harness.log.contains("reading ahead from the start-up plan \(plan)"), "\(harness.log)")
        // The plan is followed as soon as the server starts: the names are looked up through the mount (nothing
        // else touches it yet), the blocks decompressed and stored in the page cache. Then the application's
        // lookups and reads find everything in the kernel's caches: not one reaches the server.
        let replayed = { (name: String) in
            harness.requests("lookup").contains { $0.hasSuffix(" \(name)") }
        }
        #expect(
            harness.wait(seconds: 10) { ["lib", "pkg", "data.bin", "hello.txt"].allSatisfy(replayed) }, "\(harness.log)"
        )
        #expect(harness.wait(seconds: 10) { resident("\(harness.mountPoint)/lib/pkg/data.bin") }, "\(harness.log)")
        #expect(harness.wait(seconds: 10) { resident("\(harness.mountPoint)/hello.txt") }, "\(harness.log)")
        let served = harness.log
        #expect(same("\(harness.mountPoint)/lib/pkg/data.bin", data))
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        let later = String(harness.log.dropFirst(served.count))
        #expect(!later.contains("request lookup") && !later.contains("request read"), "\(later)")
        try stop(harness)
        #expect(harness.log.contains("loaded (0 while a read waited"), "\(harness.log)")
        // A start that followed the plan records it again (its pieces went to the page cache without a request).
        #expect(fileBytes(plan).count == saved.count)
    }

    /// An image's first start (no saved plan) follows the image's own list of start-up files, as a later start
    /// follows its saved plan: names looked up and blocks stored before the application asks. A name the list
    /// has that the image has not is looked up (a negative entry) and costs nothing else. Consecutive paths share
    /// their directories' lookups (`lib/pkg` once for both of its names).
    @Test func aFirstStartFollowsTheImagesStartupList() throws {
        let harness = try ServerHarness(startupList: "lib/pkg/data.bin\nlib/pkg/absent.py\nhello.txt\nno/such/file\n")
        defer { harness.tearDown() }
        #expect(access(harness.mountPoint + ".startup", F_OK) != 0)
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"])
        #expect(start.line == "ok", "\(start.status) \(harness.log)")
        #expect(
            harness.log.contains("reading ahead from the image's start-up list /.xar/startup-files"), "\(harness.log)")
        #expect(harness.wait(seconds: 10) { resident("\(harness.mountPoint)/lib/pkg/data.bin") }, "\(harness.log)")
        #expect(harness.wait(seconds: 10) { resident("\(harness.mountPoint)/hello.txt") }, "\(harness.log)")
        let served = harness.log
        #expect(same("\(harness.mountPoint)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"))
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        let later = String(harness.log.dropFirst(served.count))
        #expect(!later.contains("request lookup") && !later.contains("request read"), "\(later)")
        #expect(served.contains("lookup 1 no: negative"), "\(served)")
        #expect(served.contains("absent.py: negative") && !served.contains("lookup 1 absent.py"), "\(served)")
        try stop(harness)
        #expect(harness.log.contains("loaded (0 while a read waited"), "\(harness.log)")
        // The start's own record is saved, and the next start follows it instead of the list.
        #expect(fileBytes(harness.mountPoint + ".startup").starts(with: Array("xarplan3".utf8)))
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        #expect(harness.log.contains("reading ahead from the start-up plan \(harness.mountPoint).startup"))
    }

    /// A plan made on another image (same name, other superblock) or a file that is no plan is ignored with a
    /// log line, and the mount serves the right bytes.
    @Test func aPlanFromAnotherImageOrDamagedIsIgnored() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let plan = harness.mountPoint + ".startup"
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        _ = fileBytes("\(harness.mountPoint)/lib/pkg/data.bin")
        try stop(harness)
        var other = fileBytes(plan)
        try #require(other.count > 8 + 96)
        other[8 + 40] ^= 0xff  // the superblock's bytes_used
        try write(other, to: plan)
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        #expect(harness.log.contains("ignoring \(plan): it was recorded on another image"), "\(harness.log)")
        #expect(same("\(harness.mountPoint)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"))
        try stop(harness)

        try write(Array("xarplan3 but then nothing that fits".utf8), to: plan)
        #expect(try harness.start(idleTimeout: 0, environment: ["XAR_STARTUP_PLAN": "0"]).line == "ok")
        #expect(!harness.log.contains("ignoring \(plan): not a start-up plan"), "\(harness.log)")
        try stop(harness)
        #expect(
            fileBytes(plan) == Array("xarplan3 but then nothing that fits".utf8), "XAR_STARTUP_PLAN=0 saves nothing")
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        #expect(harness.log.contains("ignoring \(plan): not a start-up plan"), "\(harness.log)")
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        try stop(harness)

        // Good pieces but damaged names (a name with a slash, which the replay must never append): all ignored.
        var names = fileBytes(plan)
        let slash = try #require(indexOf(names, "hello.txt"))
        names[slash + 5] = UInt8(ascii: "/")
        try write(names, to: plan)
        let before = harness.log.count
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        let log = String(harness.log.dropFirst(before))
        #expect(log.contains("ignoring \(plan): not a start-up plan"), "\(log)")
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
    }

    /// The blocks a start read are kept decompressed next to the plan (`.startup-blocks`); the next server reads
    /// them from there instead of decompressing, and rewrites the file only when the start needed other blocks. A
    /// damaged copy is decompressed from the image instead (the bytes served are the image's) and the file is
    /// replaced; one saved for another image is not used; `XAR_STARTUP_BLOCKS=0` neither reads nor writes one.
    @Test func theStartupBlocksAreKeptDecompressedAndCheckedBlockByBlock() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let blocks = harness.mountPoint + ".startup-blocks"
        let data = "\(harness.tree)/lib/pkg/data.bin"
        let readBoth = {
            #expect(self.same("\(harness.mountPoint)/lib/pkg/data.bin", data))
            #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        }
        #expect(try harness.start(idleTimeout: 0, environment: ["XAR_STARTUP_BLOCKS": "0"]).line == "ok")
        readBoth()
        try stop(harness)
        #expect(access(blocks, F_OK) != 0, "XAR_STARTUP_BLOCKS=0 saves none")

        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        readBoth()
        try stop(harness)
        let saved = fileBytes(blocks)
        // "xarblks1", the superblock, the count (data.bin's 8 blocks and hello.txt's fragment block), the index,
        // then the blocks: data.bin's million bytes and the fragment block.
        #expect(saved.starts(with: Array("xarblks1".utf8)))
        #expect(saved.count >= 112 && Int(saved[104]) == 9, "\(saved.prefix(112))")
        #expect(saved.count > 1_000_000, "\(saved.count)")
        let firstInode = try inode(blocks)

        var before = harness.log.count
        #expect(try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"]).line == "ok")
        readBoth()
        try stop(harness)
        var log = String(harness.log.dropFirst(before))
        #expect(log.contains("reading saved start-up blocks from \(blocks)"), "\(log)")
        #expect(log.contains("; 9 from saved copies, 0 damaged)"), "\(log)")
        #expect(try inode(blocks) == firstInode, "the same blocks were needed: the file is not rewritten")

        // The last byte of the last block flipped: that block is decompressed instead, and the file replaced.
        var damaged = saved
        damaged[damaged.count - 1] ^= 0x55
        try write(damaged, to: blocks)
        before = harness.log.count
        #expect(try harness.start(idleTimeout: 0, environment: ["XAR_SERVER_TRACE": "1"]).line == "ok")
        readBoth()
        try stop(harness)
        log = String(harness.log.dropFirst(before))
        #expect(log.contains("8 from saved copies, 1 damaged)"), "\(log)")
        #expect(try inode(blocks) != firstInode && fileBytes(blocks).count == saved.count, "rewritten whole")
        let secondInode = try inode(blocks)

        // Saved for another image (another superblock): not used, and replaced.
        var other = saved
        other[8 + 40] ^= 0xff
        try write(other, to: blocks)
        before = harness.log.count
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        readBoth()
        try stop(harness)
        log = String(harness.log.dropFirst(before))
        #expect(log.contains("ignoring \(blocks): it was saved for another image"), "\(log)")
        #expect(try inode(blocks) != secondInode && fileBytes(blocks).count == saved.count, "replaced")
    }

    private func inode(_ path: String) throws -> ino_t {
        var status = stat()
        try #require(lstat(path, &status) == 0)
        return status.st_ino
    }

    /// Whether every page of a file is in the page cache, by `mincore` over a mapping of it (which reads nothing).
    private func resident(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size > 0 else { return false }
        let size = Int(status.st_size)
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else { return false }
        defer { munmap(mapping, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var pages = [UInt8](repeating: 0, count: (size + page - 1) / page)
        return mincore(mapping, size, &pages) == 0 && pages.allSatisfy { $0 & 1 != 0 }
    }

    private func indexOf(_ bytes: [UInt8], _ text: String) -> Int? {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { bytes[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    private func contains(_ bytes: [UInt8], _ text: String) -> Bool { indexOf(bytes, text) != nil }

    /// Whether two files hold the same bytes (compared as a Bool: a failed `==` of two megabytes in `#expect`
    /// would make Swift Testing compute their difference for hours).
    private func same(_ a: String, _ b: String) -> Bool {
        let x = fileBytes(a), y = fileBytes(b)
        if x != y {
            print(
                "\(a): \(x.count) bytes, first difference at \(x.indices.first { $0 >= y.count || x[$0] != y[$0] } ?? -1)"
            )
        }
        return !x.isEmpty && x == y
    }

    /// Unmounts like `fusermount3 -u`, waits for the server to save its plan and exit, and makes the mount point
    /// again (the server removes it, as the launcher makes it).
    private func stop(_ harness: ServerHarness) throws {
        let pid = try #require(harness.serverPID)
        #expect(umount2(harness.mountPoint, 0) == 0, "umount: \(String(cString: strerror(errno)))")
        #expect(harness.wait(seconds: 10) { kill(pid, 0) != 0 }, "the server did not exit: \(harness.log)")
        mkdir(harness.mountPoint, 0o755)
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
    }
}
