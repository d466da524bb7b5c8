import Foundation
import Glibc
import Testing
import XarTestSupport

/// Operating chains (docs/runtimes.md, "Operating"): `xarctl mount` and `xarctl run` of a thin image find, prove
/// and mount (or extract) its runtime as the launcher does, on the runtimes and thin applications of
/// `RuntimeBuilds`.
@Suite(
    .tags(.fuse, .python, .slow),
    .enabled(
        if: XarctlOpsFixture.canRun && access("/usr/bin/python3.11", X_OK) == 0 && TestEnvironment.hasTool("patchelf")),
    .serialized)
struct RuntimeOperationsTests {
    let fixture = XarctlOpsFixture()

    func builds() throws -> RuntimeBuilds { try RuntimeBuilds.shared.get() }

    func finish() { fixture.unmountAllAndWait() }

    /// Runs `command` as `env -i` would, with only the private mount root and cache and `extra`.
    func run(_ command: [String], _ extra: [String: String] = [:], timeout: Double = 120) throws
        -> XarTestSupport.Process.Result
    {
        let env = ["XDG_CACHE_HOME": fixture.dir("cache")].merging(extra) { $1 }
        return try fixture.runIsolated(command, env, timeout: timeout)
    }

    /// The JSON line the application printed last.
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

    /// `xarctl list --json`'s record of `mountPoint`.
    func listed(_ mountPoint: String) throws -> [String: Any]? {
        try fixture.listedMounts().first { $0["mount_point"] as? String == mountPoint }
    }

    /// A copy of `app` alone in a new directory (no runtime beside it).
    func alone(_ app: String, in name: String) throws -> String {
        let directory = fixture.dir(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let copy = "\(directory)/\((app as NSString).lastPathComponent)"
        try TestFiles.copy(app, to: copy)
        return copy
    }

    @Test func mountMountsTheRuntimeThenTheApplicationAndPrintsBoth() throws {
        let b = try builds()
        defer { finish() }
        let mounted = try fixture.xarctl(["mount", b.beta], timeout: 120)
        try #require(mounted.status == 0, "\(mounted)")
        let app = try #require(try mount(of: b.beta), "beta is mounted")
        let runtime = try #require(try mount(of: b.v1), "its runtime is mounted")
        #expect(mounted.stdout == "\(app)\n\(runtime)\n", "\(mounted)")
        #expect(try fixture.mountPoints().count == 2)
        #expect(fixture.exists("\(runtime)/python/python3") && fixture.exists("\(app)/.xar/bootstrap.pyc"))

        // A second thin application on the same runtime joins its mount; --json names both.
        let json = try fixture.xarctl(["mount", "--json", b.alpha], timeout: 120)
        try #require(json.status == 0, "\(json)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["mount_point"] as? String == (try mount(of: b.alpha)), "\(json)")
        let named = try #require(object["runtime"] as? [String: Any], "\(json)")
        #expect(named["mount_point"] as? String == runtime, "\(json)")
        #expect(named["digest"] as? String == b.digest1, "\(json)")
        #expect(named["image_path"] as? String == b.v1, "\(json)")
        #expect(try fixture.mountPoints().count == 3, "one runtime mount, two applications")

        // The staged chain is what the launcher joins.
        let ran = try report(try run([TestEnvironment.product("xarexec"), b.beta]))
        #expect(ran["executable"] as? String == runtime + "/python/python3", "\(ran)")
        #expect(try fixture.mountPoints().count == 3)

        // A runtime is an image like any other: one mount, no runtime of its own.
        let itself = try fixture.xarctl(["mount", "--json", b.v1])
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(itself.stdout.utf8)) as? [String: Any])
        #expect(plain["mount_point"] as? String == runtime && plain["runtime"] == nil, "\(itself)")

