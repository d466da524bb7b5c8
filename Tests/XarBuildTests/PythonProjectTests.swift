import Foundation
import Testing
import XarBuild
import XarTestSupport

/// `xarbuild python --project DIR`: a real project (PEP 621 metadata, flit_core as its PEP 517 backend, from
/// PyPI) built offline into an image that runs through `xarexec`, with its dependencies locked by a
/// `pylock.toml` or a `uv.lock` the test writes from the real wheels' hashes (no uv needed).
@Suite(
    .tags(.python, .fuse, .slow), .serialized,
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: PythonFixtures.python) && TestEnvironment.hasTool("patchelf"),
        "needs python3 with pip and patchelf"),
    .enabled(if: TestEnvironment.hasFuse && TestEnvironment.hasTool("fusermount3"), "needs /dev/fuse and fusermount3"))
struct PythonProjectTests {
    /// The project, its wheelhouse and locks, made once.
    final class Project: @unchecked Sendable {
        static let shared: Result<Project, any Error> = Result { try Project() }

        let directory = TemporaryDirectory(prefix: "xar-python-project")
        var project: String { directory("hello") }
        var wheelhouse: String { directory("wheelhouse") }
        var pylock: String { directory("locks/pylock.toml") }
        var uvLock: String { directory("hello/uv.lock") }
        let flitCore: String
        let six: String
        let sixHash: String

        init() throws {
            flitCore = try PyPIWheels.fetch(["flit_core==3.10.1"])[0]
            six = try PyPIWheels.fetch(["six==1.17.0"])[0]
            sixHash = try PyPIWheels.sha256(six)
            try FileManager.default.createDirectory(atPath: wheelhouse, withIntermediateDirectories: true)
            for wheel in [flitCore, six] {
                try FileManager.default.copyItem(
                    atPath: wheel, toPath: "\(wheelhouse)/\((wheel as NSString).lastPathComponent)")
            }
            try Self.write(
                "\(project)/pyproject.toml",
                """
                [build-system]
                requires = ["flit_core >=3.2,<4"]
                build-backend = "flit_core.buildapi"

                [project]
                name = "hello-xar"
                version = "0.3.0"
                description = "A project built from its pyproject.toml"
                dependencies = ["six>=1.16", "colorama; sys_platform == 'win32'"]

                [project.scripts]
                other = "hello_xar:other"
                hello-xar = "hello_xar:main"
                """)
            try Self.write(
                "\(project)/hello_xar/__init__.py",
                """
                import sys
                import six

                def main():
                    print("hello-xar", six.__version__, sys.argv[1:])

                def other():
                    print("other")
                """)
            let colorama = String(repeating: "c", count: 64)
            try Self.write(
                pylock,
                """
                lock-version = "1.0"
                requires-python = ">=3.9"
                created-by = "xar-tests"

                [[packages]]
                name = "colorama"
                version = "0.4.6"
                marker = "sys_platform == 'win32'"
                wheels = [{ name = "colorama-0.4.6-py2.py3-none-any.whl", hashes = { sha256 = "\(colorama)" } }]

                [[packages]]
                name = "hello-xar"
                directory = { path = ".", editable = true }

                [[packages]]
                name = "six"
                version = "1.17.0"
                index = "https://pypi.org/simple"

                [[packages.wheels]]
                name = "six-1.17.0-py2.py3-none-any.whl"
                upload-time = 2024-12-04T17:35:26Z
                url = "https://files.pythonhosted.org/packages/six-1.17.0-py2.py3-none-any.whl"
                size = 11050
                hashes = { sha256 = "\(sixHash)" }
                """)
            try Self.write(
                uvLock,
                """
                version = 1
                revision = 2
                requires-python = ">=3.9"

                [[package]]
                name = "colorama"
                version = "0.4.6"
                source = { registry = "https://pypi.org/simple" }
                wheels = [
                    { url = "https://files.pythonhosted.org/colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:\(colorama)", size = 25335 },
                ]

                [[package]]
                name = "hello-xar"
                version = "0.3.0"
                source = { editable = "." }
                dependencies = [
                    { name = "colorama", marker = "sys_platform == 'win32'" },
                    { name = "six" },
                ]

                [package.metadata]
                requires-dist = [
                    { name = "colorama", marker = "sys_platform == 'win32'" },
                    { name = "six", specifier = ">=1.16" },
                ]

                [[package]]
                name = "six"
                version = "1.17.0"
                source = { registry = "https://pypi.org/simple" }
                sdist = { url = "https://files.pythonhosted.org/six-1.17.0.tar.gz", hash = "sha256:\(String(repeating: "0", count: 64))", size = 34031 }
                wheels = [
                    { url = "https://files.pythonhosted.org/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:\(sixHash)", size = 11050 },
                ]
                """)
        }

