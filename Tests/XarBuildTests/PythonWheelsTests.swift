import Foundation
import Testing
import XarBuild
import XarTestSupport

/// Real wheels from PyPI (fetched once into the test cache, `PyPIWheels`) built into one image with the default
/// options, run from its staged tree: numpy (auditwheel-patched libraries in `numpy.libs`), cryptography and cffi
/// (abi3 and Rust), pillow (a dozen bundled libraries), flake8 with a plugin found through its entry points.
final class PyPIApplication: @unchecked Sendable {
    static let pins = [
        "numpy==2.1.3", "cryptography==43.0.3", "cffi==1.17.1", "pycparser==2.22", "pillow==11.0.0",
        "flake8==7.1.1", "pyflakes==3.2.0", "pycodestyle==2.12.1", "mccabe==0.7.0", "pep8-naming==0.14.1",
    ]

    /// Debian's Python 3.11 (the wheels are cp311), as the other Python tests use.
    static var available: Bool { PythonFixtures.available && PythonFixtures.python.hasSuffix("python3") }

    static let shared: Result<PyPIApplication, any Error> = Result { try PyPIApplication() }

    let directory = TemporaryDirectory(prefix: "xar-pypi-app")
    var wheelhouse: String { directory("wheelhouse") }
    var lock: String { directory("requirements.txt") }
    var staging: String { directory("stage") }
    let summary: PythonImageBuilder.Summary

    nonisolated(unsafe) private static var cleanupPath: String?

    private init() throws {
        let d = directory
        Self.cleanupPath = d.path
        atexit {
            if let path = PyPIApplication.cleanupPath { _ = try? XarTestSupport.Process.run(["/bin/rm", "-rf", path]) }
        }
        let wheels = try PyPIWheels.fetch(Self.pins)
        try FileManager.default.createDirectory(atPath: d("wheelhouse"), withIntermediateDirectories: true)
        var lock = "# pip-compile --generate-hashes\n"
        for (pin, wheel) in zip(Self.pins, wheels) {
            try FileManager.default.createSymbolicLink(
                atPath: d("wheelhouse/\((wheel as NSString).lastPathComponent)"), withDestinationPath: wheel)
            lock += "\(pin) \\\n    --hash=sha256:\(try PythonFixtures.sha256(wheel))\n"
        }
        try PythonFixtures.write(d("requirements.txt"), lock)
        try PythonFixtures.write(
            d("app/checks.py"),
            """
            import io, sys

            def main():
                what = sys.argv[1]
                if what == "numpy":
                    import numpy
                    print(int(numpy.arange(10).sum()), float(numpy.linalg.inv(numpy.eye(2) * 2)[0, 0]))
                elif what == "cryptography":
                    from cryptography.fernet import Fernet
                    box = Fernet(Fernet.generate_key())
                    print(box.decrypt(box.encrypt(b"sealed")).decode())
                elif what == "pillow":
                    from PIL import Image
                    out = io.BytesIO()
                    Image.new("RGB", (4, 4), (255, 0, 0)).save(out, "PNG")
                    print(Image.open(io.BytesIO(out.getvalue())).getpixel((1, 1)))
                return 0
            """)
        try PythonFixtures.write(d("lintme.py"), "def BadName():\n    pass")
        var options = PythonBuildOptions(python: PythonFixtures.python)
        options.source = d("app")
        options.requirements = d("requirements.txt")
        options.wheelhouse = d("wheelhouse")
        options.entryPoints = [.function(name: "checks", target: "checks:main"), .function(name: "flake8", target: "")]
        options.revision = "pypi"
        options.startupList = false
        summary = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: d("app.xar"),
            stagingDirectory: d("stage"))
    }

    /// Runs `entry` in the staged tree as the launcher would.
    func run(_ entry: String, _ arguments: [String]) throws -> XarTestSupport.Process.Result {
        let argv = summary.staged.launch.commandLine(
            mount: staging, argv0: "/opt/\(entry)", entry: entry, userArguments: arguments)
        return try XarTestSupport.Process.run(argv, environment: PythonFixtures.hostileEnvironment, timeout: 120)
    }
}

@Suite(
    .tags(.python, .slow), .serialized,
    .enabled(if: PyPIApplication.available, "needs Debian's python3.11 with pip (and PyPI once), cc, patchelf"))
struct PythonWheelsTests {
    @Test func numpyImportsAndComputesFromADefaultBuild() throws {
        let app = try PyPIApplication.shared.get()
        let result = try app.run("checks", ["numpy"])
        #expect(result.status == 0 && result.stdout == "45 0.5\n", "\(result)")
    }

    @Test func cryptographyAndPillowWork() throws {
        let app = try PyPIApplication.shared.get()
        let sealed = try app.run("checks", ["cryptography"])
        #expect(sealed.status == 0 && sealed.stdout == "sealed\n", "\(sealed)")
        let pixel = try app.run("checks", ["pillow"])
        #expect(pixel.status == 0 && pixel.stdout == "(255, 0, 0)\n", "\(pixel)")
    }

    @Test func flake8FindsItsPluginThroughEntryPoints() throws {
        let app = try PyPIApplication.shared.get()
        let result = try app.run("flake8", [app.directory("lintme.py")])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.contains("N802 function name 'BadName' should be lowercase"), "\(result)")
    }

    /// Files from wheels keep their bytes: nothing under `numpy.libs` is stripped or re-pointed, except the one
    /// library that needs a library bundled from the host (libgfortran needs libz), which is proven to load.
    @Test func wheelLibrariesAreLeftAsTheyAre() throws {
        let app = try PyPIApplication.shared.get()
        let wheel = try PyPIWheels.fetch(["numpy==2.1.3"])[0]
        let libs = "python/lib/python3.11/site-packages/numpy.libs"
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(app.staging)/\(libs)")
        let openblas = try #require(names.first { $0.hasPrefix("libscipy_openblas") })
        let digest = try PythonFixtures.sha256("\(app.staging)/\(libs)/\(openblas)")
        let original = try XarTestSupport.Process.shell(
            "/usr/bin/unzip -p '\(wheel)' 'numpy.libs/\(openblas)' | /usr/bin/sha256sum", timeout: 60)
        #expect(String(original.stdout.prefix(64)) == digest, "\(original)")
    }

    /// Only the entry points asked for: flake8's dependencies' console scripts (pyflakes, pycodestyle) and
    /// numpy's (f2py) are not entry points, and the first explicit one is the default.
    @Test func dependenciesConsoleScriptsAreNotEntryPointsUnasked() throws {
        let app = try PyPIApplication.shared.get()
        #expect(app.summary.staged.entryPoints.map(\.name) == ["checks", "flake8"])
        #expect(app.summary.staged.entryPoints[1] == .function(name: "flake8", target: "flake8.main.cli:main"))
    }
}
