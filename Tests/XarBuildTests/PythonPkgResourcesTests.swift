import Foundation
import Testing
import XarBuild
import XarTestSupport

/// pkg_resources (setuptools 75.8.0 from PyPI) in a standalone image, run from its staged tree as the launcher runs
/// it, with the import index and without: it must find the installed distributions and their entry points, and
/// extend a `declare_namespace()` package whose portions are in two directories of the image (`/app` and
/// site-packages). pkg_resources does both only for `sys.path` entries whose finder is a `FileFinder`, so the
/// import index's finder must be one.
@Suite(
    .tags(.python, .slow),
    .enabled(if: PyPIApplication.available, "needs Debian's python3.11 with pip (and PyPI once), patchelf"))
struct PythonPkgResourcesTests {
    static let check = #"""
        import json, pkgutil, warnings


        def main():
            warnings.simplefilter('ignore')
            import pkg_resources
            import nsold.a, nsold.b
            print(json.dumps([
                pkg_resources.get_distribution('setuptools').version,
                pkg_resources.get_distribution('nsold-b').version,
                'bdist_egg' in [e.name for e in pkg_resources.iter_entry_points('distutils.commands')],
                nsold.a.A + nsold.b.B,
                sorted(m.name for m in pkgutil.iter_modules(nsold.__path__)),
            ]))
        """#

    @Test func pkgResourcesSeesTheImagesDistributionsAndNamespaces() throws {
        let d = TemporaryDirectory(prefix: "xar-pkg-resources")
        let setuptools = try PyPIWheels.fetch(["setuptools==75.8.0"])[0]
        let declare = "__import__('pkg_resources').declare_namespace(__name__)\n"
        try PythonFixtures.write(
            d("nsold-b/setup.py"),
            "from setuptools import setup\nsetup(name='nsold-b', version='1.0', packages=['nsold'])")
        try PythonFixtures.write(d("nsold-b/nsold/__init__.py"), declare)
        try PythonFixtures.write(d("nsold-b/nsold/b.py"), "B = 'b'\n")
        try PythonFixtures.write(d("app/nsold/__init__.py"), declare)
        try PythonFixtures.write(d("app/nsold/a.py"), "A = 'a'\n")
        try PythonFixtures.write(d("app/nscheck.py"), Self.check)
        try PythonFixtures.buildWheel(d("nsold-b"), into: d("built"))
        try FileManager.default.createDirectory(atPath: d("wheelhouse"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: d("wheelhouse/\((setuptools as NSString).lastPathComponent)"), withDestinationPath: setuptools)
        try PythonFixtures.write(
            d("requirements.txt"), "setuptools==75.8.0 --hash=sha256:\(try PythonFixtures.sha256(setuptools))\n")

        var options = PythonBuildOptions(python: PythonFixtures.python)
        options.source = d("app")
        options.wheels = [d("built/nsold_b-1.0-py3-none-any.whl")]
        options.requirements = d("requirements.txt")
        options.wheelhouse = d("wheelhouse")
        options.entryPoints = [.function(name: "nscheck", target: "nscheck:main")]
        options.revision = "pkg-resources"
        options.startupList = false
        let summary = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: d("app.xar"),
            stagingDirectory: d("stage"))
        let argv = summary.staged.launch.commandLine(mount: d("stage"), argv0: "/opt/nscheck", entry: "nscheck")
        for index in ["1", "0"] {
            let result = try XarTestSupport.Process.run(
                argv, environment: PythonFixtures.hostileEnvironment.merging(["XAR_IMPORT_INDEX": index]) { $1 },
                timeout: 120)
            #expect(result.status == 0, "XAR_IMPORT_INDEX=\(index): \(result)")
            #expect(
                result.stdout == "[\"75.8.0\", \"1.0\", true, \"ab\", [\"a\", \"b\"]]\n",
                "XAR_IMPORT_INDEX=\(index): \(result)")
        }
    }
}
