import Glibc
import Testing
import XarMount
import XarSystem
import XarTestSupport

/// The server's command line: the launcher renders it, the server parses it back.
@Suite struct ServerConfigurationTests {
    @Test func argumentsParseBackToTheSameConfiguration() throws {
        let configuration = XarMount.Server.Configuration(
            imagePath: "/srv/tools/app.xar", imageFD: 7, offset: 4096, mountPoint: "/dev/shm/uid-1/abc-ns-4026531841",
            lockPath: "/dev/shm/uid-1/abc-ns-4026531841.lock", statePath: "/dev/shm/uid-1/abc-ns-4026531841.state",
            idleTimeout: 300, readyFD: 9, digest: String(repeating: "f", count: 64), uuid: "ffffffffffffffff")
        #expect(configuration.arguments.first == "/srv/tools/app.xar")
        #expect(try XarMount.Server.Configuration(parsing: configuration.arguments) == configuration)
        var fractional = configuration
        fractional.idleTimeout = 0.5
        fractional.digest = nil
        fractional.localCopy = .always
        fractional.cacheDirectory = "/var/cache/xar images"
        #expect(try XarMount.Server.Configuration(parsing: fractional.arguments) == fractional)
    }

    @Test(arguments: [
        (
            [
                "/a.xar", "--image-fd", "3", "--offset", "1", "--mountpoint", "/m", "--lock", "/l", "--state", "/s",
                "--idle-timeout", "1", "--ready-fd", "4", "--local-copy", "sometimes",
            ], "always, never or network"
        ),
        ([], "image path"),
        (["--image-fd", "3"], "image path"),
        (["/a.xar", "--image-fd"], "needs a value"),
        (["/a.xar", "--bogus", "1"], "unknown option --bogus"),
        (["/a.xar", "--image-fd", "x"], "missing"),
        (
            [
                "/a.xar", "--image-fd", "x", "--offset", "1", "--mountpoint", "/m", "--lock", "/l", "--state", "/s",
                "--idle-timeout", "1", "--ready-fd", "4",
            ], "wants a number, not x"
        ),
        (
            [
                "/a.xar", "--image-fd", "3", "--offset", "1", "--mountpoint", "/m", "--lock", "/l", "--state", "/s",
                "--idle-timeout", "-1", "--ready-fd", "4",
            ], "wants seconds"
        ),
    ])
    func badCommandLinesAreUsageErrors(arguments: [String], expected: String) {
        #expect {
            _ = try XarMount.Server.Configuration(parsing: arguments)
        } throws: { error in
            guard let error = error as? XarMount.ServerError, case .usage = error else { return false }
            return "\(error)".contains(expected) && error.exitStatus == 64
        }
    }
}

/// The state file: written atomically, read by the launcher and `xarctl`.
@Suite struct ServerStateTests {
    @Test func stateFileRoundTripsThroughTheDisk() throws {
        let directory = TemporaryDirectory()
        let state = XarMount.ServerState(
            pid: 1234, imagePath: "/srv/a b/app.xar", uuid: "0123456789abcdef",
            digest: String(repeating: "a", count: 64),
            mountPoint: "/dev/shm/uid-0/x-ns-1", started: 1_700_000_000, idleTimeout: 1.5, lockPath: "/dev/shm/l",
            readSource: "copying 42%", copyPath: "/dev/shm/uid-0/images/\(String(repeating: "a", count: 64)).xar",
            device: 0x1_0000_002A)
        try state.write(to: directory("state"))
        #expect(XarMount.ServerState.read(from: directory("state")) == state)
        #expect(access(directory("state.tmp.\(getpid())"), F_OK) != 0)
        #expect(ServerHarness.contents(directory("state")).hasPrefix("pid=1234\nimage=/srv/a b/app.xar\n"))
    }

