import Foundation
import Glibc
import Testing
import XarTestSupport

/// Debian's interpreter, which the runtimes carry.
private let runtimePython = "/usr/bin/python3.11"

/// The runtimes and thin applications the tests share, built once per test process (a runtime build takes tens of
/// seconds): `v1.xar` (MarkupSafe, a real compiled wheel from PyPI, and six), `v2.xar` (the same plus mccabe
/// 0.6.1, so another digest), and three thin applications on v1 and one on v2. Removed when the process exits.
final class RuntimeBuilds: Sendable {
    static let directory = TemporaryDirectory(prefix: "xar-runtimes")
    static let shared = Result { try RuntimeBuilds() }

    /// The application's source: each entry point prints one JSON line about itself.
    static let source = #"""
        import json, os, sys, time


        def report(name, **extra):
            import markupsafe
            try:
                import mccabe
                mccabe_version = mccabe.__version__
            except ImportError:
                mccabe_version = None
            r = {'name': name, 'escaped': str(markupsafe.escape('<b>')), 'executable': sys.executable,
                 'mccabe': mccabe_version, 'markupsafe': markupsafe.__version__,
                 'speedups': markupsafe.escape.__module__, 'argv': sys.argv[1:],
                 'stdlib_loader': type(json.__spec__.loader).__name__}
            r.update(extra)
            print(json.dumps(r, sort_keys=True), flush=True)


        def double(x):
            return 2 * x


        def alpha():
            import multiprocessing
            with multiprocessing.get_context('spawn').Pool(1) as pool:
                spawned = pool.apply(double, (21,))
            report('alpha', spawn=spawned)


        def beta():
            seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0
            time.sleep(seconds)
            report('beta')


