import Foundation
import Glibc
import Testing
import XarTestSupport

/// A runtime whose wheel ships a `.pth` file with an import line (setuptools 75.8.0: `distutils-precedence.pth`,
/// which installs `_distutils_hack`'s shim), and thin applications on it: `tool.xar`, whose own wheel ships one too
/// (protobuf 3.20.3: `protobuf-3.20.3-nspkg.pth`, which makes the `google` namespace package through
/// `sys._getframe(1).f_locals['sitedir']`, as site runs it), and `other.xar`, a second application without it.
/// `tool.xar` also locks ninja 1.11.1.2, whose binary is in the wheel's `.data/scripts` and which finds it through
/// `sysconfig.get_path('scripts')`: the application's own `python/bin`, its prefix as a venv's is its own.
/// Built once per test process with `RuntimeBuilds`' helpers; removed when the process exits.
final class PthRuntimeBuilds: Sendable {
    static let directory = TemporaryDirectory(prefix: "xar-pth-runtimes")
    static let shared = Result { try PthRuntimeBuilds() }

    /// What a process sees: the `.pth` import lines' effects before anything else is imported, then the
    /// application's own module and wheel. `python -m probe` prints it too.
    static let probe = #"""
        import json, sys

        seen = {'nspkg': 'google' in sys.modules, 'shim': '_distutils_hack' in sys.modules, 'path': list(sys.path)}


        def report():
            found = dict(seen)
            for name in ('tool', 'google.protobuf'):
                try:
                    found[name] = __import__(name, fromlist=['_']).__file__
                except ImportError as error:
                    found[name] = 'ImportError: %s' % error
            import sysconfig
            found['prefixes'] = [sys.prefix, sys.exec_prefix, sys.base_prefix, sysconfig.get_path('scripts')]
            try:
                found['ninja'] = __import__('ninja').BIN_DIR
            except ImportError as error:
                found['ninja'] = 'ImportError: %s' % error
            return found


        if __name__ == '__main__':
            print(json.dumps(report()))
        """#

    /// `tool.xar`'s entry points: `parent` reports itself and its children; `others` starts programs that are not
    /// the application's interpreter.
    static let tool = #"""
        import json, os, subprocess, sys

        import probe

        CHILD = 'import probe, json; print(json.dumps(probe.report()))'


        def child(command):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                return {'status': done.returncode, 'stderr': done.stderr[-2000:]}
            return json.loads(done.stdout)


        def parent():
            import distutils
            import multiprocessing
            me = probe.report()
            me['distutils'] = distutils.__file__
            me['environment'] = os.environ.get('XAR_PYTHON_APP')
            ninja = subprocess.run([me['ninja'] + '/ninja', '--version'], capture_output=True, text=True)
            me['ninja_version'] = [ninja.returncode, ninja.stdout.strip(), ninja.stderr[-500:]]
            runs = {'-c': [], '-I -c': ['-I'], '-S -c': ['-S'], '-E -s -c': ['-E', '-s']}
            children = {name: child([sys.executable] + flags + ['-c', CHILD]) for name, flags in runs.items()}
            children['-m'] = child([sys.executable, '-m', 'probe'])
            with multiprocessing.get_context('spawn').Pool(1) as pool:
                children['spawn'] = pool.apply(probe.report)
            print(json.dumps({'self': me, 'children': children}))


        def others():
            # argv: the launcher, another thin application on the same runtime, a host python.
            xarexec, other, host = sys.argv[1:4]
            found = {'other': child([xarexec, other])}
            done = subprocess.run([host, '-c', 'import tool'], capture_output=True, text=True)
            found['host'] = [done.returncode, done.stderr.strip().splitlines()[-1:]]
            print(json.dumps(found))
        """#

    /// `other.xar`'s entry point: its own child sees it, and not `tool.xar`.
    static let other = #"""
        import json, subprocess, sys


