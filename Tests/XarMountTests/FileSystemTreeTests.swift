import Glibc
import Testing
import XarSystem
import XarTestSupport

/// XarSystem's whole-file and tree calls by path (what the Python builder stages with instead of FileManager), on
/// real files: each is checked against what `lstat`, `readlink` and the bytes on disk say afterwards.
@Suite struct FileSystemTreeTests {
    @Test func contentsReadsPastTheReportedSizeAndWholeLargeFiles() throws {
        // /proc files report size 0; a file bigger than the first buffer is read to its end.
        let status = try FileSystem.contents("/proc/self/status")
        #expect(String(decoding: status, as: UTF8.self).contains("Pid:"))
        let dir = TemporaryDirectory()
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileSystem.write(big, to: dir("big"))
        #expect(try FileSystem.contents(dir("big")) == big)
    }

    @Test func contentsRefusesALinkOnlyWhenAskedAndSmallFileReadsThroughIt() throws {
        let dir = TemporaryDirectory()
        try FileSystem.write("state\n", to: dir("state"))
        #expect(symlink(dir("state"), dir("link")) == 0)
        #expect(try FileSystem.contents(dir("link")) == Array("state\n".utf8))
        #expect(throws: SystemError.self) { try FileSystem.contents(dir("link"), followSymlinks: false) }
        #expect(SmallFile.read(dir("link"), followSymlinks: false) == nil)
        #expect(SmallFile.read(dir("state"), followSymlinks: false) == Array("state\n".utf8))
        #expect(SmallFile.text("/proc/self/status").contains("Pid:"))
    }

    @Test func missingFilesFailWithTheirPathAndNonUTF8TextIsNil() throws {
        let dir = TemporaryDirectory()
        do {
            _ = try FileSystem.contents(dir("missing"))
            Issue.record("reading a missing file succeeded")
        } catch {
            #expect(error.description == "cannot read \(dir("missing")): No such file or directory")
        }
        try FileSystem.write([0x66, 0xff], to: dir("latin1"))
        #expect(FileSystem.utf8Text(dir("latin1")) == nil)
        try FileSystem.write("zürich\n", to: dir("text"))
        #expect(FileSystem.utf8Text(dir("text")) == "zürich\n")
    }

    @Test func writeReplacesALinkInsteadOfWritingThroughItWithExactPermissions() throws {
        let dir = TemporaryDirectory()
        try FileSystem.write("target\n", to: dir("target"))
        #expect(symlink(dir("target"), dir("link")) == 0)
        #expect(link(dir("target"), dir("hard")) == 0)
        // 0777 would lose its group and other write bits to any usual umask if the umask applied.
        try FileSystem.write("new\n", to: dir("link"), permissions: 0o777)
        try FileSystem.write("other\n", to: dir("hard"))
        #expect(FileSystem.utf8Text(dir("target")) == "target\n", "the link's target and the hard link's twin stay")
        let written = try FileSystem.fileStatus(dir("link"), followSymlinks: false)
        #expect(written.kind == .regular)
        #expect(written.permissions == 0o777, "the umask does not apply")
        #expect(try FileSystem.fileStatus(dir("hard")).permissions == 0o644)
        #expect(try FileSystem.fileStatus(dir("target")).linkCount == 1)
    }

    @Test func copyFileKeepsOrSetsTheModeAndNeverReplaces() throws {
        let dir = TemporaryDirectory()
        try FileSystem.write("#!/bin/sh\n", to: dir("tool"), permissions: 0o750)
        try FileSystem.copyFile(dir("tool"), to: dir("copy"))
        #expect(try FileSystem.fileStatus(dir("copy")).permissions == 0o750)
        #expect(FileSystem.utf8Text(dir("copy")) == "#!/bin/sh\n")
        try FileSystem.copyFile(dir("tool"), to: dir("lib"), permissions: 0o644)
        #expect(try FileSystem.fileStatus(dir("lib")).permissions == 0o644)
        #expect(throws: SystemError.self) { try FileSystem.copyFile(dir("tool"), to: dir("copy")) }
    }

    @Test func createDirectoriesMakesParentsAcceptsADirectoryAndRefusesAFile() throws {
        let dir = TemporaryDirectory()
        try FileSystem.createDirectories(dir("a/b/c"))
        try FileSystem.createDirectories(dir("a/b/c"))
        #expect(FileSystem.isDirectory(dir("a/b/c")))
        try FileSystem.write("x", to: dir("file"))
        do {
            try FileSystem.createDirectories(dir("file/sub"))
            Issue.record("a directory was made under a file")
        } catch {
            #expect(error.description == "cannot create the directory \(dir("file/sub")): Not a directory")
        }
        #expect(throws: SystemError.self) { try FileSystem.createDirectories(dir("file")) }
    }

    @Test func walkListsEveryEntryInByteOrderWithoutFollowingLinks() throws {
        let dir = TemporaryDirectory()
        try FileSystem.createDirectories(dir("tree/b/inner"))
        try FileSystem.write("1", to: dir("tree/b/inner/f.py"))
        try FileSystem.write("2", to: dir("tree/a.py"))
        try FileSystem.write("3", to: dir("tree/B"))
        #expect(symlink("/etc", dir("tree/etc")) == 0)
        let entries = try FileSystem.walk(dir("tree"))
        #expect(entries.map(\.path) == ["B", "a.py", "b", "b/inner", "b/inner/f.py", "etc"])
        #expect(entries.map(\.kind) == [.regular, .regular, .directory, .directory, .regular, .symbolicLink])
        #expect(throws: SystemError.self) { try FileSystem.walk(dir("tree/B")) }
    }

    @Test func removeTreeRemovesLinksNotTheirTargetsAndIgnoresWhatIsGone() throws {
        let dir = TemporaryDirectory()
        try FileSystem.write("keep", to: dir("outside"))
        try FileSystem.createDirectories(dir("tree/sub"))
        #expect(symlink(dir("outside"), dir("tree/sub/link")) == 0)
        #expect(chmod(dir("tree/sub"), 0o500) == 0)
        try FileSystem.removeTree(dir("tree"))
        #expect(!FileSystem.exists(dir("tree"), followSymlinks: false))
        #expect(FileSystem.utf8Text(dir("outside")) == "keep")
        try FileSystem.removeTree(dir("tree"))
    }

    @Test func bytesAtAnOffsetStopAtTheEndOfTheFile() throws {
        let dir = TemporaryDirectory()
        try FileSystem.write(Array(0..<10), to: dir("ten"))
        let file = try ReadOnlyFile(opening: dir("ten"))
        #expect(try file.bytes(at: 0, count: 4) == [0, 1, 2, 3])
        #expect(try file.bytes(at: 8, count: 4) == [8, 9])
        #expect(try file.bytes(at: 20, count: 4) == [])
    }

    @Test func relativePathsAreMadeAbsoluteAgainstTheWorkingDirectory() {
        #expect(FileSystem.absolute("/x/y") == "/x/y")
        #expect(FileSystem.absolute("x") == FileSystem.currentDirectory + "/x")
        #expect(FileSystem.currentDirectory.hasPrefix("/"))
        #expect(FileSystem.temporaryDirectory.hasPrefix("/") && !FileSystem.temporaryDirectory.hasSuffix("/"))
    }
}