        def gamma():
            import subprocess
            child = subprocess.run([sys.executable, '-c', 'import markupsafe; print(markupsafe.__version__)'],
                                   capture_output=True, text=True)
            report('gamma', child=[child.returncode, child.stdout.strip()])
        """#

    let v1: String, v2: String
    let alpha: String, beta: String, gamma: String, delta: String
    let wheelhouse: String
    let digest1: String, digest2: String

    private init() throws {
        let dir = Self.directory
        atexit {
            _ = try? XarTestSupport.Process.run(["/bin/rm", "-rf", RuntimeBuilds.directory.path], timeout: 60)
        }
        let wheels = try PyPIWheels.fetch(["markupsafe==2.1.5", "six==1.17.0", "mccabe==0.7.0", "mccabe==0.6.1"])
        wheelhouse = dir("wheels")
        try FileManager.default.createDirectory(atPath: wheelhouse, withIntermediateDirectories: true)
        for wheel in wheels {
            try FileManager.default.copyItem(
                atPath: wheel, toPath: "\(wheelhouse)/\((wheel as NSString).lastPathComponent)")
        }
        let pins = try zip(["markupsafe==2.1.5", "six==1.17.0", "mccabe==0.7.0", "mccabe==0.6.1"], wheels).map {
            "\($0.0) --hash=sha256:\(try Self.sha256($0.1))"
        }
        try Self.write(pins[0] + "\n" + pins[1] + "\n", to: dir("v1.txt"))
        try Self.write(pins[0] + "\n" + pins[1] + "\n" + pins[3] + "\n", to: dir("v2.txt"))
        // alpha brings its own mccabe; gamma's lock also pins the runtime's MarkupSafe, at the runtime's version.
        try Self.write(pins[2] + "\n", to: dir("alpha.txt"))
        try Self.write(pins[0] + "\n" + pins[2] + "\n", to: dir("gamma.txt"))
        try FileManager.default.createDirectory(atPath: dir("src"), withIntermediateDirectories: true)
        try Self.write(Self.source, to: dir("src/tool.py"))

        v1 = try Self.buildRuntime(dir("v1.xar"), lock: dir("v1.txt"), wheelhouse: wheelhouse)
        v2 = try Self.buildRuntime(dir("v2.xar"), lock: dir("v2.txt"), wheelhouse: wheelhouse)
        digest1 = try Self.headerValue("XAR_IMAGE_SHA256", of: v1)
        digest2 = try Self.headerValue("XAR_IMAGE_SHA256", of: v2)
        alpha = try Self.buildThin("alpha", on: v1, lock: dir("alpha.txt"), wheelhouse: wheelhouse)
        beta = try Self.buildThin("beta", on: v1, lock: nil, wheelhouse: wheelhouse)
        gamma = try Self.buildThin("gamma", on: v1, lock: dir("gamma.txt"), wheelhouse: wheelhouse)
        delta = try Self.buildThin("alpha", on: v2, lock: nil, wheelhouse: wheelhouse, output: dir("delta.xar"))
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    static func sha256(_ path: String) throws -> String {
        let result = try XarTestSupport.Process.run(["/usr/bin/sha256sum", path], timeout: 30)
        return String(result.stdout.prefix(64))
    }

    /// The value of `key` in the header of the `.xar` at `path`.
    static func headerValue(_ key: String, of path: String) throws -> String {
        let head = try #require(FileHandle(forReadingAtPath: path)?.readData(ofLength: 4096))
        let text = String(decoding: head, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("\(key)=\"") }, "\(key) in \(path)")
        return String(line.dropFirst(key.count + 2).dropLast())
    }

    static func buildRuntime(_ output: String, lock: String, wheelhouse: String) throws -> String {
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "runtime", "--python", runtimePython, "-r", lock, "--wheelhouse",
                wheelhouse, "--level", "3", "-o", output,
            ], environment: buildEnvironment, timeout: 600)
        try #require(built.status == 0, "xarbuild runtime: \(built)")
        return output
    }

    /// Builds the thin image `name` (its entry point `name`) on `runtime`.
    static func buildThin(
        _ name: String, on runtime: String, lock: String?, wheelhouse: String, output: String? = nil,
        extra: [String] = []
    ) throws -> String {
        let output = output ?? directory("\(name).xar")
        let built = try XarTestSupport.Process.run(
            thinCommand(name, on: runtime, lock: lock, output: output) + extra,
            environment: buildEnvironment, timeout: 300)
        try #require(built.status == 0, "xarbuild python --runtime: \(built)")
        return output
    }

    static func thinCommand(_ name: String, on runtime: String, lock: String?, output: String) -> [String] {
        var command = [
            TestEnvironment.product("xarbuild"), "python", "--runtime", runtime, "--source", directory("src"),
            "--entry-point", "\(name)=tool:\(name)", "--level", "3", "-o", output,
        ]
        if let lock { command += ["-r", lock, "--wheelhouse", directory("wheels")] }
        return command
    }

    static var buildEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SOURCE_DATE_EPOCH"] = "1700000000"
        return env
    }
}

/// Shared, pinned runtimes (docs/runtimes.md): thin applications on one runtime run with nothing in their
/// environment, share its one mount, keep it while any of them runs and lose it after the grace period; builds
/// refuse locks that disagree with the runtime; a missing runtime is one line and status 118; two runtime versions
/// serve their applications at once.
@Suite(
    .tags(.fuse, .python, .slow),
    .enabled(if: XarctlOpsFixture.canRun && access(runtimePython, X_OK) == 0 && TestEnvironment.hasTool("patchelf")),
    .serialized)
struct RuntimeTests {
    let fixture = XarctlOpsFixture()

    func builds() throws -> RuntimeBuilds { try RuntimeBuilds.shared.get() }

    func finish() { fixture.unmountAllAndWait() }

    /// Runs `command` as `env -i` would, with only the private mount root and `extra`.
    func run(_ command: [String], _ extra: [String: String] = [:], timeout: Double = 120) throws
        -> XarTestSupport.Process.Result
    {
        try fixture.runIsolated(command, extra, timeout: timeout)
    }

    func report(_ result: XarTestSupport.Process.Result) throws -> [String: Any] {
        try #require(result.status == 0, "\(result)")
        let line = try #require(result.stdout.split(whereSeparator: \.isNewline).last.map(String.init), "\(result)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(result)")
    }

    /// The mount point of the image at `path` under the fixture's root, if mounted.
    func mount(of path: String) throws -> String? {
        let uuid = try RuntimeBuilds.headerValue("UUID", of: path)
        return try fixture.mountPoints().first { ($0 as NSString).lastPathComponent.hasPrefix(uuid + "-") }
    }

    @Test func aRuntimeRunsLikeItsPython() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let result = try run(
            [
                xarexec, b.v1, "-c",
                "import markupsafe, six, sys; print(markupsafe.escape('<'), six.__version__, sys.version_info[:2])",
            ])
        #expect(result.status == 0 && result.stdout == "&lt; 1.17.0 (3, 11)\n", "\(result)")
        // The parts a standalone image leaves out unless its code mentions them: a runtime keeps them all.
        let stdlib = try run([xarexec, b.v1, "-c", "import curses, readline, sqlite3; print('kept')"])
        #expect(stdlib.status == 0 && stdlib.stdout == "kept\n", "\(stdlib)")
        let inspected = try fixture.xarctl(["inspect", "--json", b.v1])
        #expect(inspected.stdout.contains("\"kind\":\"runtime\""), "\(inspected)")
    }

    @Test func threeThinApplicationsRunWithAnEmptyEnvironmentOnOneRuntimeMount() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        // Thin: a few kilobytes besides the runtime's megabytes.
        for app in [b.alpha, b.beta, b.gamma] {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: app)[.size] as? Int)
            #expect(size < 200_000, "\(app): \(size) bytes")
        }
        let alpha = try report(try run([xarexec, b.alpha, "x"]))
        // beta through a symlink named after its entry point, found on PATH by the shebang.
        let bin = RuntimeBuilds.directory("bin-\(getpid())")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/beta", withDestinationPath: b.beta)
        try FileManager.default.createSymbolicLink(atPath: "\(bin)/xarexec", withDestinationPath: xarexec)
        let beta = try report(try run(["\(bin)/beta"], ["PATH": "\(bin):/usr/bin:/bin"]))
        let gamma = try report(try run([xarexec, b.gamma]))

        #expect(alpha["name"] as? String == "alpha" && alpha["argv"] as? [String] == ["x"], "\(alpha)")
        #expect(beta["name"] as? String == "beta" && gamma["name"] as? String == "gamma")
        for r in [alpha, beta, gamma] {
            #expect(r["escaped"] as? String == "&lt;b&gt;", "\(r)")
            #expect(r["markupsafe"] as? String == "2.1.5", "\(r)")
            // The standard library is imported through the runtime's import index, as in a standalone image.
            #expect(r["stdlib_loader"] as? String == "BytecodeLoader", "\(r)")
        }
        #expect(alpha["spawn"] as? Int == 42, "multiprocessing spawn: \(alpha)")
        #expect(alpha["mccabe"] as? String == "0.7.0" && beta["mccabe"] is NSNull, "\(alpha) \(beta)")
        #expect(gamma["child"] as? [AnyHashable] == [0, "2.1.5"], "subprocess of sys.executable: \(gamma)")
        // One runtime mount: every application's interpreter is the runtime's, in the same mount.
        let runtimeMount = try #require(try mount(of: b.v1), "the runtime is mounted")
        for r in [alpha, beta, gamma] {
            #expect(r["executable"] as? String == runtimeMount + "/python/python3", "\(r)")
        }
        let mounts = try fixture.mountPoints()
        #expect(mounts.count == 4, "the runtime and three applications: \(mounts)")
        #expect(mounts.filter { $0 == runtimeMount }.count == 1, "\(mounts)")

        let inspected = try fixture.xarctl(["inspect", b.alpha])
        #expect(inspected.stdout.contains("runtime:\n  "), "\(inspected)")
        #expect(inspected.stdout.contains(b.digest1), "\(inspected)")
        // The chain: the runtime next to it, its digest, the target in it.
        let verified = try fixture.xarctl(["verify", b.alpha])
        #expect(
            verified.status == 0 && verified.stdout.contains("; runtime \(b.v1): SHA-256 matches DEPENDENCIES"),
            "\(verified)")
    }

    @Test func aLockPinningOtherVersionsOfTheRuntimesPackagesIsRefusedWithEveryConflictNamed() throws {
        let b = try builds()
        let lock = RuntimeBuilds.directory("conflict-\(getpid()).txt")
        let zero = String(repeating: "0", count: 64)
        try RuntimeBuilds.write(
            "markupsafe==2.1.4 --hash=sha256:\(zero)\nsix==1.16.0 --hash=sha256:\(zero)\n", to: lock)
        // A wheel for another interpreter (CPython 3.12): refused by its tags, before it is read.
        let foreign = RuntimeBuilds.directory("foreign-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
        try RuntimeBuilds.write("not read", to: foreign)
        let output = RuntimeBuilds.directory("conflict-\(getpid()).xar")
        let result = try XarTestSupport.Process.run(
            RuntimeBuilds.thinCommand("alpha", on: b.v1, lock: lock, output: output) + ["--wheel", foreign],
            timeout: 300)
        #expect(result.status == 1, "\(result)")
        let lines = result.stderr.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.count == 4, "\(result)")
        #expect(
            lines.first?.hasPrefix("xarbuild: error: The lock \(lock) does not agree with the runtime v1.xar") == true
                && lines.first?.hasSuffix(": 3 conflicts.") == true, "\(result)")
        #expect(
            lines.contains { $0.contains("\(lock):1: markupsafe==2.1.4, but the runtime provides MarkupSafe 2.1.5") })
        #expect(lines.contains { $0.contains("\(lock):2: six==1.16.0, but the runtime provides six 1.17.0") })
        #expect(lines.contains { $0.contains("\(foreign) is for cp312-cp312-manylinux_2_17_x86_64") }, "\(result)")
        #expect(access(output, F_OK) != 0, "nothing is written")
    }

    @Test func aMissingOrMismatchedRuntimeIsOneLineWithStatus118() throws {
        let b = try builds()
        defer { finish() }
        let elsewhere = fixture.dir("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try TestFiles.copy(b.alpha, to: "\(elsewhere)/alpha.xar")
        let xarexec = TestEnvironment.product("xarexec")
        let missing = try run([xarexec, "\(elsewhere)/alpha.xar"], ["XAR_RUNTIME_PATH": fixture.dir("none")])
        #expect(missing.status == 118, "\(missing)")
        #expect(missing.stdout.isEmpty && missing.stderr.split(whereSeparator: \.isNewline).count == 1, "\(missing)")
        #expect(
            missing.stderr.hasPrefix(
                "xarexec: error: \(elsewhere)/alpha.xar runs on the runtime sha256:\(b.digest1), which is not in any of "
                    + "\(fixture.dir("none"))/v1.xar, \(fixture.dir("none"))/\(b.digest1).xar, \(elsewhere)/v1.xar, "),
            "\(missing)")
        #expect(missing.stderr.contains("/usr/lib/xar/runtimes/v1.xar"), "\(missing)")
        #expect(try fixture.mountPoints().isEmpty, "nothing is mounted")
        let verify = try fixture.xarctl(["verify", "\(elsewhere)/alpha.xar"], env: ["XAR_RUNTIME_PATH": ""])
        #expect(verify.status == 1 && verify.stderr.contains("its runtime sha256:\(b.digest1) is in none of"))

        // Another runtime under the name: named as what was found instead, still 118.
        try TestFiles.copy(b.v2, to: "\(elsewhere)/v1.xar")
        let mismatched = try run([xarexec, "\(elsewhere)/alpha.xar"])
        #expect(mismatched.status == 118, "\(mismatched)")
        #expect(mismatched.stderr.contains("(\(elsewhere)/v1.xar is sha256:\(b.digest2))"), "\(mismatched)")

        // Found through XAR_RUNTIME_PATH, under its digest's name.
        let shelf = fixture.dir("runtimes")
        try FileManager.default.createDirectory(atPath: shelf, withIntermediateDirectories: true)
        try TestFiles.copy(b.v1, to: "\(shelf)/\(b.digest1).xar")
        let found = try run([xarexec, "\(elsewhere)/alpha.xar"], ["XAR_RUNTIME_PATH": "/nonexistent:\(shelf)"])
        #expect(try report(found)["name"] as? String == "alpha")
    }

    @Test func theRuntimeMountOutlivesTheFirstApplicationAndGoesAfterTheGracePeriod() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let out = fixture.dir("beta.out")
        // beta sleeps in the background; alpha runs and ends meanwhile.
        let env = "XAR_MOUNT_ROOT=\(fixture.mountRoot) XAR_MOUNT_TIMEOUT=1"
        let started = try XarTestSupport.Process.run(
            ["/bin/sh", "-c", "env -i \(env) \(xarexec) \(b.beta) 7 > \(out) 2>&1 &"], timeout: 10)
        try #require(started.status == 0)
        #expect(fixture.eventually(within: 10) { (try? mount(of: b.beta)) ?? nil != nil }, "beta is mounted")
        let alpha = try run([xarexec, b.alpha], ["XAR_MOUNT_TIMEOUT": "1"])
        #expect(try report(alpha)["name"] as? String == "alpha")
        let runtimeMount = try #require(try mount(of: b.v1))
        // alpha's own mount goes once its grace period passes; the runtime's stays, beta still uses it.
        #expect(fixture.eventually(within: 10) { (try? mount(of: b.alpha)) ?? nil == nil }, "alpha's mount goes")
        #expect(try mount(of: b.v1) == runtimeMount, "the runtime's mount outlives alpha")
        #expect(try mount(of: b.beta) != nil, "beta's mount stays while beta runs, its files all closed")
        #expect(try fixture.contents(out).isEmpty, "beta still runs")
        // Once beta ends, both go after the grace period.
        #expect(fixture.eventually(within: 20) { (try? fixture.mountPoints().isEmpty) ?? false }, "all mounts go")
        #expect(try fixture.contents(out).contains("\"name\": \"beta\""), "beta ended normally")
    }

    @Test func twoRuntimeVersionsServeOldAndNewApplicationsAtOnce() throws {
        let b = try builds()
        defer { finish() }
        #expect(b.digest1 != b.digest2)
        let xarexec = TestEnvironment.product("xarexec")
        let out = fixture.dir("beta.out")
        let started = try XarTestSupport.Process.run(
            ["/bin/sh", "-c", "env -i XAR_MOUNT_ROOT=\(fixture.mountRoot) \(xarexec) \(b.beta) 4 > \(out) 2>&1 &"],
            timeout: 10)
        try #require(started.status == 0)
        let delta = try report(try run([xarexec, b.delta]))
        // delta is alpha built on v2: mccabe comes from its runtime now (0.6.1), not its own lock.
        #expect(delta["mccabe"] as? String == "0.6.1", "\(delta)")
        let old = try #require(try mount(of: b.v1), "v1 is mounted for beta")
        let new = try #require(try mount(of: b.v2), "v2 is mounted for delta")
        #expect(old != new)
        #expect(delta["executable"] as? String == new + "/python/python3", "\(delta)")
        let alpha = try report(try run([xarexec, b.alpha]))
        #expect(alpha["executable"] as? String == old + "/python/python3" && alpha["mccabe"] as? String == "0.7.0")
        #expect(fixture.eventually(within: 15) { ((try? fixture.contents(out)) ?? "").contains("beta") }, "beta ends")
    }

    @Test func thinBuildsAreByteIdenticalAndTheDepfileNamesTheRuntime() throws {
        let b = try builds()
        let again = RuntimeBuilds.directory("alpha-again-\(getpid()).xar")
        let depfile = again + ".d"
        _ = try RuntimeBuilds.buildThin(
            "alpha", on: b.v1, lock: RuntimeBuilds.directory("alpha.txt"), wheelhouse: b.wheelhouse, output: again,
            extra: ["--depfile", depfile])
        let first = try #require(FileManager.default.contents(atPath: b.alpha))
        let second = try #require(FileManager.default.contents(atPath: again))
        #expect(first == second, "the same inputs give the same bytes")
        let rule = try String(contentsOfFile: depfile, encoding: .utf8)
        #expect(rule.contains(b.v1), "\(rule)")
        #expect(try RuntimeBuilds.headerValue("DEPENDENCIES", of: again) == "v1.xar@sha256:\(b.digest1)")
    }

    @Test func listShowsWhichMountRunsOnWhichRuntimeBothWays() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let out = fixture.dir("beta-list.out")
        let started = try XarTestSupport.Process.run(
            ["/bin/sh", "-c", "env -i XAR_MOUNT_ROOT=\(fixture.mountRoot) \(xarexec) \(b.beta) 6 > \(out) 2>&1 &"],
            timeout: 10)
        try #require(started.status == 0)
        #expect(fixture.eventually(within: 10) { (try? mount(of: b.beta)) ?? nil != nil }, "beta is mounted")
        let app = try #require(try mount(of: b.beta))
        let runtime = try #require(try mount(of: b.v1), "the runtime is mounted for beta")

        let mounts = try fixture.listedMounts()
        let appRecord = try #require(mounts.first { $0["mount_point"] as? String == app }, "\(mounts)")
        let runtimeRecord = try #require(mounts.first { $0["mount_point"] as? String == runtime }, "\(mounts)")
        #expect(appRecord["runtime"] as? String == b.digest1, "\(appRecord)")
        #expect(appRecord["runtime_mount"] as? String == runtime, "\(appRecord)")
        #expect(appRecord["dependents"] as? [String] == [], "\(appRecord)")
        #expect(runtimeRecord["runtime"] as? String == "", "\(runtimeRecord)")
        #expect(runtimeRecord["dependents"] as? [String] == [app], "\(runtimeRecord)")

        let table = try fixture.xarctl(["list"])
        #expect(table.status == 0, "\(table)")
        let lines = table.stdout.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.first?.contains("  SOURCE  DEPENDS ") == true && lines.first?.hasSuffix("  IMAGE") == true)
        let appLine = try #require(lines.first { $0.hasPrefix(app + " ") }, "\(table)")
        let runtimeLine = try #require(lines.first { $0.hasPrefix(runtime + " ") }, "\(table)")
        #expect(appLine.contains(" on \(runtime) ") && appLine.hasSuffix(b.beta), "\(table)")
        #expect(runtimeLine.contains(" for \(app) ") && runtimeLine.hasSuffix(b.v1), "\(table)")
        #expect(fixture.eventually(within: 15) { ((try? fixture.contents(out)) ?? "").contains("beta") }, "beta ends")
    }

    @Test func warmOfAThinImageWarmsItsRuntimeFirstOrNamesWhereItLooked() throws {
        let b = try builds()
        defer { finish() }
        let warmed = try fixture.xarctl(["warm", b.beta, b.alpha], timeout: 300)
        #expect(warmed.status == 0, "\(warmed)")
        let lines = warmed.stdout.split(whereSeparator: \.isNewline).map(String.init)
        // The runtime once, before the first application on it; then each application.
        #expect(lines.count == 3, "\(warmed)")
        #expect(lines.first?.hasPrefix("\(b.v1) (the runtime of \(b.beta)): ") == true, "\(warmed)")
        #expect(lines.dropFirst().first?.hasPrefix("\(b.beta): warmed: ") == true, "\(warmed)")
        #expect(lines.last?.hasPrefix("\(b.alpha): warmed: ") == true, "\(warmed)")
        #expect(try fixture.mountPoints().isEmpty, "warm leaves nothing mounted")

        // While beta runs, both its mount and the runtime's are live: warm names both and leaves them alone.
        let xarexec = TestEnvironment.product("xarexec")
        let out = fixture.dir("beta-warm.out")
        let started = try XarTestSupport.Process.run(
            ["/bin/sh", "-c", "env -i XAR_MOUNT_ROOT=\(fixture.mountRoot) \(xarexec) \(b.beta) 6 > \(out) 2>&1 &"],
            timeout: 10)
        try #require(started.status == 0)
        #expect(fixture.eventually(within: 10) { (try? mount(of: b.beta)) ?? nil != nil }, "beta is mounted")
        let app = try #require(try mount(of: b.beta))
        let runtime = try #require(try mount(of: b.v1))
        let live = try fixture.xarctl(["warm", b.beta], timeout: 120)
        #expect(live.status == 0, "\(live)")
        #expect(live.stdout.contains("\(b.v1) (the runtime of \(b.beta)): mounted at \(runtime);"), "\(live)")
        #expect(live.stdout.contains("\(b.beta): mounted at \(app);"), "\(live)")
        #expect(try mount(of: b.v1) == runtime && mount(of: b.beta) == app, "both mounts stay live")
        #expect(fixture.eventually(within: 15) { ((try? fixture.contents(out)) ?? "").contains("beta") }, "beta ends")
        finish()

        // A runtime found nowhere: one line with the digest and the places looked, status 1, nothing mounted.
        let elsewhere = fixture.dir("warm-elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try TestFiles.copy(b.beta, to: "\(elsewhere)/beta.xar")
        let missing = try fixture.xarctl(
            ["warm", "\(elsewhere)/beta.xar"], env: ["XAR_RUNTIME_PATH": fixture.dir("none")])
        #expect(missing.status == 1 && missing.stdout.isEmpty, "\(missing)")
        #expect(missing.stderr.split(whereSeparator: \.isNewline).count == 1, "\(missing)")
        #expect(
            missing.stderr.contains(
                "runs on the runtime sha256:\(b.digest1), which is not in any of \(fixture.dir("none"))/v1.xar, "),
            "\(missing)")
        #expect(missing.stderr.contains("\(elsewhere)/v1.xar"), "\(missing)")
        #expect(missing.stderr.contains("/usr/lib/xar/runtimes/v1.xar"), "\(missing)")
        #expect(try fixture.mountPoints().isEmpty, "nothing is mounted")
    }

    /// A thin image and its runtime launched from a network-style file system (bindfs) whose daemon then stops:
    /// `xarctl list` still answers at once and lists both mounts. It judges the dependency from the mount table
    /// and the state files only (an image there is read only through a local copy), since opening a file of a
    /// stopped network file system blocks without bound.
    @Test(.enabled(if: TestEnvironment.hasTool("bindfs"), "needs bindfs"))
    func listNeverOpensAnImageOnAStoppedNetworkFileSystem() throws {
        let b = try builds()
        defer { finish() }
        let (source, view) = (fixture.dir("net-source"), fixture.dir("net-view"))
        try XarTestSupport.Process.shell("mkdir -p '\(source)' '\(view)' && cp '\(b.beta)' '\(b.v1)' '\(source)/'")
        let bindfs = try XarTestSupport.Process.shell(
            "(bindfs -f '\(source)' '\(view)' </dev/null >/dev/null 2>&1 & echo $!)")
        let bindfsPID = try #require(Int32(bindfs.stdout.split(separator: "\n").first ?? ""))
        defer {
            kill(bindfsPID, SIGCONT)
            kill(bindfsPID, SIGKILL)
            umount2(view, Int32(MNT_DETACH))
        }
        #expect(fixture.eventually(within: 10) { (try? fixture.contents("/proc/self/mounts"))?.contains(view) == true })
        let beta = "\(view)/\((b.beta as NSString).lastPathComponent)"
        let out = fixture.dir("net-beta.out")
        let started = try XarTestSupport.Process.run(
            [
                "/bin/sh", "-c",
                "env -i XAR_MOUNT_ROOT=\(fixture.mountRoot) XAR_LOCAL_COPY=never \(TestEnvironment.product("xarexec")) "
                    + "\(beta) 6 > \(out) 2>&1 &",
            ], timeout: 10)
        try #require(started.status == 0)
        #expect(fixture.eventually(within: 20) { (try? mount(of: b.beta)) ?? nil != nil }, "beta is mounted")
        let app = try #require(try mount(of: b.beta))
        #expect(kill(bindfsPID, SIGSTOP) == 0)

        let before = Date()
        let listed = try fixture.xarctl(["list", "--json"], timeout: 20)
        #expect(listed.status == 0, "\(listed)")
        #expect(Date().timeIntervalSince(before) < 10, "xarctl list took \(Date().timeIntervalSince(before)) s")
        #expect(listed.stdout.contains(app), "\(listed)")
        kill(bindfsPID, SIGCONT)
        #expect(fixture.eventually(within: 20) { ((try? fixture.contents(out)) ?? "").contains("beta") }, "beta ends")
    }

    /// Without FUSE, thin applications run from the extraction cache: the runtime extracted once under its
    /// digest and shared, each application beside it, each extraction announced by the usual one-line notice;
    /// multiprocessing's spawn works there too (alpha), and nothing is mounted.
    @Test func withoutFuseThinApplicationsRunFromOneExtractedRuntime() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let cache = fixture.dir("no-fuse-cache")
        let env = ["XAR_FUSE_DEVICE": fixture.dir("no-such-fuse"), "XDG_CACHE_HOME": cache]
        let first = try run([xarexec, b.alpha, "x"], env)
        let alpha = try report(first)
        #expect(alpha["name"] as? String == "alpha" && alpha["spawn"] as? Int == 42, "\(first)")
        let notices = first.stderr.split(separator: "\n")
        #expect(notices.count == 2 && notices.allSatisfy { $0.contains("FUSE is unavailable") }, "\(first)")
        let second = try run([xarexec, b.beta], env)
        #expect(try report(second)["name"] as? String == "beta", "\(second)")
        #expect(second.stderr.split(separator: "\n").count == 1, "the runtime is extracted once: \(second)")
        let again = try run([xarexec, b.beta], env)
        #expect(try report(again)["name"] as? String == "beta" && again.stderr.isEmpty, "\(again)")
        let trees = try FileManager.default.contentsOfDirectory(atPath: "\(cache)/xar/extract")
            .filter { !$0.hasPrefix(".") }
        #expect(trees.count == 3 && trees.contains(b.digest1), "\(trees)")
        #expect(try fixture.mountPoints().isEmpty)
    }
}
