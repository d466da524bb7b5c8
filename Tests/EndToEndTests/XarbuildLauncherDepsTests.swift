import Testing
import XarTestSupport

/// The repository's root, found from this file's path (the tests run the repo's own scripts).
let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// `scripts/check-launcher-deps` on the binaries `swift build --build-tests` put next to the test bundle.
@Suite struct LauncherDependencyTests {
    @Test(.enabled(if: TestEnvironment.hasTool("nm") && TestEnvironment.hasTool("readelf")))
    func launcherLinksNoFoundationArgumentParserOrLogging() throws {
        let launcher = TestEnvironment.product("xarexec")
        let result = try Process.run(["\(repositoryRoot)/scripts/check-launcher-deps", launcher], timeout: 120)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("no Foundation, ArgumentParser or swift-log symbols"))
    }

    @Test(.enabled(if: TestEnvironment.hasTool("nm") && TestEnvironment.hasTool("readelf")))
    func dependencyCheckCatchesFoundationInXarbuild() throws {
        let result = try Process.run(
            ["\(repositoryRoot)/scripts/check-launcher-deps", TestEnvironment.product("xarbuild")], timeout: 120)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("links code the launcher must not use"))
    }
}