    @Test func unknownKeysAreIgnoredAndMissingPidIsRejected() {
        let text = "pid=5\nmountpoint=/m\nfuture_key=1\nsource=local copy\n"
        #expect(XarMount.ServerState(parsing: text)?.readSource == "local copy")
        #expect(XarMount.ServerState(parsing: text)?.device == 0, "a state without dev (an older server)")
        #expect(XarMount.ServerState(parsing: "mountpoint=/m\n") == nil)
        #expect(XarMount.ServerState.read(from: "/nonexistent/state") == nil)
    }
}

/// Which file systems count as network-like for the local copy.
@Suite struct ServerFileSystemTypeTests {
    @Test func networkTypesIncludeNFSAndFUSEButNotLocalDisks() {
        #expect(FileSystemType(rawValue: 0x6969).isNetwork())
        #expect(FileSystemType.fuse.isNetwork())
        #expect(!FileSystemType(rawValue: 0xEF53).isNetwork())  // ext4
        #expect(FileSystemType(rawValue: 0xEF53).isNetwork(extra: "0x1234,ef53"))
        #expect(FileSystemType(rawValue: 0x6969).name == "nfs")
    }

    @Test func typeOfADescriptorOnTmpfsIsNotNetwork() throws {
        let fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let type = try FileSystemType.of(descriptor: fd).get()
        #expect(type.rawValue == 0x0102_1994)  // TMPFS_MAGIC
        #expect(!type.isNetwork())
    }
}

/// `/proc` readers in `XarSystem` that the server, the launcher and `xarctl` share.
@Suite struct ServerProcTests {
    @Test func processStatusParsesNamesWithSpacesAndParentheses() {
        let status = ProcessStatus.parse(Array("42 (a (b) c) T 1 42 42 0 -1".utf8))
        #expect(status == ProcessStatus(pid: 42, name: "a (b) c", state: .stopped))
        #expect(ProcessStatus.parse(Array("7 (xarfs) S 1".utf8))?.isResponsive == true)
        #expect(ProcessStatus.parse(Array("garbage".utf8)) == nil)
    }

    @Test func processStatusSeesAStoppedProcess() throws {
        let directory = TemporaryDirectory()
        try Process.shell("(exec sleep 30 </dev/null >/dev/null 2>&1 & echo $! > '\(directory("pid"))')", timeout: 10)
        let pid = try #require(Int32(ServerHarness.contents(directory("pid")).split(separator: "\n").first ?? ""))
        defer { kill(pid, SIGKILL) }
        #expect(ProcessStatus.read(pid: pid)?.name == "sleep")
        kill(pid, SIGSTOP)
        var stopped = false
        for _ in 0..<100 where !stopped {
            stopped = ProcessStatus.read(pid: pid)?.state == .stopped
            usleep(20_000)
        }
        #expect(stopped)
        #expect(ProcessStatus.read(pid: getpid())?.isResponsive == true)
        #expect(ProcessStatus.read(pid: Int32.max) == nil)
    }

