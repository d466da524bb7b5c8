import Foundation
import Testing
import XarBuild
import XarTestSupport

/// Real fixtures for the Python builder's tests, made once per test run with real tools and no network:
/// `pip wheel --no-deps --no-build-isolation` on two small local projects, a lock with `sha256sum` hashes, an
/// application source directory, and one staged-and-written image of all of it.
///
/// - `greet` is pure Python with two console scripts and package data (`greet/data/hello.txt`).
/// - `zstdcheck` is a C extension module linked with `-lzstd`: libzstd is not in the glibc base set, so the
///   build must bundle it and point the extension's RUNPATH at it. (zlib would prove less: CPython itself
///   links it, so a bug in extension bundling could hide behind the interpreter's own RUNPATH.)
/// - `myapp` (the source directory) imports both and reports what it sees as JSON.
final class PythonFixtures: @unchecked Sendable {
    /// The interpreter bundled and used to build the fixture wheels: Debian's, which has pip, setuptools,
    /// wheel and Python.h (`XAR_TEST_PYTHON` overrides).
    static let python: String = ProcessInfo.processInfo.environment["XAR_TEST_PYTHON"] ?? "/usr/bin/python3"

    /// True when the interpreter can build the fixtures (pip, setuptools, wheel, a C compiler, zstd.h).
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python),
            FileManager.default.fileExists(atPath: "/usr/include/zstd.h"), TestEnvironment.hasTool("cc"),
            TestEnvironment.hasTool("patchelf")
        else { return false }
        let check = try? Process.run(
            [
                python, "-c",
                "import setuptools, wheel, pip, sysconfig, os; "
                    + "assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))",
            ], timeout: 60)
        return check?.status == 0
    }()

    /// The shared fixtures, made on first use.
    static let shared: Result<PythonFixtures, any Error> = Result { try PythonFixtures() }

    let directory = TemporaryDirectory(prefix: "xar-python-fixtures")
    /// The wheelhouse of locked wheels (zstdcheck).
    var wheelhouse: String { directory("wheelhouse") }
    /// The application's own wheel (greet).
    let greetWheel: String
    let zstdcheckWheel: String
    let greetSdist: String
    /// The lock: `zstdcheck==0.3.0` with its hash.
    var lock: String { directory("requirements.txt") }
    var source: String { directory("app") }
    let zstdcheckHash: String
    /// The first image and its kept staging directory.
    var image: String { directory("myapp.xar") }
    var staging: String { directory("stage") }
    /// What the first build produced (set at the end of set-up).
    private(set) var summary: PythonImageBuilder.Summary!

    /// The build's options: both wheels, the source directory, an explicit entry point and the console scripts.
    func options() -> PythonBuildOptions {
        var options = PythonBuildOptions(python: Self.python)
        options.source = source
        options.wheels = [greetWheel]
        options.requirements = lock
        options.wheelhouse = wheelhouse
        options.entryPoints = [.function(name: "myapp", target: "myapp.cli:main")]
        options.revision = "fixture-revision-1"
        options.sourceDateEpoch = 1_700_000_000
        return options
    }

    /// The fixtures' directory, removed at exit: a static is never deinitialized, so its temporary directory
    /// would otherwise outlive the test run.
    nonisolated(unsafe) private static var cleanupPath: String?

    private init() throws {
        let d = directory
        Self.cleanupPath = d.path
        atexit {
            if let path = PythonFixtures.cleanupPath { _ = try? XarTestSupport.Process.run(["/bin/rm", "-rf", path]) }
        }
        try Self.write(
            d("greet/setup.py"),
            """
            from setuptools import setup
            setup(name="greet", version="1.2.0", packages=["greet"], package_data={"greet": ["data/*.txt"]},
                  entry_points={"console_scripts": ["greet = greet:main", "greet-exit = greet:exit_main"]})
            """)
        try Self.write(
            d("greet/greet/__init__.py"),
            """
            import sys
            def main():
                print("hello from greet", sys.argv[0], sys.argv[1:])
                return 0
            def exit_main():
                return int(sys.argv[1]) if len(sys.argv) > 1 else 3
            """)
        try Self.write(d("greet/greet/data/hello.txt"), "package data ok\n")
        try Self.write(
            d("zstdcheck/setup.py"),
            """
            from setuptools import setup, Extension
            setup(name="zstdcheck", version="0.3.0",
                  ext_modules=[Extension("zstdcheck", ["zstdcheck.c"], libraries=["zstd"])])
            """)
        try Self.write(
            d("zstdcheck/zstdcheck.c"),
            """
            #define PY_SSIZE_T_CLEAN
            #include <Python.h>
            #include <zstd.h>
            static PyObject *version(PyObject *self, PyObject *args) {
                return PyLong_FromUnsignedLong(ZSTD_versionNumber());
            }
            static PyMethodDef methods[] = {{"version", version, METH_NOARGS, "libzstd's version"}, {NULL, NULL, 0, NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "zstdcheck", NULL, -1, methods};
            PyMODINIT_FUNC PyInit_zstdcheck(void) { return PyModule_Create(&module); }
            """)
        try Self.write(d("app/myapp/__init__.py"), "")
        try Self.write(d("app/myapp/plugins/__init__.py"), "")
        try Self.write(d("app/myapp/plugins/alpha.py"), "NAME = 'alpha'\n")
        try Self.write(d("app/myapp/plugins/beta.py"), "NAME = 'beta'\n")
        try Self.write(d("app/nsapp/part.py"), "VALUE = 'namespace portion'\n")
        try Self.write(
            d("app/myapp/failing.py"),
            """
            def fail():
                raise ValueError("raised on purpose")
            """)
        try Self.write(
            d("app/myapp/cli.py"),
            """
            import json, os, sys

            def work(x):
                return x * x

            def main():
                cmd = sys.argv[1] if len(sys.argv) > 1 else "info"
                if cmd == "info":
                    import importlib.metadata, importlib.resources
                    import greet, xar_runtime, zstdcheck
                    maps = open("/proc/self/maps").read().split("\\n")
                    print(json.dumps({
                        "argv": sys.argv, "executable": sys.executable, "path": sys.path, "prefix": sys.prefix,
                        "zstd": zstdcheck.version(), "zstd_file": zstdcheck.__file__,
                        "libzstd": sorted({l.split()[-1] for l in maps if "libzstd" in l}),
                        "data": importlib.resources.files("greet").joinpath("data/hello.txt").read_text(),
                        "greet_version": importlib.metadata.version("greet"),
                        "zstdcheck_version": importlib.metadata.version("zstdcheck"),
                        "revision": xar_runtime.metadata()["revision"],
                        "ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
                        "isolated": sys.flags.isolated,
                        "modules_site": "site" in sys.modules,
                    }))
                elif cmd == "imports":
                    import importlib, importlib.util, inspect, pkgutil, traceback
                    import greet, zstdcheck, myapp.plugins, myapp.plugins.alpha, myapp.failing, nsapp.part
                    try:
                        myapp.failing.fail()
                    except ValueError as error:
                        trace = traceback.format_exception(error)
                    print(json.dumps({
                        "loaders": {m.__name__: type(m.__spec__.loader).__name__ for m in (json, greet, zstdcheck)},
                        "files": [m.__file__ for m in (json, greet, zstdcheck, myapp.plugins, nsapp.part)],
                        "cached": os.path.isfile(json.__cached__),
                        "source": inspect.getsource(greet.main).splitlines()[1].strip(),
                        "traceback": trace[-2].splitlines(),
                        "plugins": [(m.name, m.ispkg) for m in pkgutil.iter_modules(myapp.plugins.__path__)],
                        "top_level": sorted(m.name for m in pkgutil.iter_modules() if m.name in ("json", "greet", "myapp")),
                        "namespace": [nsapp.part.VALUE, list(nsapp.__path__), nsapp.__spec__.origin],
                        "reload": importlib.reload(myapp.plugins.alpha).NAME,
                        "missing": importlib.util.find_spec("no_such_module_anywhere") is None,
                        "gc": __import__("gc").get_threshold(),
                    }))
                elif cmd == "subprocess":
                    import subprocess
                    code = "import sys, zstdcheck, myapp; print(sys.prefix, zstdcheck.version())"
                    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
                    print(out.returncode, out.stdout.strip(), out.stderr.strip())
                elif cmd == "spawn":
                    import multiprocessing
                    with multiprocessing.get_context("spawn").Pool(2) as pool:
                        print("spawn", sum(pool.map(work, range(10))))
                elif cmd == "exit":
                    return int(sys.argv[2])
                elif cmd == "term":
                    import signal
                    os.kill(os.getpid(), signal.SIGTERM)
                return 0
            """)
        for project in ["greet", "zstdcheck"] { try Self.buildWheel(d(project), into: d("built")) }
        let sdist = try XarTestSupport.Process.run(
            [Self.python, "setup.py", "-q", "sdist", "-d", d("sdists")], environment: ["PATH": "/usr/bin:/bin"],
            directory: d("greet"), timeout: 120)
        guard sdist.status == 0 else { throw PythonBuildError("setup.py sdist failed: \(sdist)") }
        let built = try FileManager.default.contentsOfDirectory(atPath: d("built")).sorted()
        guard let greet = built.first(where: { $0.hasPrefix("greet-") }),
            let zstd = built.first(where: { $0.hasPrefix("zstdcheck-") })
        else { throw PythonBuildError("pip wheel made \(built)") }
        try FileManager.default.createDirectory(atPath: d("wheelhouse"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: d("built/\(zstd)"), toPath: d("wheelhouse/\(zstd)"))
        greetWheel = d("built/\(greet)")
        zstdcheckWheel = d("wheelhouse/\(zstd)")
        greetSdist = d("sdists/greet-1.2.0.tar.gz")
        zstdcheckHash = try Self.sha256(zstdcheckWheel)
        try Self.write(
            d("requirements.txt"),
            """
            # This file is autogenerated by pip-compile with Python 3.11
            #    pip-compile --generate-hashes
            --index-url https://example.invalid/simple
            zstdcheck==0.3.0 ; python_version >= "3.9" \\
                --hash=sha256:\(zstdcheckHash) \\
                --hash=sha256:\(String(repeating: "0", count: 64))
                # via myapp
            tomli==2.0.1 ; python_version < "3.11" \\
                --hash=sha256:\(String(repeating: "1", count: 64))
            """)
        summary = try PythonImageBuilder.build(
            options(), imageOptions: .init(compression: .zstd(level: 3)), output: d("myapp.xar"),
            stagingDirectory: d("stage"))
    }

    /// The command line the launcher execs for the staged tree as mount, invoked as `argv0` under `entry`.
    func stagedCommand(argv0: String, entry: String, _ arguments: [String]) -> [String] {
        summary.staged.launch.commandLine(mount: staging, argv0: argv0, entry: entry, userArguments: arguments)
    }

    /// The environment of the runs: no Python on PATH, and PYTHONHOME/PYTHONPATH pointing at nonsense.
    static let hostileEnvironment = [
        "PATH": "/nonexistent/bin", "PYTHONHOME": "/nonsense/home", "PYTHONPATH": "/nonsense/path",
        "PYTHONSTARTUP": "/nonsense/startup.py", "PYTHONNOUSERSITE": "", "LANG": "C.UTF-8",
    ]

    static func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (text + "\n").write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// Builds the wheel of the project directory `project` into `output` with the system pip, offline and without
    /// build isolation (the machine's setuptools), as a user's `pip wheel` would.
    static func buildWheel(_ project: String, into output: String) throws {
        let result = try XarTestSupport.Process.run(
            [
                python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", output,
                project,
            ],
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": (project as NSString).deletingLastPathComponent,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            ],
            timeout: 180)
        guard result.status == 0 else { throw PythonBuildError("pip wheel \(project) failed: \(result)") }
    }

    static func sha256(_ path: String) throws -> String {
        let result = try XarTestSupport.Process.run(["/usr/bin/sha256sum", path], timeout: 60)
        return String(result.stdout.prefix(64))
    }
}
