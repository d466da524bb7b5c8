import Glibc
import Testing
import XarSystem
import XarTestSupport

/// The system layer the launcher stands on: checked directories, locks, the namespace id, fstatfs.
@Suite struct LauncherSystemTests {
    @Test func createdDirectoriesGetTheExactModeDespiteTheUmask() throws {
        let dir = TemporaryDirectory()
        let old = umask(0o077)
        defer { umask(old) }
        let parent = try FileDescriptor.open(dir.path, flags: O_RDONLY | O_DIRECTORY)
        let child = try SecureDirectory.openOwnedDirectory("u", in: parent.rawValue, mode: 0o755, create: true)
        #expect(try child.status().st_mode & 0o7777 == 0o755)
    }

    @Test func aSymlinkWhereADirectoryShouldBeIsRefused() throws {
        let dir = TemporaryDirectory()
        #expect(symlink("/tmp", dir("u")) == 0)
        let parent = try FileDescriptor.open(dir.path, flags: O_RDONLY | O_DIRECTORY)
        #expect(throws: SecureDirectory.Refusal.symlink) {
            _ = try SecureDirectory.openOwnedDirectory("u", in: parent.rawValue, mode: 0o700, create: true)
        }
    }

    @Test func aLooseModeIsRefusedWithTheFix() throws {
        let dir = TemporaryDirectory()
        #expect(mkdir(dir("u"), 0o700) == 0)
        #expect(chmod(dir("u"), 0o777) == 0)
        let parent = try FileDescriptor.open(dir.path, flags: O_RDONLY | O_DIRECTORY)
        do {
            _ = try SecureDirectory.openOwnedDirectory("u", in: parent.rawValue, mode: 0o700, create: true)
            Issue.record("a 0777 directory was accepted")
        } catch let refusal {
            #expect(refusal == .wrongMode(mode: 0o777, expected: 0o700))
            #expect(refusal.message(for: dir("u")).contains("chmod 0700"))
        }
    }

    @Test(.enabled(if: TestEnvironment.isRoot), .tags(.root))
    func anotherUsersDirectoryIsRefused() throws {
        let dir = TemporaryDirectory()
        #expect(mkdir(dir("u"), 0o700) == 0)
        #expect(chown(dir("u"), 65534, 65534) == 0)
        let parent = try FileDescriptor.open(dir.path, flags: O_RDONLY | O_DIRECTORY)
        #expect(throws: SecureDirectory.Refusal.wrongOwner(uid: 65534)) {
            _ = try SecureDirectory.openOwnedDirectory("u", in: parent.rawValue, mode: 0o700, create: true)
        }
    }

    @Test func lockFilesAreCreatedWithMode0600() throws {
        let dir = TemporaryDirectory()
        let parent = try FileDescriptor.open(dir.path, flags: O_RDONLY | O_DIRECTORY)
        let file = try SecureDirectory.openOwnedFile("a.lock", in: parent, mode: 0o600)
        #expect(try file.status().st_mode & 0o7777 == 0o600)
    }

    @Test func sharedLocksCoexistAndExclusiveWaitsAtMostItsTimeout() throws {
        let dir = TemporaryDirectory()
        let one = FileLock(file: try FileDescriptor.open(dir("l"), flags: O_RDWR | O_CREAT, mode: 0o600))
        let two = FileLock(file: try FileDescriptor.open(dir("l"), flags: O_RDWR))
        #expect(try one.lock(.shared, timeout: 1))
        #expect(try two.lock(.shared, timeout: 1))
        try two.unlock()
        let start = MonotonicClock.now()
        #expect(try two.lock(.exclusive, timeout: 0.2) == false)
        let waited = MonotonicClock.now() - start
        #expect(waited >= 0.2 && waited < 1.0)
        try one.unlock()
        #expect(try two.lock(.exclusive, timeout: 1))
    }

    @Test func theMountNamespaceIdIsTheLinkInode() throws {
        var st = stat()
        #expect(stat("/proc/self/ns/mnt", &st) == 0)
        #expect(MountNamespace.current() == UInt64(st.st_ino))
    }

    @Test func preadReadsAtAnOffsetAndReportsShortFiles() throws {
        let dir = TemporaryDirectory()
        try Process.shell("printf 0123456789 > \(dir("f"))")
        let file = try FileDescriptor.open(dir("f"), flags: O_RDONLY)
        var bytes = [UInt8](repeating: 0, count: 8)
        let n = try bytes.withUnsafeMutableBytes { try file.readFully(into: $0, at: 6) }
        #expect(n == 4)
        #expect(Array(bytes[0..<4]) == Array("6789".utf8))
        #expect(try FileSystemType.of(file) != .fuse)
    }
}
