import Glibc
import Testing
import XarMount
import XarSystem
import XarTestSupport

/// The FUSE server end to end: real images, real mounts, the built `xarexec` running as `xarfs`.
@Suite(
    .serialized, .tags(.fuse, .root),
    .enabled(if: TestEnvironment.isRoot && TestEnvironment.hasFuse && TestEnvironment.hasTool("mksquashfs")))
struct ServerTests {
    @Test func serverMountsReadOnlyAndServesTheImage() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line == "ok", "\(harness.log)")
        #expect(start.status == 0)

        let mount = harness.mountPoint
        #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
        #expect(
            try Process.run(["cmp", "\(mount)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"], timeout: 30)
                .status == 0)
        #expect(try Process.run(["readlink", "\(mount)/link"], timeout: 10).stdout == "hello.txt\n")
        #expect(try Process.run(["\(mount)/run.sh"], timeout: 10).stdout == "run\n")
        #expect(try Process.run(["ls", mount], timeout: 10).stdout == "hello.txt\nlib\nlink\nrun.sh\n")
        #expect(try Process.run(["touch", "\(mount)/new"], timeout: 10).status != 0)

        let line = try #require(harness.mountsLine)
        let fields = line.split(separator: " ")
        #expect(fields[0] == "xarfs:\(harness.imagePath)")
        #expect(fields[2] == "fuse.xarfs")
        let options = Set(fields[3].split(separator: ","))
        #expect(options.isSuperset(of: ["ro", "nosuid", "nodev", "default_permissions"]))

        let state = try #require(XarMount.ServerState.read(from: harness.statePath))
        #expect(state.imagePath == harness.imagePath)
        #expect(state.mountPoint == harness.mountPoint)
        #expect(state.uuid == "ab00000000000000")
        #expect(state.readSource == "source")
        let status = try #require(ProcessStatus.read(pid: state.pid))
        #expect(status.name == "xarfs")
        let commandLine = ServerHarness.contents("/proc/\(state.pid)/cmdline").split(separator: "\0")
        #expect(commandLine.prefix(2).map(String.init) == [harness.directory("xarfs"), harness.imagePath])
        #expect(
            try Process.run(["ps", "-o", "args=", "-p", "\(state.pid)"], timeout: 10).stdout.contains(
                "xarfs \(harness.imagePath)"))
    }

    @Test func serverStopsOnSigtermAndCleansUp() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        let pid = try #require(harness.serverPID)
        kill(pid, SIGTERM)
        #expect(harness.wait(seconds: 10) { ServerHarness.isGone(pid) }, "\(harness.log)")
        #expect(!harness.isMounted)
        #expect(access(harness.statePath, F_OK) != 0)
        #expect(access(harness.mountPoint, F_OK) != 0)
    }

    @Test func serverExitsAndCleansUpWhenSomeoneElseUnmounts() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        let pid = try #require(harness.serverPID)
        try XarMount.MountTable.unmount(harness.mountPoint, lazy: false)
        // The kernel ends the connection, the loop's read fails with ENODEV, the server cleans up and exits.
        #expect(harness.wait(seconds: 10) { ServerHarness.isGone(pid) }, "\(harness.log)")
        #expect(access(harness.statePath, F_OK) != 0)
        #expect(access(harness.mountPoint, F_OK) != 0)
    }

    @Test func serverUnmountsAfterTheIdleTimeout() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 1).line == "ok")
        let pid = try #require(harness.serverPID)
        #expect(ServerHarness.contents("\(harness.mountPoint)/hello.txt") == "hello from the image\n")
        #expect(harness.wait(seconds: 8) { !harness.isMounted }, "\(harness.log)")
        #expect(harness.wait(seconds: 10) { ServerHarness.isGone(pid) })
        #expect(access(harness.statePath, F_OK) != 0)
        #expect(access(harness.mountPoint, F_OK) != 0)
    }

    @Test func serverKeepsTheMountWhileAProcessHasItsWorkingDirectoryInside() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        // The pin file (`xarctl mount --pin`) holds the mount while the test sets up, however slowly it is
        // scheduled; once the user is in place it goes, and the user alone must keep the mount.
        let pin = harness.mountPoint + ".pin"
        try Process.shell("touch '\(pin)'", timeout: 10)
        let idleTimeout = 1.0
        #expect(try harness.start(idleTimeout: idleTimeout).line == "ok")
        // The shell leaves at once; `sleep` keeps only its working directory in the mount (no open file), until
        // the test ends it.
        let spawn = try Process.shell(
            "cd '\(harness.mountPoint)/lib' && (exec sleep 60 </dev/null >/dev/null 2>&1 & echo $!)", timeout: 10)
        #expect(spawn.status == 0, "\(spawn)")
        let user = try #require(Int32(spawn.stdout.filter(\.isNumber)), "\(spawn)")
        defer { kill(user, SIGKILL) }
        unlink(pin)
        #expect(harness.staysMounted(idleTimeout: idleTimeout), "\(harness.log)")
        kill(user, SIGKILL)
        #expect(harness.wait(seconds: 8) { !harness.isMounted }, "\(harness.log)")
    }

    @Test func serverKeepsTheMountWhileAFileIsOpenOrMapped() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let pin = harness.mountPoint + ".pin"
        try Process.shell("touch '\(pin)'", timeout: 10)
        let idleTimeout = 1.0
        #expect(try harness.start(idleTimeout: idleTimeout).line == "ok")
        let path = "\(harness.mountPoint)/lib/pkg/data.bin"

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        unlink(pin)
        #expect(harness.staysMounted(idleTimeout: idleTimeout), "an open file must keep the mount: \(harness.log)")

        let mapping = mmap(nil, 4096, PROT_READ, MAP_PRIVATE, fd, 0)
        try #require(mapping != MAP_FAILED)
        close(fd)
        #expect(harness.staysMounted(idleTimeout: idleTimeout), "a mapping must keep the mount: \(harness.log)")
        #expect(mapping!.load(as: UInt8.self) == ServerHarness.firstByte("\(harness.tree)/lib/pkg/data.bin"))

        munmap(mapping, 4096)
        #expect(harness.wait(seconds: 8) { !harness.isMounted }, "\(harness.log)")
    }

    @Test func killedServerLeavesADeadMountThatCanBeRemoved() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        let pid = try #require(harness.serverPID)
        #expect(!XarMount.MountTable.isDead(harness.mountPoint))
        kill(pid, SIGKILL)
        #expect(harness.wait(seconds: 10) { ServerHarness.isGone(pid) })
        #expect(XarMount.MountTable.isDead(harness.mountPoint))
        try XarMount.MountTable.removeDeadMount(harness.mountPoint)
        #expect(!harness.isMounted)
        #expect(!XarMount.MountTable.isDead(harness.mountPoint))
    }

    @Test func stoppedServerShowsAsStopped() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        let pid = try #require(harness.serverPID)
        #expect(ProcessStatus.read(pid: pid)?.isResponsive == true)
        kill(pid, SIGSTOP)
        #expect(harness.wait(seconds: 5) { ProcessStatus.read(pid: pid)?.state == .stopped })
        #expect(ProcessStatus.read(pid: pid)?.isResponsive == false)
        kill(pid, SIGCONT)
        #expect(harness.wait(seconds: 5) { ProcessStatus.read(pid: pid)?.isResponsive == true })
    }

    @Test(.enabled(if: TestEnvironment.hasTool("setpriv") && TestEnvironment.hasTool("fusermount3")))
    func serverMountsAndUnmountsAsAnUnprivilegedUserThroughFusermount() throws {
        // Debian leaves /dev/fuse at 0600 in some images; distributions normally ship it 0666.
        var device = stat()
        stat("/dev/fuse", &device)
        if device.st_mode & 0o006 != 0o006 { chmod("/dev/fuse", 0o666) }
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let user: UInt32 = 65534
        let start = try harness.start(idleTimeout: 2, user: user)
        #expect(start.line == "ok", "\(harness.log)")
        #expect(harness.mountsLine?.contains("user_id=\(user)") == true, "\(harness.mountsLine ?? "not mounted")")
        let asUser = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups", "--"]
        let read = try Process.run(asUser + ["cat", "\(harness.mountPoint)/hello.txt"], timeout: 10)
        #expect(read.stdout == "hello from the image\n", "\(read)")
        #expect(harness.wait(seconds: 10) { !harness.isMounted }, "\(harness.log)")
        // The server removes its state file right after the unmount, on its way out.
        #expect(harness.wait(seconds: 5) { access(harness.statePath, F_OK) != 0 })
    }

    /// Ways to damage an image, and a word the error line must contain.
    static let damages: [(name: String, command: String, expected: String)] = [
        (
            "flipped magic", "printf 'XXXX' | dd of=IMAGE bs=1 seek=4096 conv=notrunc status=none",
            "not a SquashFS image"
        ),
        (
            "flipped block size", "printf '\\377\\377' | dd of=IMAGE bs=1 seek=4110 conv=notrunc status=none",
            "block size"
        ),
        (
            "flipped table start",
            "printf '\\377\\377\\377\\177' | dd of=IMAGE bs=1 seek=4148 conv=notrunc status=none", "corrupt"
        ),
        ("truncated", "truncate -s 60000 IMAGE", "truncated"),
        ("header only", "truncate -s 4096 IMAGE", "truncated"),
    ]

    @Test(arguments: damages.indices)
    func damagedImageIsReportedOnTheReadinessPipe(_ index: Int) throws {
        let damage = Self.damages[index]
        let harness = try ServerHarness { image throws in
            let command = damage.command.replacing("IMAGE", with: "'\(image)'")
            let result = try Process.shell(command, timeout: 10)
            if result.status != 0 { throw HarnessError("cannot damage the image: \(result)") }
        }
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line.hasPrefix("error: cannot serve \(harness.imagePath): "), "\(damage.name)")
        #expect(start.line.contains(damage.expected), "\(damage.name): \(start.line)")
        #expect(start.status == 65)
        #expect(!harness.isMounted)
    }

    @Test func badCommandLineIsReportedOnTheReadinessPipe() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let start = try harness.start(idleTimeout: 0, extraArguments: [harness.imagePath, "--ready-fd", "4"])
        #expect(start.line.hasPrefix("error: usage: option"))
        #expect(start.status == 64)
    }

    @Test func failureAfterMountingIsReportedAndLeavesNoMount() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let unwritable = harness.directory("missing/mnt.state")
        let configuration = XarMount.Server.Configuration(
            imagePath: harness.imagePath, imageFD: 3, offset: 4096, mountPoint: harness.mountPoint,
            lockPath: harness.lockPath, statePath: unwritable, idleTimeout: 0, readyFD: 4)
        let start = try harness.start(idleTimeout: 0, extraArguments: configuration.arguments)
        #expect(start.line.hasPrefix("error: cannot write the state file \(unwritable)"), "\(start.line)")
        #expect(harness.wait(seconds: 5) { !harness.isMounted })
    }

    @Test func missingMountPointIsReportedOnTheReadinessPipe() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        rmdir(harness.mountPoint)
        let start = try harness.start(idleTimeout: 0)
        #expect(start.line.hasPrefix("error: cannot mount on \(harness.mountPoint): "), "\(start.line)")
        #expect(!harness.isMounted)
    }
}

extension ServerHarness {
    /// The first byte of a file on local disk.
    static func firstByte(_ path: String) -> UInt8 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var byte: UInt8 = 0
        _ = read(fd, &byte, 1)
        return byte
    }

    /// True when `pid` has exited (a zombie that nobody reaped yet counts as exited).
    static func isGone(_ pid: Int32) -> Bool {
        guard let status = ProcessStatus.read(pid: pid) else { return true }
        return status.state == .dead
    }
}
