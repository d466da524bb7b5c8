import Foundation
import Testing
import XarTestSupport

@testable import XarBuild

/// Text from the outside world with CRLF line endings, which Swift's `Character` `"\n"` never matches.
@Suite(.tags(.python))
struct PythonTextTests {
    @Test func crlfLockStartingWithACommentHasItsPins() throws {
        let text =
            "# pip-compile --generate-hashes\r\nidna==3.7 \\\r\n    --hash=sha256:\(String(repeating: "a", count: 64))\r\n"
        let pins = try RequirementsLock.parse(text, path: "req.txt")
        #expect(pins.map(\.name) == ["idna"])
        #expect(pins.first?.line == 2)
    }

    @Test func crlfEntryPointsAndMetadataAreRead() {
        let scripts = WheelInstaller.consoleScripts(in: "[console_scripts]\r\nhttp = httpie.__main__:main\r\n")
        #expect(scripts.map(\.0) == ["http"] && scripts.map(\.1) == ["httpie.__main__:main"])
        let header = WheelInstaller.headerLines("Name: x\r\nRequires-Dist: idna\r\n\r\nRequires-Dist: not-me\r\n")
        #expect(header == ["Name: x", "Requires-Dist: idna"])
    }
}

/// Inputs refused before anything is written: a tampered wheel whose RECORD has CRLF line endings, packages given
/// twice, entry points that cannot import; and a build interrupted by a signal leaves nothing behind.
@Suite(
    .tags(.python, .slow),
    .enabled(if: PyPIApplication.available, "needs Debian's python3.11 with pip (and PyPI once), cc, patchelf"))
struct PythonInputTests {
    /// mccabe's wheel with its RECORD rewritten with CRLF line endings and, when `tamper`, `mccabe.py` changed.
    static func crlfWheel(in directory: String, tamper: Bool) throws -> String {
        let original = try PyPIWheels.fetch(["mccabe==0.7.0"])[0]
        let copy = "\(directory)/\((original as NSString).lastPathComponent)"
        let script = """
            import sys, zipfile
            source, target, tamper = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
            with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, 'w', zipfile.ZIP_DEFLATED) as zout:
                for info in zin.infolist():
                    data = zin.read(info)
                    if info.filename.endswith('.dist-info/RECORD'):
                        data = data.replace(b'\\r\\n', b'\\n').replace(b'\\n', b'\\r\\n')
                    if tamper and info.filename == 'mccabe.py':
                        data += b'\\nprint("altered")\\n'
                    zout.writestr(info, data)
            """
        let result = try XarTestSupport.Process.run(
            [PythonFixtures.python, "-c", script, original, copy, tamper ? "1" : "0"], timeout: 60)
        try #require(result.status == 0, "\(result)")
        return copy
    }

