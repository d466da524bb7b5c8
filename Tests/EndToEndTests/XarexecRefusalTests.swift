import Glibc
import Testing
import XarTestSupport

/// What the launcher refuses, with one line and a distinct exit status, before anything is mounted.
@Suite(.enabled(if: XarexecFixture.canBuild))
struct XarexecRefusalTests {
    static let hello = ["bin/hello": ("#!/bin/sh\necho hello", true)]

    @Test func noArgumentsIsAUsageError() throws {
        let fixture = try XarexecFixture()
        let result = try fixture.xarexec([])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("xarexec: error: no .xar file given"))
    }

    @Test func aFileThatIsNotAXarIsRefused() throws {
        let fixture = try XarexecFixture()
        try fixture.run("printf 'plain text\\n' > \(fixture.dir("plain"))")
        let result = try fixture.xarexec([fixture.dir("plain")])
        #expect(result.status == 120, "\(result)")
        #expect(result.stderr.contains("is not a usable .xar"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aMissingFileIsRefused() throws {
        let fixture = try XarexecFixture()
        let result = try fixture.xarexec([fixture.dir("missing.xar")])
        #expect(result.status == 120)
        #expect(result.stderr.contains("cannot open"))
    }

    @Test func aHeaderCutShortIsRefused() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeXar("t", files: Self.hello, target: "bin/hello")
        try fixture.run("head -c 100 \(xar) > \(fixture.dir("cut.xar"))")
        let result = try fixture.xarexec([fixture.dir("cut.xar")])
        #expect(result.status == 120, "\(result)")
    }

    @Test func theMountPathFollowsTheLayout() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeXar("t", files: Self.hello, target: "bin/hello")
        let result = try fixture.xarexec(["-n", xar])
        var st = stat()
        #expect(stat("/proc/self/ns/mnt", &st) == 0)
        #expect(result.status == 0)
        let path = result.stdout.trimmingCharacters(in: .newlines)
        #expect(path.hasPrefix("\(fixture.mountRoot)/uid-\(geteuid())/"))
        #expect(path.hasSuffix("-ns-\(st.st_ino)"))
    }

    @Test func aSymlinkWhereTheMountPointShouldBeIsRefused() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeXar("t", files: Self.hello, target: "bin/hello")
        let mountPoint = try fixture.xarexec(["-n", xar]).stdout.trimmingCharacters(in: .newlines)
        #expect(symlink(fixture.dir("t.xar.tree"), mountPoint) == 0)
        let result = try fixture.xarexec([xar])
        #expect(result.status == 121, "\(result)")
        #expect(result.stderr.contains("is a symbolic link"))
    }

    @Test(.enabled(if: TestEnvironment.isRoot), .tags(.root))
    func aUserDirectoryOwnedBySomeoneElseIsRefused() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeXar("t", files: Self.hello, target: "bin/hello")
        let userDir = "\(fixture.mountRoot)/uid-\(geteuid())"
        #expect(mkdir(userDir, 0o700) == 0)
        #expect(chown(userDir, 65534, 65534) == 0)
        let result = try fixture.xarexec([xar])
        #expect(result.status == 121, "\(result)")
        #expect(result.stderr.contains("belongs to uid 65534"))
    }

    @Test func aMountRootOpenToOthersIsRefused() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeXar("t", files: Self.hello, target: "bin/hello")
        #expect(chmod(fixture.mountRoot, 0o777) == 0)
        let result = try fixture.xarexec([xar])
        #expect(result.status == 121, "\(result)")
        #expect(result.stderr.contains("chmod 1777"))
    }
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        String(self.drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension Set where Element == Character {
    static var newlines: Set<Character> { ["\n", "\r"] }
}
