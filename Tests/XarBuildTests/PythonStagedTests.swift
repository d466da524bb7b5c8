import Foundation
import Testing
import XarBuild
import XarTestSupport

/// The Python builder's layout, run straight from the staging directory with the exact command line the
/// launcher execs (`$MOUNT` = the staging directory): a real interpreter, real wheels, a hostile environment.
@Suite(
    .tags(.python, .slow),
    .enabled(if: PythonFixtures.available, "needs python3 with pip, setuptools, wheel, Python.h, cc, zstd.h, patchelf"))
struct PythonStagedTests {
    private func fixtures() throws -> PythonFixtures { try PythonFixtures.shared.get() }

    private func run(_ f: PythonFixtures, entry: String = "myapp", argv0: String = "/opt/tools/myapp", _ args: [String])
        throws -> XarTestSupport.Process.Result
    {
        try XarTestSupport.Process.run(
            f.stagedCommand(argv0: argv0, entry: entry, args), environment: PythonFixtures.hostileEnvironment,
            timeout: 60)
    }

    private func info(_ f: PythonFixtures) throws -> [String: Any] {
        let result = try run(f, ["info"])
        try #require(result.status == 0, "\(result)")
        return try #require(try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test func stagedAppIgnoresHostPythonEnvironmentAndSeesOnlyTheImage() throws {
        let f = try fixtures()
        let info = try info(f)
        #expect(info["argv"] as? [String] == ["/opt/tools/myapp", "info"])
        #expect(info["executable"] as? String == "\(f.staging)/python/python3")
        #expect(info["prefix"] as? String == "\(f.staging)/python")
        let path = try #require(info["path"] as? [String])
        #expect(path.allSatisfy { $0.hasPrefix(f.staging + "/") }, "sys.path leaves the image: \(path)")
        #expect(path.first == "\(f.staging)/app")
        #expect(info["isolated"] as? Int == 1)
        #expect(info["modules_site"] as? Bool == false)
        #expect(info["ld_library_path"] is NSNull)
        #expect(info["revision"] as? String == "fixture-revision-1")
    }