        static func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    private func xarbuild(_ arguments: [String]) throws -> XarTestSupport.Process.Result {
        try XarTestSupport.Process.run(
            [TestEnvironment.product("xarbuild"), "python", "--python", PythonFixtures.python] + arguments,
            timeout: 600)
    }

    private func run(_ argv: [String], _ mounts: PythonImageTests.Mounts) throws -> XarTestSupport.Process.Result {
        var env = PythonFixtures.hostileEnvironment
        env["PATH"] = TestEnvironment.binDirectory
        env["XAR_MOUNT_ROOT"] = mounts.root
        env["XAR_MOUNT_TIMEOUT"] = "30"
        return try XarTestSupport.Process.run(argv, environment: env, timeout: 120)
    }

    /// A copy of the project without its uv.lock, for builds that name their lock.
    private func projectWithout(lock: Bool, in scratch: TemporaryDirectory) throws -> String {
        let p = try Project.shared.get()
        try FileManager.default.copyItem(atPath: p.project, toPath: scratch("hello"))
        if !lock { try FileManager.default.removeItem(atPath: scratch("hello/uv.lock")) }
        return scratch("hello")
    }

    @Test func projectWithItsUvLockBuildsAndRuns() throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-uv")
        // No -r: the project's own uv.lock is the lock.
        let build = try xarbuild(["--project", p.project, "--wheelhouse", p.wheelhouse, "-o", scratch("hello.xar")])
        try #require(build.status == 0, "\(build)")
        #expect(build.stdout.contains("entry points: hello-xar, other (default hello-xar)"), "\(build)")
        let mounts = PythonImageTests.Mounts()
        let result = try run([scratch("hello.xar"), "a", "b"], mounts)
        #expect(result.status == 0 && result.stdout == "hello-xar 1.17.0 ['a', 'b']\n", "\(result)")
        // The project's own wheel was built offline and installed; nothing was left in the project.
        let listing = try FileManager.default.contentsOfDirectory(atPath: p.project).sorted()
        #expect(listing == ["hello_xar", "pyproject.toml", "uv.lock"], "\(listing)")
    }