    @Test func procScanFindsWorkingDirectoriesOpenFilesAndMappings() throws {
        let directory = TemporaryDirectory()
        try Process.shell(
            """
            mkdir -p '\(directory("tree/sub"))' && cp /bin/sleep '\(directory("tree/sleep"))'
            cd '\(directory("tree/sub"))' && (exec sleep 30 </dev/null >/dev/null 2>&1 & echo $! > '\(directory("cwd.pid"))')
            cd / && ('\(directory("tree/sleep"))' 30 </dev/null >/dev/null 2>&1 & echo $! > '\(directory("exe.pid"))')
            """, timeout: 10)
        let cwdPID = try #require(
            Int32(ServerHarness.contents(directory("cwd.pid")).split(separator: "\n").first ?? ""))
        let exePID = try #require(
            Int32(ServerHarness.contents(directory("exe.pid")).split(separator: "\n").first ?? ""))
        defer {
            kill(cwdPID, SIGKILL)
            kill(exePID, SIGKILL)
        }
        waitUntilExecuted(cwdPID, "sleep")
        waitUntilExecuted(exePID, "sleep")
        let resolved = try #require(realpath(directory("tree"), nil))
        let tree = String(cString: resolved)
        free(resolved)
        #expect(ProcScan.anyUser(of: tree) != nil)
        #expect(ProcScan.anyUser(of: String(tree.dropLast())) == nil)
        #expect(ProcScan.anyUser(of: tree, checkingFirst: exePID) == exePID)
        let users = ProcScan.users(of: tree)
        #expect(users.first { $0.pid == cwdPID }?.uses == [.workingDirectory])
        #expect(users.first { $0.pid == exePID }?.uses.contains(.mappedFile) == true)
        kill(cwdPID, SIGKILL)
        var gone = false
        for _ in 0..<100 where !gone {
            gone = ProcessStatus.read(pid: cwdPID).map { $0.state == .dead } ?? true
            usleep(20_000)
        }
        #expect(!ProcScan.users(of: tree).contains { $0.pid == cwdPID && $0.uses.contains(.workingDirectory) })
    }

    /// The server's check (`anyUser`) finds each kind of use on its own: a working directory, an executable, an
    /// open descriptor, a mapping whose file was closed; and nothing once the user is gone.
    @Test func procScanFindsEachKindOfUseAlone() throws {
        let directory = TemporaryDirectory()
        try Process.shell(
            "mkdir -p '\(directory("tree/sub"))' && cp /bin/sleep '\(directory("tree/sleep"))' "
                + "&& head -c 8192 /dev/zero > '\(directory("tree/data"))'", timeout: 10)
        let resolved = try #require(realpath(directory("tree"), nil))
        let tree = String(cString: resolved)
        free(resolved)
        let mapOnly =
            "import mmap, time; f = open('\(tree)/data', 'rb'); "
            + "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); f.close(); print('ready', flush=True); time.sleep(30)"
        let users: [(String, String)] = [
            ("cwd", "cd '\(tree)/sub' && exec sleep 30"),
            ("exe", "cd / && exec '\(tree)/sleep' 30"),
            ("fd", "cd / && exec sleep 30 < '\(tree)/data'"),
            ("mmap", "cd / && exec python3 -c \"\(mapOnly)\""),
        ]
        for (kind, command) in users {
            let pidFile = directory("\(kind).pid")
            try Process.shell(
                "(\(command)) > '\(directory("\(kind).out"))' 2>&1 </dev/null & echo $! > '\(pidFile)'", timeout: 10)
            let pid = try #require(Int32(ServerHarness.contents(pidFile).split(separator: "\n").first ?? ""))
            defer { kill(pid, SIGKILL) }
            // `$!` is the subshell: until it has exec'd, its directory, executable and descriptors are the shell's.
            if kind == "mmap" {
                for _ in 0..<500 where !ServerHarness.contents(directory("mmap.out")).hasPrefix("ready") {
                    usleep(20_000)
                }
            } else {
                waitUntilExecuted(pid, "sleep")
            }
            #expect(ProcScan.anyUser(of: tree) == pid, "\(kind)")
            kill(pid, SIGKILL)
            var gone = false
            for _ in 0..<250 where !gone {
                gone = ProcessStatus.read(pid: pid).map { $0.state == .dead } ?? true
                usleep(20_000)
            }
            #expect(ProcScan.anyUser(of: tree, checkingFirst: pid) == nil, "\(kind)")
        }
    }

    /// Waits (up to 5 s) until `pid`, started by `(...) &` in a shell, has executed `command`: before that it is the
    /// subshell, whose directory, executable and descriptors are not yet the ones the test set up.
    private func waitUntilExecuted(_ pid: Int32, _ command: String) {
        for _ in 0..<500 where ServerHarness.contents("/proc/\(pid)/comm") != command + "\n" {
            usleep(10_000)
        }
    }
}