        // Not pinned: both go once unmounted.
        #expect(try listed(runtime)?["pinned"] as? Bool == false)
    }

    @Test func mountPinPinsTheRuntimeTooAndAMissingRuntimeMountsNothing() throws {
        let b = try builds()
        defer { finish() }
        let pinned = try fixture.xarctl(["mount", "--pin", b.gamma], timeout: 120)
        try #require(pinned.status == 0, "\(pinned)")
        let lines = pinned.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(pinned)")
        #expect(try listed(lines[0])?["pinned"] as? Bool == true, "the application's mount is pinned")
        #expect(try listed(lines[1])?["pinned"] as? Bool == true, "the runtime's mount is pinned")
        #expect(try fixture.xarctl(["unmount", lines[0]]).status == 0)
        #expect(try fixture.xarctl(["unmount", lines[1]]).status == 0)
        #expect(try fixture.mountPoints().isEmpty)

        // A runtime found nowhere: the launcher's one line (the digest and every place looked), nothing mounted.
        let beta = try alone(b.beta, in: "mount-elsewhere")
        let missing = try fixture.xarctl(["mount", beta], env: ["XAR_RUNTIME_PATH": fixture.dir("none")])
        #expect(missing.status == 1 && missing.stdout.isEmpty, "\(missing)")
        #expect(missing.stderr.split(whereSeparator: \.isNewline).count == 1, "\(missing)")
        #expect(
            missing.stderr.hasPrefix(
                "xarctl: error: \(beta) runs on the runtime sha256:\(b.digest1), which is not in any of "
                    + "\(fixture.dir("none"))/v1.xar, "), "\(missing)")
        #expect(missing.stderr.contains("/usr/lib/xar/runtimes/v1.xar"), "\(missing)")
        #expect(try fixture.mountPoints().isEmpty, "nothing is mounted")
    }

    @Test func runRunsAThinApplicationOnItsExtractedRuntime() throws {
        let b = try builds()
        defer { finish() }
        let first = try fixture.xarctl(["run", b.gamma, "--", "a", "--b"], timeout: 180)
        let gamma = try report(first)
        #expect(gamma["name"] as? String == "gamma" && gamma["argv"] as? [String] == ["a", "--b"], "\(gamma)")
        #expect(gamma["escaped"] as? String == "&lt;b&gt;" && gamma["markupsafe"] as? String == "2.1.5", "\(gamma)")
        #expect(gamma["child"] as? [AnyHashable] == [0, "2.1.5"], "subprocess of sys.executable: \(gamma)")
        let extract = fixture.dir("cache") + "/xar/extract"
        #expect(gamma["executable"] as? String == "\(extract)/\(b.digest1)/python/python3", "\(gamma)")
        let notices = first.stderr.split(separator: "\n")
        #expect(notices.count == 2, "\(first)")
        #expect(notices.first?.hasPrefix("xarctl: extracted the runtime \(b.v1) of \(b.gamma) into ") == true)
        // The runtime is extracted once, shared by the next application; nothing is mounted.
        let second = try fixture.xarctl(["run", b.beta], timeout: 120)
        #expect(try report(second)["name"] as? String == "beta", "\(second)")
        let betaDigest = try RuntimeBuilds.headerValue("XAR_IMAGE_SHA256", of: b.beta)
        #expect(second.stderr == "xarctl: extracted \(b.beta) into \(extract)/\(betaDigest)\n", "\(second)")
        #expect(try fixture.mountPoints().isEmpty)

        // A runtime found nowhere: one line, non-zero, nothing extracted for the application.
        let alpha = try alone(b.alpha, in: "run-elsewhere")
        let missing = try fixture.xarctl(["run", alpha], env: ["XAR_RUNTIME_PATH": fixture.dir("none")])
        #expect(missing.status == 1 && missing.stdout.isEmpty, "\(missing)")
        #expect(missing.stderr.split(whereSeparator: \.isNewline).count == 1, "\(missing)")
        #expect(
            missing.stderr.contains("runs on the runtime sha256:\(b.digest1), which is not in any of"), "\(missing)")
        let alphaDigest = try RuntimeBuilds.headerValue("XAR_IMAGE_SHA256", of: b.alpha)
        #expect(!fixture.exists("\(extract)/\(alphaDigest)"), "nothing of the application is extracted")
    }

    /// The local-copy cache is searched last: a runtime in none of the directories is taken from the copy a server
    /// made of it (`images/<digest>.xar`), joined while mounted and mounted from the copy afterwards, its bytes
    /// proven like any runtime file's (a corrupt copy is refused with status 118); the places-looked line names it.
    @Test func aRuntimeInNoDirectoryIsTakenFromItsProvenLocalCopy() throws {
        let b = try builds()
        defer { finish() }
        let xarexec = TestEnvironment.product("xarexec")
        let copy = "\(fixture.mountRoot)/uid-\(geteuid())/images/\(b.digest1).xar"
        // A first launch whose servers copy their images (as they do for an image on a network file system).
        let first = try report(try run([xarexec, b.beta], ["XAR_LOCAL_COPY": "always"]))
        #expect(first["name"] as? String == "beta", "\(first)")
        let runtime = try #require(try mount(of: b.v1))
        try #require(fixture.eventually(within: 120) { fixture.exists(copy) }, "no local copy of the runtime")

        // The application elsewhere, its runtime in no directory: the live runtime mount is joined through the copy.
        let beta = try alone(b.beta, in: "copy-elsewhere")
        let none = ["XAR_RUNTIME_PATH": fixture.dir("none")]
        let joined = try report(try run([xarexec, beta], none))
        #expect(joined["executable"] as? String == runtime + "/python/python3", "\(joined)")
        #expect(try fixture.mountPoints().filter { $0 == runtime }.count == 1)

        // Nothing mounted: the runtime is mounted from its local copy.
        finish()
        try #require(try fixture.mountPoints().isEmpty)
        let fresh = try report(try run([xarexec, beta, "0"], none))
        #expect(fresh["name"] as? String == "beta" && fresh["markupsafe"] as? String == "2.1.5", "\(fresh)")
        let remounted = try #require(try mount(of: b.v1))
        #expect(try listed(remounted)?["image"] as? String == copy)
        finish()

        // A copy whose bytes are not the digest its header claims is refused like any runtime file.
        try XarTestSupport.Process.shell(
            "printf '\\377\\377\\377\\377' | dd of='\(copy)' bs=1 seek=200000 conv=notrunc status=none")
        let corrupt = try run([xarexec, beta], none)
        #expect(corrupt.status == 118 && corrupt.stdout.isEmpty, "\(corrupt)")
        #expect(corrupt.stderr.split(whereSeparator: \.isNewline).count == 1, "\(corrupt)")
        let claim = "\(copy) claims to be the runtime sha256:\(b.digest1) of \(beta), but its SHA-256 is"
        #expect(corrupt.stderr.contains(claim), "\(corrupt)")
        #expect(try fixture.mountPoints().isEmpty, "nothing is mounted")

        // No copy either: the places looked end with the local copy.
        #expect(unlink(copy) == 0)
        let missing = try run([xarexec, beta], none)
        #expect(missing.status == 118, "\(missing)")
        #expect(
            missing.stderr.contains("/usr/lib/xar/runtimes/\(b.digest1).xar, \(copy); put that runtime"), "\(missing)")
    }

    /// An application that signals `$READY`, waits for `$GO`, then imports what it had not (the runtime's
    /// MarkupSafe and `sqlite3` with its compiled module, the standard library's `email`) and prints one JSON line.
    static let chainSource = """
        import json, os, time


        def main():
            open(os.environ['READY'], 'w').close()
            while not os.path.exists(os.environ['GO']):
                time.sleep(0.05)
            import email.mime.text, markupsafe, sqlite3
            answer = sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]
            print(json.dumps({'escaped': str(markupsafe.escape('<b>')), 'sqlite': answer,
                              'mime': email.mime.text.MIMEText('x').get_content_type()}), flush=True)
        """

    /// Source loss of a chain: a thin application and its runtime on a network file system (bindfs) that goes away
    /// after the start. Both servers copy their images locally (the default for a network source), so the running
    /// application imports what it had not yet, from both images, once the source is gone; and later launches
    /// work from the local copies: the application's own copy (its runtime found beside it, the runtime's copy),
    /// and the application installed elsewhere with `XAR_RUNTIME_PATH` naming the dead directory, which joins the
    /// runtime's mount through its local copy.
    @Test(.enabled(if: TestEnvironment.hasTool("bindfs"), "needs bindfs"))
    func aChainOnANetworkFileSystemKeepsWorkingFromLocalCopiesOnceItIsGone() throws {
        let b = try builds()
        defer { finish() }
        let src = fixture.dir("chain-src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try RuntimeBuilds.write(Self.chainSource, to: "\(src)/chain.py")
        let chain = fixture.dir("chain.xar")
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--runtime", b.v1, "--source", src, "--entry-point",
                "chain=chain:main", "--level", "3", "-o", chain,
            ], environment: RuntimeBuilds.buildEnvironment, timeout: 300)
        try #require(built.status == 0, "\(built)")
        let chainDigest = try RuntimeBuilds.headerValue("XAR_IMAGE_SHA256", of: chain)

        let (source, view) = (fixture.dir("chain-net-source"), fixture.dir("chain-net-view"))
        try XarTestSupport.Process.shell("mkdir -p '\(source)' '\(view)' && cp '\(chain)' '\(b.v1)' '\(source)/'")
        let bindfs = try XarTestSupport.Process.shell(
            "(bindfs -f '\(source)' '\(view)' </dev/null >/dev/null 2>&1 & echo $!)")
        let bindfsPID = try #require(Int32(bindfs.stdout.split(separator: "\n").first ?? ""))
        let (ready, go, out) = (fixture.dir("chain-ready"), fixture.dir("chain-go"), fixture.dir("chain.out"))
        defer {
            close(creat(go, 0o600))
            kill(bindfsPID, SIGKILL)
            umount2(view, Int32(MNT_DETACH))
        }
        try #require(
            fixture.eventually(within: 10) { (try? fixture.contents("/proc/self/mounts"))?.contains(view) == true })
        let env = [
            "XAR_MOUNT_ROOT": fixture.mountRoot, "XDG_CACHE_HOME": fixture.dir("cache"), "READY": ready, "GO": go,
        ]
        let started = try XarTestSupport.Process.run(
            [
                "/bin/sh", "-c",
                "(timeout 300 env -i \(env.map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")) "
                    + "'\(TestEnvironment.product("xarexec"))' '\(view)/chain.xar' > '\(out)' 2>&1; "
                    + "echo $? > '\(out).status') </dev/null >/dev/null 2>&1 &",
            ], timeout: 10)
        try #require(started.status == 0)
        try #require(
            fixture.eventually(within: 120) { fixture.exists(ready) || fixture.exists("\(out).status") },
            "the application did not start: \((try? fixture.contents(out)) ?? "")")
        try #require(
            !fixture.exists("\(out).status"), "the application ended early: \((try? fixture.contents(out)) ?? "")")
        let app = try #require(try mount(of: chain)), runtime = try #require(try mount(of: b.v1))
        for mountPoint in [app, runtime] {
            #expect(
                fixture.eventually(within: 120) {
                    ((try? fixture.contents(mountPoint + ".state")) ?? "").contains("source=local copy\n")
                },
                "\(mountPoint) never switched to its local copy: \((try? fixture.contents(mountPoint + ".state")) ?? "")"
            )
        }

        // The network file system goes; the application goes on, reading both images.
        kill(bindfsPID, SIGKILL)
        #expect(
            fixture.eventually(within: 30) {
                (try? XarTestSupport.Process.run(["/bin/ls", view], timeout: 10))?.status != 0
            })
        close(creat(go, 0o600))
        #expect(fixture.eventually(within: 120) { fixture.exists("\(out).status") }, "the application did not finish")
        let output = try fixture.contents(out)
        #expect(try fixture.contents("\(out).status") == "0\n", "\(output)")
        let expected = #"{"escaped": "&lt;b&gt;", "sqlite": 42, "mime": "text/plain"}"# + "\n"
        #expect(try fixture.contents(out) == expected)

        // Later launches, the source still gone: the application's local copy, whose runtime is found beside it.
        let images = "\(fixture.mountRoot)/uid-\(geteuid())/images"
        let fromCopy = try run([TestEnvironment.product("xarexec"), "\(images)/\(chainDigest).xar"], env)
        #expect(fromCopy.status == 0 && fromCopy.stdout == expected && fromCopy.stderr.isEmpty, "\(fromCopy)")
        // The application installed on local disk, its runtime's directory the dead one: the runtime's local copy.
        let installed = try alone(chain, in: "chain-installed")
        var path = env
        path["XAR_RUNTIME_PATH"] = view
        let fromInstalled = try run([TestEnvironment.product("xarexec"), installed], path)
        #expect(
            fromInstalled.status == 0 && fromInstalled.stdout == expected && fromInstalled.stderr.isEmpty,
            "\(fromInstalled)")
        // Every launch joined the runtime's one mount.
        #expect(try fixture.mountPoints().filter { $0 == runtime }.count == 1)
        #expect(try fixture.mountPoints().filter { $0 == app }.count == 1)
    }

    /// A runtime has no start-up list: warming it starts its interpreter once through its mount (no application),
    /// its server saves the blocks that start read, and the next cold start of a thin application on it reads the
    /// runtime's saved blocks instead of decompressing them.
    @Test func warmingARuntimeStartsItsInterpreterOnceAndTheNextStartReadsItsSavedBlocks() throws {
        let b = try builds()
        defer { finish() }
        let warmed = try fixture.xarctl(["warm", b.v1], timeout: 180)
        #expect(warmed.status == 0, "\(warmed)")
        #expect(
            warmed.stdout.hasPrefix("\(b.v1): warmed: a runtime: its interpreter started once (-I -S -c pass); "),
            "\(warmed)")
        let saved = try #require(
            warmed.stdout.components(separatedBy: " of start-up blocks in ").last?.trimmingCharacters(
                in: .whitespacesAndNewlines))
        #expect(saved.hasSuffix(".startup-blocks") && fixture.exists(saved), "\(warmed)")
        #expect(try fixture.mountPoints().isEmpty, "warm leaves nothing mounted")

        let log = fixture.dir("warm-runtime.log")
        let ran = try report(
            try run([TestEnvironment.product("xarexec"), b.beta], ["XAR_SERVER_LOG": log, "XAR_SERVER_TRACE": "1"]))
        #expect(ran["name"] as? String == "beta", "\(ran)")
        finish()
        var text = ""
        #expect(
            fixture.eventually(within: 30) {
                text = (try? fixture.contents(log)) ?? ""
                return text.components(separatedBy: "data blocks:").count == 3
            }, "both servers ended: \(text)")
        #expect(text.contains("reading saved start-up blocks from \(saved)"), "\(text)")
        // The runtime's server (the application's has none saved) took blocks from the saved copies.
        let fromSaved = text.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: " from saved copies") else { return nil }
            return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
        }
        #expect(fromSaved.contains { $0 > 0 }, "\(text)")

        // Warming a thin application warms its runtime first, the same way.
        let thin = try fixture.xarctl(["warm", b.gamma], timeout: 180)
        #expect(thin.status == 0, "\(thin)")
        #expect(
            thin.stdout.contains(
                "\(b.v1) (the runtime of \(b.gamma)): warmed: a runtime: its interpreter started once"),
            "\(thin)")
        #expect(thin.stdout.contains("\(b.gamma): warmed: "), "\(thin)")
    }
}
