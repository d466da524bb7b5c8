import Foundation
import Testing
import XarBuild
import XarTestSupport

/// `.pth` files of real wheels in a standalone image, run from its staged tree as the launcher runs it: setuptools
/// 75.8.0 (`distutils-precedence.pth`: an import line that installs `_distutils_hack`'s shim) and protobuf 3.20.3
/// (`protobuf-3.20.3-nspkg.pth`: an import line that makes the `google` namespace package from
/// `sys._getframe(1).f_locals['sitedir']`, the frame site runs it in). Their import lines run in the application
/// (resolved at build time) and in every process started from `sys.executable` (site with the image's
/// sitecustomize, with any flags), as CPython's site runs them.
@Suite(
    .tags(.python, .slow), .serialized,
    .enabled(if: PyPIApplication.available, "needs Debian's python3.11 with pip (and PyPI once), patchelf"))
struct PythonPthTests {
    static let source = #"""
        import json, subprocess, sys

        PROBE = ("import json, sys; print(json.dumps(['google' in sys.modules, '_distutils_hack' in sys.modules, "
                 "__import__('google.protobuf', fromlist=['_']).__version__]))")


        def main():
            import distutils
            me = ['google' in sys.modules, '_distutils_hack' in sys.modules, distutils.__file__]
            children = {}
            for flags in ([], ['-I'], ['-S'], ['-E', '-s']):
                done = subprocess.run([sys.executable] + flags + ['-c', PROBE], capture_output=True, text=True)
                children[' '.join(flags)] = json.loads(done.stdout) if done.returncode == 0 else done.stderr
            print(json.dumps({'self': me, 'children': children}))
        """#

    @Test func pthImportLinesRunInTheApplicationAndInItsChildren() throws {
        let d = TemporaryDirectory(prefix: "xar-pth")
        let pins = ["setuptools==75.8.0", "protobuf==3.20.3"]
        let wheels = try PyPIWheels.fetch(pins)
        try FileManager.default.createDirectory(atPath: d("wheelhouse"), withIntermediateDirectories: true)
        var lock = ""
        for (pin, wheel) in zip(pins, wheels) {
            try FileManager.default.createSymbolicLink(
                atPath: d("wheelhouse/\((wheel as NSString).lastPathComponent)"), withDestinationPath: wheel)
            lock += "\(pin) --hash=sha256:\(try PythonFixtures.sha256(wheel))\n"
        }
        try PythonFixtures.write(d("requirements.txt"), lock)
        try PythonFixtures.write(d("app/pthcheck.py"), Self.source)
        var options = PythonBuildOptions(python: PythonFixtures.python)
        options.source = d("app")
        options.requirements = d("requirements.txt")
        options.wheelhouse = d("wheelhouse")
        options.entryPoints = [.function(name: "pthcheck", target: "pthcheck:main")]
        options.revision = "pth"
        options.startupList = false
        let summary = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: d("app.xar"),
            stagingDirectory: d("stage"))
        let argv = summary.staged.launch.commandLine(mount: d("stage"), argv0: "/opt/pthcheck", entry: "pthcheck")
        let result = try XarTestSupport.Process.run(argv, environment: PythonFixtures.hostileEnvironment, timeout: 120)
        try #require(result.status == 0, "\(result)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        let sitePackages = d("stage") + "/python/lib/python3.11/site-packages"
        #expect(
            Self.values(report["self"]) == ["true", "true", "\(sitePackages)/setuptools/_distutils/__init__.py"],
            "\(result)")
        let children = try #require(report["children"] as? [String: Any], "\(result)")
        #expect(children.count == 4, "\(result)")
        for (flags, seen) in children {
            #expect(Self.values(seen) == ["true", "true", "3.20.3"], "child with flags '\(flags)': \(result)")
        }
    }

    /// A JSON array of booleans and strings as strings (`true`, `false`, the string).
    static func values(_ array: Any?) -> [String] {
        (array as? [Any] ?? []).map { value in
            if let text = value as? String { return text }
            return (value as? Bool).map { $0 ? "true" : "false" } ?? "\(value)"
        }
    }
}