    @Test func projectWithPylockBuildsAndRuns() throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-pylock")
        // A git checkout: its revision is recorded.
        let project = try projectWithout(lock: true, in: scratch)
        let git = try XarTestSupport.Process.shell(
            "cd '\(project)' && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm t "
                + "&& git rev-parse HEAD")
        try #require(git.status == 0, "\(git)")
        let build = try xarbuild([
            "--project", project, "-r", p.pylock, "--wheelhouse", p.wheelhouse, "--entry-point",
            "first=hello_xar:other", "--staging-dir", scratch("stage"), "-o", scratch("hello.xar"),
        ])
        try #require(build.status == 0, "\(build)")
        #expect(build.stdout.contains("entry points: first, "), "\(build)")
        let metadata =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: scratch("stage/.xar/metadata.json")))) as? [String: Any]
        #expect(metadata?["revision"] as? String == git.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect((metadata?["lock"] as? [String: Any])?["file"] as? String == "pylock.toml")
        let mounts = PythonImageTests.Mounts()
        try FileManager.default.createSymbolicLink(
            atPath: scratch("hello-xar"), withDestinationPath: scratch("hello.xar"))
        let result = try run([scratch("hello-xar"), "x"], mounts)
        #expect(result.status == 0 && result.stdout == "hello-xar 1.17.0 ['x']\n", "\(result)")
        let first = try run([scratch("hello.xar")], mounts)
        #expect(first.stdout == "other\n", "\(first)")
    }

    @Test(arguments: ["pylock.toml", "uv.lock"])
    func tamperedHashIsRefused(lockName: String) throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-tampered")
        let original = lockName == "uv.lock" ? p.uvLock : p.pylock
        var text = try String(contentsOfFile: original, encoding: .utf8)
        let tampered = String(p.sixHash.dropLast()) + (p.sixHash.hasSuffix("0") ? "1" : "0")
        text = text.replacingOccurrences(of: p.sixHash, with: tampered)
        try Project.write(scratch(lockName), text)
        let build = try xarbuild([
            "--project", p.project, "-r", scratch(lockName), "--wheelhouse", p.wheelhouse, "-o", scratch("out.xar"),
        ])
        #expect(build.status == 1, "\(build)")
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
            $0.hasPrefix("name = \"six\"")
        }.map { $0 }  // the package's header is the line before its name
        #expect(
            build.stderr.contains(
                "xarbuild: error: \(scratch(lockName)):\(line ?? 0): six==1.17.0: hash mismatch: "
                    + "\((p.six as NSString).lastPathComponent) has sha256:\(p.sixHash), but the lock allows only sha256:\(tampered)."
            ), "\(build)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    @Test func missingBackendIsRefusedNamingThePyproject() throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-nobackend")
        try FileManager.default.createDirectory(atPath: scratch("wheelhouse"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: p.six, toPath: scratch("wheelhouse/\((p.six as NSString).lastPathComponent)"))
        let build = try xarbuild([
            "--project", p.project, "--wheelhouse", scratch("wheelhouse"), "-o", scratch("out.xar"),
        ])
        #expect(build.status == 1, "\(build)")
        #expect(
            build.stderr
                == "xarbuild: error: \(p.project)/pyproject.toml: the build requirement `flit_core >=3.2,<4` "
                + "([build-system] requires) has no wheel in the wheelhouse \(scratch("wheelhouse")); put one there "
                + "(`xarbuild python --project … --download`, or `pip download --no-deps --only-binary=:all: 'flit_core >=3.2,<4'`).\n",
            "\(build)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    @Test func failingBackendShowsItsOutputAndNoPyprojectIsNamed() throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-broken")
        // flit_core needs the module named after the project; this one has none.
        try Project.write(
            scratch("broken/pyproject.toml"),
            """
            [build-system]
            requires = ["flit_core >=3.2,<4"]
            build-backend = "flit_core.buildapi"
            [project]
            name = "broken-xar"
            version = "1.0"
            description = "no module"
            """)
        let build = try xarbuild([
            "--project", scratch("broken"), "--wheelhouse", p.wheelhouse, "--entry-point", "x=y:z", "-o",
            scratch("out.xar"),
        ])
        #expect(build.status == 1, "\(build)")
        #expect(
            build.stderr.hasPrefix(
                "xarbuild: error: \(scratch("broken"))/pyproject.toml: the build backend flit_core.buildapi failed "
                    + "to build the wheel (exit status 1); its last output:\n    Traceback (most recent call last):\n"),
            "\(build)")
        // flit's own message, as it printed it, and nothing else prefixed as an error.
        #expect(build.stderr.contains("\n    ValueError: No file/folder found for module broken_xar\n"), "\(build)")
        #expect(build.stderr.components(separatedBy: "xarbuild: error:").count == 2, "\(build)")

        let empty = try xarbuild(["--project", scratch("."), "--wheelhouse", p.wheelhouse, "-o", scratch("out.xar")])
        #expect(empty.status == 1)
        #expect(
            empty.stderr
                == "xarbuild: error: \(scratch("."))/pyproject.toml does not exist; --project needs a directory with a "
                + "pyproject.toml (PEP 517 and 621).\n", "\(empty)")
    }

    /// The one test that reaches PyPI on every run: `--download` fetches exactly the locked wheel and the
    /// backend for the bundled interpreter into an empty wheelhouse; the next build is offline.
    @Test func downloadFillsAnEmptyWheelhouseThenBuildsOffline() throws {
        let p = try Project.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-project-download")
        let project = try projectWithout(lock: false, in: scratch)
        let first = try xarbuild([
            "--project", project, "-r", p.pylock, "--wheelhouse", scratch("wheelhouse"), "--download", "-o",
            scratch("a.xar"),
        ])
        try #require(first.status == 0, "\(first)")
        let fetched = try FileManager.default.contentsOfDirectory(atPath: scratch("wheelhouse")).sorted()
        // The newest flit_core 3.x (the backend is not locked), and exactly the locked six.
        #expect(fetched.count == 2 && fetched[0].hasPrefix("flit_core-3."), "\(fetched)")
        #expect(fetched.last == (p.six as NSString).lastPathComponent)
        #expect(
            first.stderr.contains(
                "xarbuild: downloaded 2 files into \(scratch("wheelhouse")) with \(PythonFixtures.python) -m pip: "
                    + fetched.joined(separator: ", ")), "\(first)")
        #expect(try PyPIWheels.sha256(scratch("wheelhouse/\(fetched[1])")) == p.sixHash)
        let second = try xarbuild([
            "--project", project, "-r", p.pylock, "--wheelhouse", scratch("wheelhouse"), "-o", scratch("b.xar"),
        ])
        try #require(second.status == 0, "\(second)")
        #expect(!second.stderr.contains("download"), "\(second)")
        let mounts = PythonImageTests.Mounts()
        let result = try run([scratch("b.xar")], mounts)
        #expect(result.stdout == "hello-xar 1.17.0 []\n", "\(result)")
    }
}

/// Other PEP 517 backends, through the library call that builds a project's wheel (no image): hatchling, whose
/// own requirements must come from the wheelhouse too, and setuptools, which the host's Python also has — the
/// backend must be the wheelhouse's, never the host's.
@Suite(
    .tags(.python, .slow),
    .enabled(if: FileManager.default.isExecutableFile(atPath: PythonFixtures.python), "needs python3 with pip"))
