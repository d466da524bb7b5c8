import Glibc
import struct SystemPackage.Errno
import Testing
import XarSystem
import XarTestSupport

/// XarSystem's calls relative to an open directory (what the extractor, the extraction cache and gc's pruners use
/// instead of libc), on real files: each is checked against what `lstat` and `readlink` see afterwards.
@Suite struct DirectoryDescriptorTests {
    @Test func noFollowRefusesASymlinkAndExclusiveRefusesAnythingThere() throws {
        let dir = TemporaryDirectory()
        #expect(symlink("/etc/passwd", dir("link")) == 0)
        let directory = try FileDescriptor.open(dir.path, .readOnly, options: .directory)
        #expect(throws: Errno.tooManySymbolicLinkLevels) {
            _ = try directory.open("link", .readOnly, options: .noFollow)
        }
        // O_EXCL refuses the dangling or not symlink itself, so a crafted link cannot redirect a new file.
        #expect(throws: Errno.fileExists) {
            _ = try directory.open("link", .writeOnly, options: [.create, .exclusive], permissions: 0o600)
        }
        #expect(throws: Errno.notDirectory) {
            _ = try FileDescriptor.open("/etc/passwd", .readOnly, options: .directory)
        }
    }

    @Test func entriesAreCreatedUnderTheirExactBytes() throws {
        let dir = TemporaryDirectory()
        let directory = try FileDescriptor.open(dir.path, .readOnly, options: .directory)
        let notUTF8: [UInt8] = [0x66, 0xff, 0x6f]
        try directory.createDirectory(notUTF8, permissions: 0o700)
        try directory.createSymbolicLink(Array("s".utf8), target: Array("target/x".utf8))
        try directory.createFIFO(Array("fifo".utf8), permissions: 0o600)
        _ = try directory.open(Array("f".utf8), .writeOnly, options: [.create, .exclusive], permissions: 0o600)
        try directory.createHardLink(Array("g".utf8), to: Array("f".utf8))
        #expect(throws: Errno.fileExists) { try directory.createDirectory("s", permissions: 0o700) }

        let names = try FileSystem.entryNames(dir.path)
        #expect(names.contains(notUTF8))
        #expect(try directory.status(of: "s").kind == .symbolicLink)
        #expect(try directory.status(of: "fifo").kind == .fifo)
        #expect(try directory.status(of: "f").linkCount == 2)
        #expect(try FileSystem.symbolicLinkTarget(dir("s")) == Array("target/x".utf8))
        #expect(try Set(directory.entryNames()).isSuperset(of: ["s", "fifo", "f", "g"]))
    }

    @Test func writesAtOffsetsLeaveHolesAndModesAndTimesAreExact() throws {
        let dir = TemporaryDirectory()
        let directory = try FileDescriptor.open(dir.path, .readOnly, options: .directory)
        let file = try directory.open("sparse", .writeOnly, options: [.create, .exclusive], permissions: 0o600)
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 3, alignment: 1)
        defer { bytes.deallocate() }
        bytes.copyBytes(from: Array("end".utf8))
        try file.write(UnsafeRawBufferPointer(bytes), at: 8 << 20)
        try file.truncate(to: 16 << 20)
        try file.setPermissions(0o4755)
        try file.setTimes(seconds: 1_000_000_000)
        let status = try file.fileStatus()
        #expect(status.size == 16 << 20)
        #expect(status.allocatedBytes < 1 << 20, "the 16 MB file must be mostly holes")
        #expect(status.permissions == 0o4755)
        #expect(status.modificationTime == 1_000_000_000)

        // A symbolic link's own time changes, never its target's.
        try directory.createSymbolicLink(Array("link".utf8), target: Array("sparse".utf8))
        try directory.setTimes(of: Array("link".utf8), seconds: 2_000_000_000)
        #expect(try directory.status(of: "link").modificationTime == 2_000_000_000)
        #expect(try directory.status(of: "sparse").modificationTime == 1_000_000_000)
        try directory.setPermissions(of: Array("sparse".utf8), 0o640)
        #expect(try FileSystem.fileStatus(dir("sparse")).permissions == 0o640)
    }

    @Test func renameAndRemoveStayInTheDirectory() throws {
        let dir = TemporaryDirectory()
        let directory = try FileDescriptor.open(dir.path, .readOnly, options: .directory)
        try directory.createDirectory("a", permissions: 0o700)
        try directory.createDirectory("b", permissions: 0o700)
        _ = try directory.open("f", .writeOnly, options: .create, permissions: 0o600)
        try directory.rename("a", to: "b")  // an empty directory is replaced
        #expect(throws: Errno.noSuchFileOrDirectory) { _ = try directory.status(of: "a") }
        try directory.createDirectory("c", permissions: 0o700)
        _ = try directory.open("c/inside", .writeOnly, options: .create, permissions: 0o600)
        #expect(throws: Errno.directoryNotEmpty) { try directory.rename("b", to: "c") }
        #expect(throws: Errno.isDirectory) { try directory.removeFile("b") }
        try directory.removeFile("f")
        #expect(!FileSystem.exists(dir("f")))
    }

    @Test func pathCallsLinkAndMakeTemporaryDirectories() throws {
        let dir = TemporaryDirectory()
        try SmallFile.replace(dir("one"), with: Array("x".utf8))
        try FileSystem.createHardLink(dir("two"), to: dir("one"))
        #expect(try FileSystem.fileStatus(dir("two")).linkCount == 2)
        #expect(throws: SystemError.self) { try FileSystem.createHardLink(dir("two"), to: dir("one")) }
        let temporary = try FileSystem.createTemporaryDirectory(prefix: dir(".t-"))
        #expect(temporary.hasPrefix(dir(".t-")) && temporary.count == dir(".t-").count + 6)
        let status = try FileSystem.fileStatus(temporary)
        #expect(status.kind == .directory && status.permissions == 0o700)
        #expect(symlink("missing", dir("dangling")) == 0)
        #expect(!FileSystem.exists(dir("dangling")))
        #expect(FileSystem.exists(dir("dangling"), followSymlinks: false))
    }

    @Test func processesAndSpawnedPrograms() throws {
        #expect(Processes.currentID == getpid())
        #expect(Processes.effectiveUserID == geteuid())
        #expect(Processes.exists(Processes.currentID))
        #expect(try Spawn.run(program: "true", arguments: []) == 0)
        #expect(try Spawn.run(program: "sh", arguments: ["-c", "exit 3"]) == 3)
        #expect(try Spawn.run(program: "sh", arguments: ["-c", "kill -9 $$"]) == 128 + 9)
        #expect(throws: Errno.noSuchFileOrDirectory) {
            _ = try Spawn.run(program: "no-such-program-xar", arguments: [])
        }
        // A reaped child's pid names no process (until the kernel reuses it, which takes a full pid cycle).
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("true"), nil]
        defer { free(argv[0]) }
        #expect(posix_spawnp(&pid, "true", nil, nil, argv, environ) == 0)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(!Processes.exists(pid))
        #expect(abs(WallClock.now() - Int64(time(nil))) <= 1)
    }
}