    @Test func extensionModuleLoadsTheBundledLibzstd() throws {
        let f = try fixtures()
        let info = try info(f)
        #expect((info["zstd"] as? Int ?? 0) >= 10_000)
        #expect(info["libzstd"] as? [String] == ["\(f.staging)/python/lib/libzstd.so.1"])
        #expect(f.summary.staged.bundledLibraries.contains("libzstd.so.1"))
        let runpath = try XarTestSupport.Process.run(
            ["patchelf", "--print-rpath", try #require(info["zstd_file"] as? String)], timeout: 30)
        #expect(runpath.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("$ORIGIN/"))
    }

    @Test func packageDataAndDistributionMetadataAreReadable() throws {
        let f = try fixtures()
        let info = try info(f)
        #expect(info["data"] as? String == "package data ok\n\n")
        #expect(info["greet_version"] as? String == "1.2.0")
        #expect(info["zstdcheck_version"] as? String == "0.3.0")
        let installer = try String(
            contentsOfFile:
                "\(f.staging)/python/lib/python\(f.summary.staged.interpreter.shortVersion)/site-packages/greet-1.2.0.dist-info/INSTALLER",
            encoding: .utf8)
        #expect(installer == "xarbuild\n")
    }

    @Test func subprocessWithSysExecutableRunsInsideTheImage() throws {
        let f = try fixtures()
        let result = try run(f, ["subprocess"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("0 \(f.staging)/python "), "\(result)")
    }

    @Test func multiprocessingSpawnWorks() throws {
        let f = try fixtures()
        let result = try run(f, ["spawn"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "spawn 285\n", "\(result)")
    }

    @Test func consoleScriptEntryPointsRunByEntryAndByInvokedName() throws {
        let f = try fixtures()
        let byEntry = try run(f, entry: "greet", argv0: "/x/greet", ["a"])
        #expect(byEntry.stdout == "hello from greet /x/greet ['a']\n", "\(byEntry)")
        // Invoked through a symlink named after an entry point: the launcher passes its own trampoline name.
        let byName = try run(f, entry: "invoke_xar_via_trampoline", argv0: "/x/greet-exit", ["5"])
        #expect(byName.status == 5, "\(byName)")
        let fallback = try run(f, entry: "invoke_xar_via_trampoline", argv0: "/x/renamed.xar", ["info"])
        #expect(fallback.status == 0 && fallback.stdout.contains("\"zstd\""), "\(fallback)")
        #expect(f.summary.staged.launch.trampolineNames == ["myapp", "greet", "greet-exit"])
    }

    @Test func exitCodeAndSignalPassThrough() throws {
        let f = try fixtures()
        #expect(try run(f, ["exit", "7"]).status == 7)
        let term = try run(f, ["term"])
        #expect(term.signal == SIGTERM, "\(term)")
    }

    /// The fixture app imports neither curses, readline nor distutils: they and the libraries only they need
    /// (ncurses, readline, tinfo) stay out of the image.
    @Test func optionalStdlibPartsTheAppDoesNotImportAreLeftOut() throws {
        let f = try fixtures()
        let stdlib = "\(f.staging)/python/lib/python3.11"
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: "\(stdlib)/curses") && !fm.fileExists(atPath: "\(stdlib)/distutils"))
        #expect(fm.fileExists(atPath: "\(stdlib)/json/__init__.py"))
        let dynload = try fm.contentsOfDirectory(atPath: "\(stdlib)/lib-dynload")
        #expect(!dynload.contains { $0.hasPrefix("readline.") || $0.hasPrefix("_curses") }, "\(dynload)")
        #expect(dynload.contains { $0.hasPrefix("_json.") })
        let libraries = f.summary.staged.bundledLibraries
        #expect(!libraries.contains { $0.hasPrefix("libreadline") || $0.hasPrefix("libncurses") }, "\(libraries)")
    }

    @Test func everyPythonFileHasUncheckedHashBytecode() throws {
        let f = try fixtures()
        let check = try XarTestSupport.Process.run(
            [
                f.staging + "/python/python3", "-I", "-c",
                """
                import importlib.util, pathlib, sys
                root = pathlib.Path(sys.argv[1]); bad = []
                for py in root.rglob('*.py'):
                    pyc = pathlib.Path(importlib.util.cache_from_source(str(py)))
                    data = pyc.read_bytes() if pyc.exists() else b''
                    if data[4:8] != b'\\x01\\x00\\x00\\x00': bad.append(str(py))
                print(len(bad), bad[:5])
                """, f.staging,
            ], environment: [:], timeout: 120)
        #expect(check.stdout.hasPrefix("0 "), "\(check)")
    }

    @Test func metadataRecordsProvenance() throws {
        let f = try fixtures()
        let data = try #require(FileManager.default.contents(atPath: "\(f.staging)/.xar/metadata.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["build_time"] as? Int == 1_700_000_000)
        #expect(json["revision"] as? String == "fixture-revision-1")
        #expect(json["default_entry_point"] as? String == "myapp")
        let lock = try #require(json["lock"] as? [String: Any])
        #expect(lock["sha256"] as? String == (try PythonFixtures.sha256(f.lock)))
        let packages = try #require(json["packages"] as? [[String: Any]])
        #expect(packages.map { $0["name"] as? String } == ["greet", "zstdcheck"])
        #expect(packages.last?["sha256"] as? String == f.zstdcheckHash)
    }
}

/// What the builder refuses, and that it is deterministic: these need the fixtures but no running image.
@Suite(
    .tags(.python, .slow),
    .enabled(if: PythonFixtures.available, "needs python3 with pip, setuptools, wheel, Python.h, cc, zstd.h, patchelf"))
struct PythonBuildRefusalTests {
    @Test func badLockEntriesAreListedTogetherAndNothingIsWritten() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-badlock")
        let house = scratch("wheelhouse")
        try FileManager.default.createDirectory(atPath: house, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: f.greetSdist, toPath: "\(house)/greet-1.2.0.tar.gz")
        try FileManager.default.copyItem(
            atPath: f.zstdcheckWheel, toPath: "\(house)/zstdcheck-0.3.0-cp311-cp311-win_amd64.whl")
        let wrong = String(repeating: "ab", count: 32)
        try PythonFixtures.write(
            scratch("req.txt"),
            """
            greet==1.2.0 --hash=sha256:\(wrong)
            zstdcheck==0.3.0 --hash=sha256:\(f.zstdcheckHash)
            missing-thing==1.0 --hash=sha256:\(wrong)
            """)
        var options = f.options()
        options.requirements = scratch("req.txt")
        options.wheelhouse = house
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(options, imageOptions: .init(), output: scratch("out.xar"))
        }
        #expect(error.problems.count == 3, "\(error)")
        #expect(
            error.problems[0].contains("req.txt:1: greet==1.2.0: only the source distribution greet-1.2.0.tar.gz"),
            "\(error)")
        #expect(error.problems[1].contains("req.txt:2: zstdcheck==0.3.0: no wheel for cp311"), "\(error)")
        #expect(error.problems[2].contains("req.txt:3: missing-thing==1.0: no wheel in \(house)"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    @Test func hashMismatchNamesBothDigests() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-badhash")
        let wrong = String(repeating: "cd", count: 32)
        try PythonFixtures.write(scratch("req.txt"), "zstdcheck==0.3.0 --hash=sha256:\(wrong)")
        var options = f.options()
        options.requirements = scratch("req.txt")
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(options, imageOptions: .init(), output: scratch("out.xar"))
        }
        #expect(error.description.contains("hash mismatch"), "\(error)")
        #expect(error.description.contains(f.zstdcheckHash) && error.description.contains(wrong), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: scratch("out.xar")))
    }

    @Test func incompleteLockIsRefused() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-incomplete")
        // The app wheel declares a dependency the lock does not pin.
        var options = f.options()
        options.requirements = nil
        options.wheelhouse = nil
        options.wheels = [try Self.wheelRequiring("zstdcheck", in: scratch.path)]
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(options, imageOptions: .init(), output: scratch("out.xar"))
        }
        #expect(error.description.contains("needsz 1.0 requires zstdcheck, which is not in the lock"), "\(error)")
    }

    /// A wheel whose METADATA requires `dependency`, built with pip from a throwaway project.
    static func wheelRequiring(_ dependency: String, in directory: String) throws -> String {
        try PythonFixtures.write(
            "\(directory)/needsz/setup.py",
            """
            from setuptools import setup
            setup(name="needsz", version="1.0", py_modules=["needsz"], install_requires=["\(dependency)"])
            """)
        try PythonFixtures.write("\(directory)/needsz/needsz.py", "")
        try PythonFixtures.buildWheel("\(directory)/needsz", into: "\(directory)/dist")
        return "\(directory)/dist/needsz-1.0-py3-none-any.whl"
    }

    /// `/.xar/startup-files` names what a start of the default entry point reads, in order: the interpreter first,
    /// then its libraries, the bootstrap, the entry module's bytecode and what it imports; each line once, each a
    /// file of the image. `--no-startup-list` leaves it out (and imports nothing at build time).
    @Test func startupListNamesWhatTheDefaultEntryPointLoads() throws {
        let f = try PythonFixtures.shared.get()
        let text = try String(contentsOfFile: "\(f.staging)/.xar/startup-files", encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "python/bin/python3")
        #expect(lines.contains(".xar/bootstrap.pyc"))
        let entry = lines.firstIndex { $0.hasPrefix("app/myapp/__pycache__/cli.") && $0.hasSuffix(".pyc") }
        let json = lines.firstIndex { $0.contains("/json/__pycache__/__init__.") }
        #expect(entry != nil && json != nil, "\(lines)")
        let bootstrap = lines.firstIndex(of: ".xar/bootstrap.pyc") ?? lines.count
        #expect(bootstrap < (entry ?? -1) && (entry ?? -1) < (json ?? -1), "in the order a start needs them: \(lines)")
        #expect(!lines.contains { $0.contains("zstdcheck") }, "main() imports it, the module does not: \(lines)")
        #expect(Set(lines).count == lines.count)
        for line in lines {
            #expect(FileManager.default.fileExists(atPath: "\(f.staging)/\(line)"), "\(line)")
        }

        var options = f.options()
        options.startupList = false
        let scratch = TemporaryDirectory(prefix: "xar-python-nolist")
        _ = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: scratch("nolist.xar"),
            stagingDirectory: scratch("stage"))
        #expect(!FileManager.default.fileExists(atPath: scratch("stage") + "/.xar/startup-files"))
    }

    /// An entry module that raises while it is imported at build time stops the build with the exception as
    /// Python prints it; with `--no-check` the image is built, the list has what was read until then, and the
    /// build says so in notes.
    @Test func aFailingImportAtBuildTimeFailsTheBuildUnlessNoCheck() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-boom")
        let copy = try XarTestSupport.Process.run(["/bin/cp", "-R", f.source, scratch("app")], timeout: 60)
        try #require(copy.status == 0, "\(copy)")
        try PythonFixtures.write(scratch("app/myapp/boom.py"), "import json\nraise ValueError('boom at import')\n")
        var options = f.options()
        options.source = scratch("app")
        options.entryPoints = [.function(name: "boom", target: "myapp.boom:main")]
        let error = try #require(throws: PythonBuildError.self) {
            _ = try PythonImageBuilder.build(
                options, imageOptions: .init(compression: .zstd(level: 1)), output: scratch("boom.xar"))
        }
        #expect(
            error.problems.first == "The entry point boom (myapp.boom:main) cannot work: ValueError: boom at import",
            "\(error)")
        #expect(!FileManager.default.fileExists(atPath: scratch("boom.xar")))

        options.check = false
        let summary = try PythonImageBuilder.build(
            options, imageOptions: .init(compression: .zstd(level: 1)), output: scratch("boom.xar"),
            stagingDirectory: scratch("stage"))
        #expect(summary.staged.notes.count == 2, "\(summary.staged.notes)")
        #expect(summary.staged.notes.first?.hasSuffix("ValueError: boom at import") == true, "\(summary.staged.notes)")
        #expect(summary.staged.notes.last?.contains("(ValueError: boom at import)") == true, "\(summary.staged.notes)")
        let list = try String(contentsOfFile: scratch("stage") + "/.xar/startup-files", encoding: .utf8)
        #expect(list.hasPrefix("python/bin/python3\n"))
        #expect(list.contains("/json/__pycache__/__init__."), "\(list)")
        #expect(f.summary.staged.notes.isEmpty)
    }

    @Test func twoBuildsAreByteIdentical() throws {
        let f = try PythonFixtures.shared.get()
        let scratch = TemporaryDirectory(prefix: "xar-python-again")
        let again = try PythonImageBuilder.build(
            f.options(), imageOptions: .init(compression: .zstd(level: 3)), output: scratch("again.xar"))
        #expect(again.image.sha256 == f.summary.image.sha256)
        let same = try XarTestSupport.Process.run(["/usr/bin/cmp", f.image, scratch("again.xar")], timeout: 60)
        #expect(same.status == 0, "\(same)")
    }
}