struct PythonProjectBackendTests {
    static let backends: [String: (requires: String, backend: String, wheels: [(String, String)])] = [
        "hatchling": (
            "hatchling", "hatchling.build",
            [
                ("hatchling", "1.27.0"), ("packaging", "24.2"), ("pathspec", "0.12.1"), ("pluggy", "1.5.0"),
                ("trove-classifiers", "2025.1.15.22"),
            ]
        ),
        "setuptools": ("setuptools>=61", "setuptools.build_meta", [("setuptools", "75.8.0")]),
    ]

    @Test(arguments: ["hatchling", "setuptools"])
    func backendFromTheWheelhouseBuildsTheWheel(name: String) throws {
        let spec = try #require(Self.backends[name])
        let scratch = TemporaryDirectory(prefix: "xar-project-\(name)")
        try FileManager.default.createDirectory(atPath: scratch("wheelhouse"), withIntermediateDirectories: true)
        var wheels: [String] = []
        for (project, version) in spec.wheels {
            let wheel = try PyPIWheels.fetch(["\(project)==\(version)"])[0]
            wheels.append((wheel as NSString).lastPathComponent)
            try FileManager.default.copyItem(
                atPath: wheel, toPath: scratch("wheelhouse/\((wheel as NSString).lastPathComponent)"))
        }
        try PythonProjectTests.Project.write(
            scratch("hello/pyproject.toml"),
            """
            [build-system]
            requires = ["\(spec.requires)"]
            build-backend = "\(spec.backend)"

            [project]
            name = "hello-xar"
            version = "0.3.0"
            requires-python = ">=3.9"

            [project.scripts]
            hello-xar = "hello_xar:main"
            """)
        try PythonProjectTests.Project.write(scratch("hello/hello_xar/__init__.py"), "def main():\n    print('hi')")
        try FileManager.default.createDirectory(atPath: scratch("work"), withIntermediateDirectories: true)
        var messages: [String] = []
        let built = try ProjectWheelBuilder(directory: scratch("hello")).build(
            python: PythonFixtures.python, wheelhouse: scratch("wheelhouse"), scratch: scratch("work"),
            progress: { messages.append($0) })
        #expect((built.wheel as NSString).lastPathComponent == "hello_xar-0.3.0-py3-none-any.whl")
        #expect(built.scripts.map { "\($0.0)=\($0.1)" } == ["hello-xar=hello_xar:main"])
        #expect(built.project.name == "hello-xar" && built.project.backend == spec.backend)
        // Every wheel given was installed as a build requirement, from the wheelhouse.
        #expect(
            Set(
                messages.filter { $0.hasPrefix("installing the build requirement ") }.map {
                    String($0.split(separator: " ").last!)
                })
                == Set(wheels), "\(messages)")
        let listing = try XarTestSupport.Process.run([PythonFixtures.python, "-m", "zipfile", "-l", built.wheel])
        #expect(listing.stdout.contains("hello_xar/__init__.py"), "\(listing)")
        // The backend ran from the scratch directory's site-packages, not the host's.
        let backendModule = spec.backend.split(separator: ".")[0]
        #expect(FileManager.default.fileExists(atPath: scratch("work/site-packages/\(backendModule)")))

        if name == "hatchling" {
            // The backend's own requirements keep their version specifiers.
            try FileManager.default.removeItem(atPath: scratch("wheelhouse/packaging-24.2-py3-none-any.whl"))
            try FileManager.default.createDirectory(atPath: scratch("work1"), withIntermediateDirectories: true)
            let error = try #require(throws: PythonBuildError.self) {
                try ProjectWheelBuilder(directory: scratch("hello")).build(
                    python: PythonFixtures.python, wheelhouse: scratch("wheelhouse"), scratch: scratch("work1"))
            }
            #expect(
                error.problems.first?.hasPrefix(
                    "\(scratch("hello"))/pyproject.toml: the build requirement `packaging>=24.2` (hatchling 1.27.0's requirements) has no wheel"
                ) == true, "\(error)")
        }
        // Without the backend in the wheelhouse the build stops before running anything, even though the
        // host's Python may have the backend installed.
        let first = (try PyPIWheels.fetch(["\(spec.wheels[0].0)==\(spec.wheels[0].1)"])[0] as NSString)
            .lastPathComponent
        try FileManager.default.removeItem(atPath: scratch("wheelhouse/\(first)"))
        try FileManager.default.createDirectory(atPath: scratch("work2"), withIntermediateDirectories: true)
        let error = try #require(throws: PythonBuildError.self) {
            try ProjectWheelBuilder(directory: scratch("hello")).build(
                python: PythonFixtures.python, wheelhouse: scratch("wheelhouse"), scratch: scratch("work2"))
        }
        #expect(
            error.problems.first?.hasPrefix(
                "\(scratch("hello"))/pyproject.toml: the build requirement `\(spec.requires)` ([build-system] requires) has no wheel in the wheelhouse"
            ) == true, "\(error)")
    }
}
