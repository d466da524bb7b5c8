import Testing
import XarFormat
@testable import XarMount

/// A thin image's `DEPENDENCIES` (docs/header.md) and the launch it leads to: the target in the runtime's mount,
/// `$RUNTIME` in the arguments.
@Suite struct RuntimeDependencyTests {
    static let digest = String(repeating: "cd", count: 32)
    static let own = String(repeating: "ab", count: 32)

    func header(dependencies: [String], execArgs: String? = "$RUNTIME/python/bin/python3 $MOUNT/.xar/b.pyc")
        throws -> LaunchHeader
    {
        try LaunchHeader(
            path: "t.xar",
            header: try XarHeader(
                imageSHA256: Self.own, buildTime: 1, builder: "test", target: "python/lib/ld.so",
                execArgs: execArgs, dependencies: dependencies))
    }

    @Test func parsesFileAtDigest() throws {
        let dependency = try #require(RuntimeDependency("py311.xar@sha256:\(Self.digest)"))
        #expect(dependency.fileName == "py311.xar" && dependency.digest == Self.digest)
        #expect(dependency.reference == "sha256:\(Self.digest)")
        // The last `@sha256:` separates them.
        #expect(RuntimeDependency("a@b.xar@sha256:\(Self.digest)")?.fileName == "a@b.xar")
    }

    @Test(arguments: [
        "py311.xar", "py311.xar@sha256:", "@sha256:" + String(repeating: "cd", count: 32),
        "py311.xar@sha256:" + String(repeating: "CD", count: 32),
        "py311.xar@sha256:" + String(repeating: "c", count: 63),
        "d/py311.xar@sha256:" + String(repeating: "cd", count: 32), "..@sha256:" + String(repeating: "cd", count: 32),
        "py311.xar@sha512:" + String(repeating: "cd", count: 32),
    ])
    func refusesAnythingElse(_ word: String) {
        #expect(RuntimeDependency(word) == nil)
    }

    @Test func aHeaderWithOneRuntimeHasIt() throws {
        let header = try header(dependencies: ["py311.xar@sha256:\(Self.digest)"])
        #expect(header.runtime?.digest == Self.digest)
        #expect(try self.header(dependencies: []).runtime == nil)
    }

    @Test func aHeaderWithAnotherDependencyValueIsRefusedWithStatus120() throws {
        for words in [["something-else"], ["a.xar@sha256:\(Self.digest)", "b.xar@sha256:\(Self.digest)"]] {
            let error = #expect(throws: LaunchError.self) { try header(dependencies: words) }
            #expect(error?.exitStatus == 120)
        }
    }

    @Test func theTargetIsInTheRuntimesMountAndRuntimeIsItsPath() throws {
        let header = try header(dependencies: ["py311.xar@sha256:\(Self.digest)"])
        let arguments = TargetArguments(
            header: header, root: "/m/app", runtimeRoot: "/m/rt", invokedPath: "./tool", userArguments: ["x"])
        #expect(arguments.path == "/m/rt/python/lib/ld.so")
        #expect(arguments.argv == ["/m/rt/python/lib/ld.so", "/m/rt/python/bin/python3", "/m/app/.xar/b.pyc", "x"])
    }
}