        def main():
            code = ('import json, other\ntry:\n    import tool\nexcept ImportError:\n    tool = None\n'
                    'print(json.dumps([other.__file__, tool and tool.__file__]))')
            done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
            print(json.dumps(json.loads(done.stdout)))
        """#

    let runtime: String, tool: String, other: String

    private init() throws {
        let dir = Self.directory
        atexit {
            _ = try? XarTestSupport.Process.run(["/bin/rm", "-rf", PthRuntimeBuilds.directory.path], timeout: 60)
        }
        let pins = ["setuptools==75.8.0", "protobuf==3.20.3", "pyflakes==3.2.0", "ninja==1.11.1.2"]
        let wheels = try PyPIWheels.fetch(pins)
        let wheelhouse = dir("wheels")
        try FileManager.default.createDirectory(atPath: wheelhouse, withIntermediateDirectories: true)
        for wheel in wheels {
            try FileManager.default.copyItem(
                atPath: wheel, toPath: "\(wheelhouse)/\((wheel as NSString).lastPathComponent)")
        }
        let locks = try zip(pins, wheels).map { "\($0.0) --hash=sha256:\(try RuntimeBuilds.sha256($0.1))\n" }
        // The runtime: setuptools, and pyflakes for a console script of the runtime a thin image names.
        try RuntimeBuilds.write(locks[0] + locks[2], to: dir("runtime.txt"))
        try RuntimeBuilds.write(locks[1] + locks[3], to: dir("tool.txt"))
        for (name, files) in [
            ("tool", ["tool.py": Self.tool, "probe.py": Self.probe]), ("other", ["other.py": Self.other]),
        ] {
            try FileManager.default.createDirectory(atPath: dir("src-\(name)"), withIntermediateDirectories: true)
            for (file, text) in files { try RuntimeBuilds.write(text, to: dir("src-\(name)/\(file)")) }
        }
        runtime = try RuntimeBuilds.buildRuntime(dir("pthrt.xar"), lock: dir("runtime.txt"), wheelhouse: wheelhouse)
        tool = try Self.buildThin(
            "tool", on: runtime,
            extra: [
                "--entry-point", "parent=tool:parent", "--entry-point", "others=tool:others", "-r", dir("tool.txt"),
                "--wheelhouse", wheelhouse,
            ])
        other = try Self.buildThin(
            "other", on: runtime, extra: ["--entry-point", "other=other:main", "--entry-point", "pyflakes"])
    }

    static func buildThin(_ name: String, on runtime: String, extra: [String]) throws -> String {
        let output = directory("\(name).xar")
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--runtime", runtime, "--source",
                directory("src-\(name)"),
                "--level", "3", "-o", output,
            ] + extra, environment: RuntimeBuilds.buildEnvironment, timeout: 300)
        try #require(built.status == 0, "xarbuild python --runtime: \(built)")
        return output
    }
}

/// Python in thin applications (docs/runtimes.md, "Children" and ".pth files"): a process started from
/// `sys.executable` sees the application first, with any interpreter flags, as a child of a standalone image does;
/// other programs and other applications do not; the `.pth` import lines of the runtime's and the application's
/// wheels run in the application and in its children, as CPython's site runs them.
@Suite(
    .tags(.fuse, .python, .slow),
    .enabled(
        if: XarctlOpsFixture.canRun && access("/usr/bin/python3.11", X_OK) == 0 && TestEnvironment.hasTool("patchelf")),
    .serialized)
struct RuntimePythonTests {
    let fixture = XarctlOpsFixture()

    func builds() throws -> PthRuntimeBuilds { try PthRuntimeBuilds.shared.get() }

    func finish() { fixture.unmountAllAndWait() }

    /// Runs `command` as `env -i` would, with only the private mount root and `extra`.
    func run(_ command: [String], _ extra: [String: String] = [:]) throws -> XarTestSupport.Process.Result {
        try fixture.runIsolated(command, extra, timeout: 180)
    }

    func json(_ result: XarTestSupport.Process.Result) throws -> Any {
        try #require(result.status == 0, "\(result)")
        let line = try #require(result.stdout.split(whereSeparator: \.isNewline).last.map(String.init), "\(result)")
        return try JSONSerialization.jsonObject(with: Data(line.utf8))
    }

    /// The mount point of the image at `path` under the fixture's root, if mounted.
    func mount(of path: String) throws -> String? {
        let uuid = try RuntimeBuilds.headerValue("UUID", of: path)
        return try fixture.mountPoints().first { ($0 as NSString).lastPathComponent.hasPrefix(uuid + "-") }
    }

    /// A directory with `xarexec` and a symlink to `tool.xar` named after each of its entry points.
    func entryPointLinks() throws -> String {
        let b = try builds()
        let bin = PthRuntimeBuilds.directory("bin-\(getpid())")
        guard !FileManager.default.fileExists(atPath: bin) else { return bin }
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["parent", "others"] {
            try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(name)", withDestinationPath: b.tool)
        }
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/pyflakes", withDestinationPath: b.other)
        try FileManager.default.createSymbolicLink(
            atPath: "\(bin)/xarexec", withDestinationPath: TestEnvironment.product("xarexec"))
        return bin
    }

    /// Checks that `seen` (a probe's report) is of a process that sees the application at `app` first, on the
    /// runtime at `runtime`, with both wheels' `.pth` import lines run before anything else.
    func expectApplication(_ seen: Any?, app: String, runtime: String, _ what: String) {
        guard let seen = seen as? [String: Any] else {
            Issue.record("\(what): \(String(describing: seen))")
            return
        }
        #expect(seen["tool"] as? String == "\(app)/app/tool.py", "\(what): \(seen)")
        #expect(
            seen["google.protobuf"] as? String
                == "\(app)/python/lib/python3.11/site-packages/google/protobuf/__init__.py", "\(what): \(seen)")
        #expect(seen["nspkg"] as? Bool == true, "\(what): the application wheel's .pth import line ran: \(seen)")
        #expect(seen["shim"] as? Bool == true, "\(what): the runtime wheel's .pth import line ran: \(seen)")
        // The application's prefix is its own python/, where its wheels' scripts are; the base is the runtime's.
        #expect(
            seen["prefixes"] as? [String] == [
                "\(app)/python", "\(app)/python", "\(runtime)/python", "\(app)/python/bin",
            ], "\(what): \(seen)")
        #expect(seen["ninja"] as? String == "\(app)/python/bin", "\(what): \(seen)")
        let path = seen["path"] as? [String] ?? []
        #expect(
            Array(path.prefix(4)) == [
                "\(app)/app", "\(app)/python/lib/python3.11/site-packages", "\(app)/.xar",
                "\(runtime)/python/lib/python3.11",
            ], "\(what): the application first, then the runtime: \(path)")
    }

    @Test func childrenOfSysExecutableSeeTheApplicationWithAnyFlagsAndRunThePthImportLines() throws {
        let b = try builds()
        defer { finish() }
        // Through a symlink named after the entry point, found on PATH by the shebang.
        let bin = try entryPointLinks()
        let result = try run(["\(bin)/parent"], ["PATH": "\(bin):/usr/bin:/bin"])
        let report = try #require(try json(result) as? [String: Any])
        let app = try #require(try mount(of: b.tool)), runtime = try #require(try mount(of: b.runtime))
        let me = report["self"] as? [String: Any]
        expectApplication(me, app: app, runtime: runtime, "the application")
        // setuptools' shim, installed by its .pth line, answers `import distutils` with setuptools' copy.
        #expect(
            me?["distutils"] as? String
                == "\(runtime)/python/lib/python3.11/site-packages/setuptools/_distutils/__init__.py", "\(result)")
        #expect(me?["environment"] as? String == "\(runtime):\(app)", "\(result)")
        #expect(me?["ninja_version"] as? [AnyHashable] == [0, "1.11.1.git.kitware.jobserver-1", ""], "\(result)")
        let children = try #require(report["children"] as? [String: Any], "\(result)")
        #expect(Set(children.keys) == ["-c", "-I -c", "-S -c", "-E -s -c", "-m", "spawn"], "\(children)")
        for (name, seen) in children { expectApplication(seen, app: app, runtime: runtime, "child \(name)") }
    }

    @Test func otherProgramsAndAnotherApplicationStartedFromItDoNotSeeIt() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let bin = try entryPointLinks()
        let result = try run(
            ["\(bin)/others", xarexec, b.other, "/usr/bin/python3.11"], ["PATH": "\(bin):/usr/bin:/bin"])
        let found = try #require(try json(result) as? [String: Any])
        let other = try #require(try mount(of: b.other), "other.xar ran")
        // The other application's child sees the other application, not the one that started it.
        #expect(found["other"] as? [AnyHashable] == ["\(other)/app/other.py", NSNull()], "\(result)")
        let host = found["host"] as? [Any]
        #expect(host?.first as? Int == 1, "\(result)")
        #expect(
            (host?.last as? [String])?.first == "ModuleNotFoundError: No module named 'tool'",
            "the host's python ignores the variable: \(result)")
        // The runtime run as python3 on its own: its wheel's .pth import line runs, and no application is seen.
        let alone = try run([
            xarexec, b.runtime, "-c",
            "import os, sys; print('_distutils_hack' in sys.modules, 'google' in sys.modules, "
                + "os.environ.get('XAR_PYTHON_APP'))",
        ])
        #expect(alone.status == 0 && alone.stdout == "True False None\n", "\(alone)")
        // `--entry-point pyflakes` named the console script of a wheel the runtime provides (the build failed
        // before: only the thin image's own wheels were searched); it runs from the runtime.
        let pyflakes = try run(["\(bin)/pyflakes", "--version"], ["PATH": "\(bin):/usr/bin:/bin"])
        #expect(pyflakes.status == 0 && pyflakes.stdout.hasPrefix("3.2.0 Python 3.11"), "\(pyflakes)")
    }

    @Test func withoutFuseChildrenSeeTheApplicationInTheExtractedTrees() throws {
        let b = try builds()
        defer { finish() }
        let cache = fixture.dir("no-fuse-cache")
        let env = ["XAR_FUSE_DEVICE": fixture.dir("no-such-fuse"), "XDG_CACHE_HOME": cache, "XAR_QUIET": "1"]
        let result = try run([TestEnvironment.product("xarexec"), b.tool], env)
        let report = try #require(try json(result) as? [String: Any])
        let digest = try RuntimeBuilds.headerValue("XAR_IMAGE_SHA256", of: b.runtime)
        let runtime = "\(cache)/xar/extract/\(digest)"
        let trees = try FileManager.default.contentsOfDirectory(atPath: "\(cache)/xar/extract")
        let name = try #require(
            trees.first { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") && $0 != digest }, "\(trees)")
        let app = "\(cache)/xar/extract/\(name)"
        expectApplication(report["self"], app: app, runtime: runtime, "the application")
        let children = try #require(report["children"] as? [String: Any], "\(result)")
        for (name, seen) in children { expectApplication(seen, app: app, runtime: runtime, "child \(name)") }
        #expect(try fixture.mountPoints().isEmpty)
    }
}
