import Foundation
import Testing
import XarBuild
import XarTestSupport

/// The builder with interpreters other than Debian's: pyenv builds of 3.9, 3.10, 3.12 and 3.13 (shared
/// libpython, their own prefix), where this machine has them (`XAR_TEST_PYENV_ROOT`, default `~/.pyenv`).
/// Each stages a small application and runs it from the staging directory with a hostile environment: the
/// interpreter, its standard library, lib-dynload and the import index must all come from the image.
@Suite(.tags(.python, .slow))
struct PythonInterpreterVersionsTests {
    static let pyenvRoot: String =
        ProcessInfo.processInfo.environment["XAR_TEST_PYENV_ROOT"]
        ?? (ProcessInfo.processInfo.environment["HOME"].map { "\($0)/.pyenv" } ?? "")

    /// `bin/pythonX.Y` of every pyenv version of a supported minor release found here.
    static let interpreters: [String] = {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "\(pyenvRoot)/versions")) ?? []
        return ["3.9", "3.10", "3.12", "3.13"].compactMap { minor in
            versions.sorted().last { $0.hasPrefix(minor + ".") && $0.dropFirst(minor.count + 1).allSatisfy(\.isNumber) }
                .map { "\(pyenvRoot)/versions/\($0)/bin/python\(minor)" }
        }.filter { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test(
        .enabled(if: !interpreters.isEmpty, "no pyenv interpreters of 3.9, 3.10, 3.12 or 3.13"), arguments: interpreters
    )
    func stagedApplicationRunsOnItsOwnInterpreter(python: String) throws {
        let dir = TemporaryDirectory(prefix: "xar-python-versions")
        try Process.shell(
            """
            set -e
            mkdir -p '\(dir("app/hello"))' '\(dir("stage"))'
            touch '\(dir("app/hello/__init__.py"))'
            cat > '\(dir("app/hello/cli.py"))' <<'EOF'
            import json, sys
            import xar_runtime
            def main():
                print(json.dumps({
                    "version": list(sys.version_info[:2]),
                    "argv": sys.argv,
                    "executable": sys.executable,
                    "path": sys.path,
                    "json": json.__file__,
                    "loader": type(sys.modules["hello.cli"].__spec__.loader).__name__,
                    "revision": xar_runtime.metadata()["revision"],
                }))
                return 3
            EOF
            """, timeout: 30)
        var options = PythonBuildOptions(python: python)
        options.source = dir("app")
        options.entryPoints = [.function(name: "hello", target: "hello.cli:main")]
        options.revision = "versions-test"
        options.sourceDateEpoch = 1_700_000_000
        let staged = try PythonStager(options: options).stage(into: dir("stage"))
        let minor = staged.interpreter.version[1]

        let result = try Process.run(
            staged.launch.commandLine(mount: dir("stage"), argv0: "/opt/hello", entry: "hello", userArguments: ["x"]),
            environment: PythonFixtures.hostileEnvironment, timeout: 120)
        #expect(result.status == 3, "\(result)")
        let info = try #require(try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(info["version"] as? [Int] == [3, minor])
        #expect(info["argv"] as? [String] == ["/opt/hello", "x"])
        #expect(info["executable"] as? String == dir("stage") + "/python/python3")
        let path = info["path"] as? [String] ?? []
        #expect(!path.isEmpty && path.allSatisfy { $0.hasPrefix(dir("stage") + "/") }, "\(path)")
        #expect((info["json"] as? String)?.hasPrefix(dir("stage") + "/python/lib/python3.\(minor)/json/") == true)
        #expect(info["loader"] as? String == "BytecodeLoader")
        #expect(info["revision"] as? String == "versions-test")
    }
}
