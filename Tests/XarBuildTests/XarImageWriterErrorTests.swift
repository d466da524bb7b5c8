import Glibc
import SystemPackage
import Testing
import XarBuild
import XarCompression
import XarTestSupport

/// Bad input fails with one sentence naming the path, and leaves no output or temporary file behind.
@Suite("XarImageWriter errors")
struct XarImageWriterErrorTests {
    typealias T = ImageTestSupport

    /// Builds `in` into `out/x.xar` calling `afterFile` after each file, and returns the error thrown.
    private func failure(
        _ dir: TemporaryDirectory, output: String? = nil, afterFile: @escaping (Int64) -> Void = { _ in }
    ) throws -> XarBuildError {
        try T.sh("mkdir -p '\(dir("out"))'")
        do {
            _ = try XarImageWriter.write(
                directory: FilePath(dir("in")), options: XarImageOptions(compression: .zstd(level: 3), threads: 2),
                to: FilePath(output ?? dir("out/x.xar")), executable: true,
                progress: { done, _ in afterFile(done) }, header: T.header)
        } catch let error as XarBuildError {
            #expect(try T.sh("ls -A '\(dir("out"))'") == "", "nothing is left behind")
            return error
        }
        Issue.record("the build succeeded")
        throw XarBuildError.invalidOptions("no error")
    }

    private func twoFiles(_ dir: TemporaryDirectory) throws {
        try T.sh("mkdir '\(dir("in"))'")
        try T.writeFile(dir("in/a"), T.text(300_000, seed: 1))
        try T.writeFile(dir("in/b"), T.text(300_000, seed: 2))
    }

    @Test func fileThatShrinksWhileReadIsNamed() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        let error = try failure(dir) { done in if done == 300_000 { truncate(dir("in/b"), 1000) } }
        #expect(error == .changedSize(path: dir("in/b")))
        #expect("\(error)" == "The file \(dir("in/b")) changed size while it was read.")
    }

    @Test func fileThatGrowsWhileReadIsNamed() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        let error = try failure(dir) { done in
            if done == 300_000 { _ = try? T.sh("printf more >> '\(dir("in/b"))'") }
        }
        #expect(error == .changedSize(path: dir("in/b")))
    }

    @Test func pathThatVanishesIsNamed() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        let error = try failure(dir) { done in if done == 300_000 { unlink(dir("in/b")) } }
        #expect(error == .vanished(path: dir("in/b")))
        #expect("\(error)" == "The path \(dir("in/b")) vanished while the image was built.")
    }

    @Test func unwritableOutputDirectoryIsNamed() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        let error = try failure(dir, output: dir("missing/x.xar"))
        guard case .outputNotWritable(let path, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(path == dir("missing/x.xar"))
        #expect("\(error)".hasPrefix("Cannot write the output \(dir("missing/x.xar")): "))
    }

    @Test func inputThatIsNotADirectoryIsNamed() throws {
        let dir = TemporaryDirectory()
        try T.writeFile(dir("in"), [1])
        #expect(try failure(dir) == .notADirectory(path: dir("in")))
    }

    /// Root reads any file, so an unreadable one is a write-only sysfs attribute bind-mounted into the tree.
    @Test(
        .enabled(if: TestEnvironment.isRoot && access("/sys/bus/pci/rescan", F_OK) == 0), .tags(.root))
    func unreadableFileIsNamed() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        try T.writeFile(dir("in/c"), [])
        try T.sh("mount --bind /sys/bus/pci/rescan '\(dir("in/c"))'")
        defer { _ = try? Process.run(["umount", dir("in/c")], timeout: 30) }
        let error = try failure(dir)
        guard case .unreadable(let path, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(path == dir("in/c"))
    }

    @Test func badHeaderSizeLeavesNothing() throws {
        let dir = TemporaryDirectory()
        try twoFiles(dir)
        try T.sh("mkdir '\(dir("out"))'")
        #expect(throws: XarBuildError.badHeaderSize(10)) {
            try XarImageWriter.write(
                directory: FilePath(dir("in")), options: XarImageOptions(), to: FilePath(dir("out/x.xar")),
                executable: false, progress: nil, header: { _ in [UInt8](repeating: 0, count: 10) })
        }
        #expect(try T.sh("ls -A '\(dir("out"))'") == "")
    }
}
