import Foundation
import Glibc
import Testing
import XarTestSupport

/// Debian's python3 with pip, setuptools and wheel, which the demo uses to make its wheel offline.
private let canRunDemo = XarctlOpsFixture.canRun && access("/usr/bin/python3", X_OK) == 0

/// `scripts/demo`, which the README's set-up command ends with: both of its images are built and run, with the
/// built tools and a private mount root.
@Suite(.tags(.fuse, .root, .python, .slow), .enabled(if: canRunDemo))
struct DemoTests {
    /// The repository's `scripts/demo`, found from this file's path.
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/demo").path

    @Test func theDemoBuildsAndRunsADirectoryAndAPythonApplication() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let result = try XarTestSupport.Process.run(
            ["/bin/sh", Self.demo], environment: fixture.environment(["XAR_BIN_DIR": TestEnvironment.binDirectory]),
            timeout: 600)
        try #require(result.status == 0, "\(result)")
        for line in [
            "arguments: one two", "This line was read from a file inside demo.xar.", "hello, Ada",
            "Read with importlib.resources from inside greet.xar.", "HELLO, ADA!",
        ] {
            #expect(result.stdout.contains("\n\(line)\n"), "missing \(line): \(result)")
        }
        // The Python application ran its bundled interpreter from the private mount root.
        #expect(result.stdout.contains("from \(fixture.mountRoot)/"), "\(result)")
    }
}