    @Test func tamperedWheelWithACRLFRecordIsRefused() throws {
        let scratch = TemporaryDirectory(prefix: "xar-crlf-record")
        let installer = WheelInstaller(root: scratch("root"), sitePackages: "site-packages")
        let good = try Self.crlfWheel(in: scratch.path, tamper: false)
        let installed = try installer.install(good, sha256: "")
        #expect(installed.files.contains("site-packages/mccabe.py"))
        try FileManager.default.createDirectory(atPath: scratch("bad"), withIntermediateDirectories: true)
        let bad = try Self.crlfWheel(in: scratch("bad"), tamper: true)
        let error = try #require(throws: PythonBuildError.self) { _ = try installer.install(bad, sha256: "") }
        #expect(
            error.description.contains("the member mccabe.py does not match the hash in its RECORD"), "\(error)")
    }

    @Test func packagesGivenTwiceAreRefusedInOneError() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-dup-pins")
        let wheels = try PyPIWheels.fetch(["mccabe==0.7.0", "mccabe==0.6.1"])
        var lock = ""
        for (version, wheel) in zip(["0.7.0", "0.6.1"], wheels) {
            lock += "mccabe==\(version) --hash=sha256:\(try PythonFixtures.sha256(wheel))\n"
        }
        try PythonFixtures.write(scratch("req.txt"), lock)
        var options = f.options()
        options.requirements = scratch("req.txt")
        options.wheelhouse = (wheels[0] as NSString).deletingLastPathComponent
        options.wheels = [f.greetWheel, f.greetWheel]
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(options, imageOptions: .init(), output: scratch("out.xar"))
        }
        #expect(error.problems.count == 1, "\(error)")
        #expect(error.description.contains("greet is given 2 times (--wheel \(f.greetWheel), --wheel"), "\(error)")
        #expect(
            error.description.contains(
                "mccabe is given 2 times (\(scratch("req.txt")):1: mccabe==0.7.0, \(scratch("req.txt")):2: mccabe==0.6.1)"
            ),
            "\(error)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    @Test func entryPointsThatCannotImportFailTheBuildReadably() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-bad-entry")
        var options = f.options()
        options.entryPoints += [
            .function(name: "nomod", target: "nomodule:main"), .function(name: "nofunc", target: "greet:nofunc"),
        ]
        options.startupList = false
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(
                options, imageOptions: .init(compression: .zstd(level: 1)), output: scratch("out.xar"))
        }
        #expect(
            error.problems.contains(
                "The entry point nomod (nomodule:main) cannot work: ModuleNotFoundError: No module named 'nomodule'"),
            "\(error)")
        #expect(
            error.problems.contains(
                "The entry point nofunc (greet:nofunc) cannot work: AttributeError: module 'greet' has no attribute 'nofunc'"
            ), "\(error)")
        #expect(!error.problems.contains { $0.contains("myapp.cli") }, "\(error)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    /// A wheel with a plain script (`scripts=` in setup.py, which setuptools installs as `#!python` in
    /// `.data/scripts`, as awscli 1.x installs `aws`), built into `directory/built`.
    static func plainScriptWheel(in directory: TemporaryDirectory) throws -> String {
        try PythonFixtures.write(
            directory("tool/setup.py"),
            "from setuptools import setup\nsetup(name='plaintool', version='2.0', py_modules=['plaintool'],"
                + " scripts=['bin/plaintool'])")
        try PythonFixtures.write(
            directory("tool/plaintool.py"),
            "import sys\ndef main():\n    print('plaintool', sys.argv[1:], sys.executable.endswith('/python/python3'))\n"
        )
        try PythonFixtures.write(
            directory("tool/bin/plaintool"),
            "#!/usr/bin/env python\nimport plaintool, sys\nsys.exit(plaintool.main())\n")
        try PythonFixtures.buildWheel(directory("tool"), into: directory("built"))
        return directory("built/plaintool-2.0-py3-none-any.whl")
    }

    /// `--entry-point NAME` where NAME is a wheel's plain script, not a console script: the one line says so and
    /// what to pass instead; nothing is written.
    @Test func anEntryPointNamingAPlainScriptSaysWhatToPass() throws {
        let scratch = TemporaryDirectory(prefix: "xar-plain-script")
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--python", PythonFixtures.python, "--wheel",
                try Self.plainScriptWheel(in: scratch), "--entry-point", "plaintool", "--level", "1", "-o",
                scratch("out.xar"),
            ], timeout: 300)
        #expect(built.status == 1, "\(built)")
        #expect(
            built.stderr
                == "xarbuild: error: --entry-point plaintool: no installed wheel declares a console script plaintool."
                + " plaintool 2.0 installs plaintool as a plain script (python/bin/plaintool), not a console script:"
                + " pass --entry-point plaintool=module:function, the function that script calls.\n", "\(built)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    /// The plain script's `#!python` line is pointed at the image's interpreter, as the wheel spec asks (pip
    /// writes the interpreter's path; ours is known only where the image is mounted): the script runs from
    /// `python/bin` with the image's `python/python3`, with no Python on the host's PATH.
    @Test func aWheelsPythonScriptRunsWithTheImagesInterpreter() throws {
        let scratch = TemporaryDirectory(prefix: "xar-plain-script-runs")
        var options = PythonBuildOptions(python: PythonFixtures.python)
        options.wheels = [try Self.plainScriptWheel(in: scratch)]
        options.entryPoints = [.function(name: "plaintool", target: "plaintool:main")]
        options.revision = "plain"
        options.startupList = false
        _ = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: scratch("app.xar"),
            stagingDirectory: scratch("stage"))
        let script = scratch("stage/python/bin/plaintool")
        let first = try String(contentsOfFile: script, encoding: .utf8).split(separator: "\n").first
        #expect(first == "#!/bin/sh")
        let ran = try XarTestSupport.Process.run(
            [script, "a b"], environment: PythonFixtures.hostileEnvironment, timeout: 60)
        #expect(ran.status == 0 && ran.stdout == "plaintool ['a b'] True\n", "\(ran)")
    }

    /// SIGTERM while staging, SIGINT while staging or writing: the process dies of the signal (143, 130 in the
    /// shell) and leaves no staging directory, no tool output file and no partial image.
    @Test(arguments: [("TERM", 143, 0.5), ("INT", 130, 2.0)])
    func aSignalMidBuildLeavesNothingBehind(signal: String, status: Int, after seconds: Double) throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-signal")
        let (tmp, out) = (scratch("tmp"), scratch("out"))
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let build = [
            TestEnvironment.product("xarbuild"), "python", "--python", PythonFixtures.python, "--source", f.source,
            "--wheel", f.greetWheel, "-r", f.lock, "--wheelhouse", f.wheelhouse, "--entry-point",
            "myapp=myapp.cli:main", "--level", "19", "-o", "\(out)/app.xar",
        ].map { "'\($0)'" }.joined(separator: " ")
        // A shell starts background commands with SIGINT ignored, which the build (rightly) keeps ignoring.
        let restoreSIGINT =
            "'\(PythonFixtures.python)' -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            + "os.execv(sys.argv[1], sys.argv[1:])'"
        let result = try XarTestSupport.Process.shell(
            """
            TMPDIR='\(tmp)' \(restoreSIGINT) \(build) >'\(scratch("log"))' 2>&1 &
            pid=$!
            for i in $(seq 1 400); do ls '\(tmp)' | grep -q xarbuild-python && break; sleep 0.05; done
            sleep \(seconds)
            kill -\(signal) $pid
            wait $pid
            echo "status=$?"
            ls -A '\(tmp)' '\(out)'
            cat '\(scratch("log"))'
            """, timeout: 300)
        #expect(result.stdout.hasPrefix("status=\(status)\n"), "\(result)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: tmp)).isEmpty, "\(result)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: out)).isEmpty, "\(result)")
    }

    @Test func commandLineMistakesAreOneLine() throws {
        let scratch = TemporaryDirectory(prefix: "xar-cli-mistakes")
        let xarbuild = TestEnvironment.product("xarbuild")
        let ls = try XarTestSupport.Process.run(
            [xarbuild, "python", "--python", "/bin/ls", "--module", "x", "-o", scratch("x.xar")], timeout: 60)
        #expect(ls.status == 1, "\(ls)")
        #expect(ls.stderr.split(separator: "\n").count == 1 && ls.stderr.count < 300, "\(ls)")
        #expect(ls.stderr.hasPrefix("xarbuild: error: The interpreter /bin/ls did not describe itself"), "\(ls)")

        try PythonFixtures.write(scratch("req.txt"), "idna==3.7 --hash=sha256:\(String(repeating: "a", count: 64))")
        let noHouse = try XarTestSupport.Process.run(
            [xarbuild, "python", "-r", scratch("req.txt"), "--module", "x", "-o", scratch("x.xar")], timeout: 60)
        #expect(noHouse.status == 64, "\(noHouse)")
        #expect(noHouse.stderr.contains("-r/--requirements needs --wheelhouse DIR"), "\(noHouse)")

        let noDirectory = try XarTestSupport.Process.run(
            [
                xarbuild, "python", "--python", PythonFixtures.python, "--module", "x", "-o",
                scratch("missing/x.xar"),
            ], timeout: 60)
        #expect(noDirectory.status == 1, "\(noDirectory)")
        #expect(
            noDirectory.stderr
                == "xarbuild: error: The output's directory \(scratch("missing")) does not exist; create it first.\n",
            "\(noDirectory)")

        let noSource = try XarTestSupport.Process.run(
            [
                xarbuild, "python", "--python", PythonFixtures.python, "--source", scratch("nosrc"), "--module", "x",
                "-o", scratch("x.xar"),
            ], timeout: 60)
        #expect(noSource.status == 1, "\(noSource)")
        #expect(
            noSource.stderr.hasSuffix(
                "The source directory \(scratch("nosrc")) does not exist or is not a directory.\n"), "\(noSource)")
    }

    /// On a 60-column terminal the progress line is redrawn at most ~10 times a second, each time shorter than
    /// the terminal (a wrapped line cannot be redrawn in place).
    @Test func progressIsThrottledAndFitsTheTerminal() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-progress")
        let build = [
            TestEnvironment.product("xarbuild"), "python", "--python", PythonFixtures.python, "--source", f.source,
            "--wheel", f.greetWheel, "-r", f.lock, "--wheelhouse", f.wheelhouse, "--entry-point",
            "myapp=myapp.cli:main", "--level", "1", "--no-startup-list", "-o", scratch("app.xar"),
        ].map { "'\($0)'" }.joined(separator: " ")
        let start = Date()
        let result = try XarTestSupport.Process.run(
            ["/usr/bin/script", "-qec", "stty cols 60; \(build)", "/dev/null"], timeout: 300)
        let seconds = Date().timeIntervalSince(start)
        #expect(result.status == 0, "\(result)")
        let draws = result.stdout.split(separator: "\r").map { $0.replacingOccurrences(of: "\u{1B}[K", with: "") }
            .filter { !$0.isEmpty && !$0.hasPrefix("\n") }
        #expect(draws.count > 3 && Double(draws.count) <= seconds * 10 + 5, "\(draws.count) in \(seconds) s")
        let wide = draws.filter { !$0.contains("\n") && $0.count >= 60 }
        #expect(wide.isEmpty, "\(wide)")
    }
}
