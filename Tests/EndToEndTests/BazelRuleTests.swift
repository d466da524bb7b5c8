import Foundation
import Glibc
import Testing
import XarTestSupport

/// FUSE for running the images, Bazel and Debian's python3 with pip (`scripts/install-deps` installs them).
private let canRunBazelRules =
    XarctlOpsFixture.canRun && TestEnvironment.hasTool("bazel") && access("/usr/bin/python3", X_OK) == 0

/// The Bazel rules (`bazel/xar.bzl`), loaded as a monorepo would: a real workspace with a directory image and a
/// Python application with a locked wheel, built in Bazel's sandbox, run, compared with `xarbuild` run by hand on
/// the same files, and rebuilt only when one of the rule's inputs changes; the revision from Bazel's stable status;
/// a runtime (MarkupSafe from PyPI) and a thin application on it, rebuilt when the runtime changes.
@Suite(.serialized, .tags(.fuse, .root, .python, .slow), .enabled(if: canRunBazelRules))
struct BazelRuleTests: BuildRuleProject {
    /// The repository's root (it holds `bazel/xar.bzl`), found from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A wheel of the one-module project `shout`, made by pip, and a lock naming it with its hash.
    func makeWheel(_ fixture: XarctlOpsFixture) throws -> (wheel: String, lock: String) {
        let project = fixture.dir("shout")
        try write("def shout(text):\n    return text.upper()\n", to: "\(project)/shout.py")
        try write(
            "from setuptools import setup\nsetup(name='shout', version='1.0', py_modules=['shout'])\n",
            to: "\(project)/setup.py")
        let wheels = fixture.dir("wheels")
        let built = try XarTestSupport.Process.run(
            [
                "/usr/bin/python3", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                "-w", wheels, project,
            ], timeout: 300)
        try #require(built.status == 0, "pip wheel: \(built)")
        let wheel = try #require(
            try FileManager.default.contentsOfDirectory(atPath: wheels).first { $0.hasSuffix(".whl") })
        let digest = try XarTestSupport.Process.run(["sha256sum", "\(wheels)/\(wheel)"])
        return ("\(wheels)/\(wheel)", "shout==1.0 --hash=sha256:\(digest.stdout.prefix(64))\n")
    }

    @Test func bazelBuildsImagesInItsSandboxAndRebuildsOnlyWhatAnInputChanged() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let workspace = fixture.dir("workspace"), tools = fixture.dir("workspace/tools")
        let (wheel, lock) = try makeWheel(fixture)
        try write("#!/bin/sh\necho hello \"$@\"\n", to: "\(tools)/hello/bin/hi", executable: true)
        try write("data\n", to: "\(tools)/hello/data.txt")
        let greeting = "from shout import shout\n\ndef main():\n    print(shout('greetings'))\n"
        try write(greeting, to: "\(tools)/app/greet_app/__init__.py")
        try write("not in srcs\n", to: "\(tools)/app/notes.txt")
        try write(lock, to: "\(tools)/requirements.txt")
        // The directory image runs the xarbuild a label names (a vendored wrapper that leaves a mark), the Python
        // one the xarbuild on PATH.
        let mark = fixture.dir("xarbuild-label-used")
        try write(
            "#!/bin/sh\ntouch \(mark)\nexec \(TestEnvironment.product("xarbuild")) \"$@\"\n",
            to: "\(tools)/xarbuild.sh", executable: true)
        let runtimePins = try writeRuntimeProject(
            wheels: "\(tools)/wheels", runtimeLock: "\(tools)/runtime.txt", thin: "\(tools)/thin")
        try TestFiles.copy(wheel, to: "\(tools)/wheels/\((wheel as NSString).lastPathComponent)")
        try write(
            """
            new_local_repository(name = "xar", path = "\(Self.repository)", build_file_content = "")

            """, to: "\(workspace)/WORKSPACE")
        try write(
            """
            load("@xar//:bazel/xar.bzl", "xar_directory", "xar_python", "xar_runtime")

            xar_directory(
                name = "hello",
                srcs = glob(["hello/**"]),
                strip_prefix = "hello",
                exec = "bin/hi",
                xarbuild = "xarbuild.sh",
            )

            # The same application three times: BUILD files allow no **kwargs to share the attributes.
            xar_python(
                name = "greet",
                srcs = glob(["app/**/*.py"]),
                strip_prefix = "app",
                python = "/usr/bin/python3",
                entry_points = ["greet=greet_app:main"],
                requirements = "requirements.txt",
                wheels = glob(["wheels/*.whl"]),
            )

            xar_python(
                name = "stamped",
                srcs = glob(["app/**/*.py"]),
                strip_prefix = "app",
                python = "/usr/bin/python3",
                entry_points = ["greet=greet_app:main"],
                requirements = "requirements.txt",
                wheels = glob(["wheels/*.whl"]),
                stamp_revision = "STABLE_GIT_COMMIT",
                tags = ["manual"],
            )

            xar_runtime(
                name = "py",
                python = "/usr/bin/python3",
                requirements = "runtime.txt",
                wheels = glob(["wheels/*.whl"]),
            )

            # A thin image on that runtime: its source only.
            xar_python(
                name = "markup",
                srcs = glob(["thin/**/*.py"]),
                strip_prefix = "thin",
                runtime = ":py",
                entry_points = ["markup=markup_app:main"],
            )

            # The lock names a wheel the rule does not list.
            xar_python(
                name = "unlocked",
                srcs = glob(["app/**/*.py"]),
                strip_prefix = "app",
                python = "/usr/bin/python3",
                entry_points = ["greet=greet_app:main"],
                requirements = "requirements.txt",
                tags = ["manual"],
            )

            """, to: "\(tools)/BUILD")

        let bazel = { (target: String, options: [String]) throws -> XarTestSupport.Process.Result in
            try XarTestSupport.Process.run(
                [
                    "bazel", "--batch", "--nohome_rc", "--output_user_root=\(fixture.dir("bazel-root"))",
                    "build", "--action_env=PATH=\(TestEnvironment.binDirectory):/usr/bin:/bin",
                ] + options + [target], directory: workspace, timeout: 600)
        }
        let build = { () throws in
            let result = try bazel("//tools:all", [])
            #expect(result.status == 0, "\(result)")
        }
        let bin = "\(workspace)/bazel-bin/tools"
        let run = { (image: String, arguments: [String]) throws -> String in
            let result = try XarTestSupport.Process.run(
                ["\(bin)/\(image)"] + arguments, environment: fixture.environment(), timeout: 60)
            #expect(result.status == 0, "\(result)")
            return result.stdout
        }

        try build()
        #expect(access(mark, F_OK) == 0, "the xarbuild label's wrapper did not run")
        #expect(try run("hello.xar", ["x"]) == "hello x\n")
        #expect(try run("greet.xar", []) == "GREETINGS\n")
        // The thin image finds py.xar next to it, and MarkupSafe's compiled speedups come from the runtime.
        #expect(try run("markup.xar", []) == "&lt;b&gt; markupsafe._speedups no six\n")
        #expect(try run("py.xar", ["-c", "import markupsafe; print(markupsafe.__version__)"]) == "2.1.5\n")

        // The same files through xarbuild by hand give the same bytes: the action's copies (of Bazel's
        // symbolic links) change nothing, and the file outside srcs is not in the image.
        try FileManager.default.removeItem(atPath: "\(tools)/app/notes.txt")
        let xarbuild = TestEnvironment.product("xarbuild")
        let byHand = [
            ("hello.xar", [xarbuild, "dir", "\(tools)/hello", "--exec", "bin/hi"]),
            (
                "greet.xar",
                [
                    xarbuild, "python", "--source", "\(tools)/app", "--python", "/usr/bin/python3", "--requirements",
                    "\(tools)/requirements.txt", "--wheelhouse", "\(tools)/wheels", "--entry-point",
                    "greet=greet_app:main",
                ]
            ),
        ]
        for (image, command) in byHand {
            let output = fixture.dir("by-hand-\(image)")
            var environment = ProcessInfo.processInfo.environment
            environment["SOURCE_DATE_EPOCH"] = "0"
            let made = try XarTestSupport.Process.run(command + ["-o", output], environment: environment, timeout: 600)
            try #require(made.status == 0, "\(made)")
            #expect(
                FileManager.default.contentsEqual(atPath: output, andPath: "\(bin)/\(image)"),
                "\(image) from Bazel differs from xarbuild's")
        }

        // Nothing the rules name changed (the file outside srcs went): nothing is rebuilt.
        let (hello, greet) = (inode("\(bin)/hello.xar"), inode("\(bin)/greet.xar"))
        let (runtime, markup) = (inode("\(bin)/py.xar"), inode("\(bin)/markup.xar"))
        try build()
        #expect(inode("\(bin)/hello.xar") == hello && inode("\(bin)/greet.xar") == greet)
        #expect(inode("\(bin)/py.xar") == runtime && inode("\(bin)/markup.xar") == markup)

        // A changed file of the directory: that image only.
        try write("data, changed\n", to: "\(tools)/hello/data.txt")
        try build()
        #expect(inode("\(bin)/hello.xar") != hello && inode("\(bin)/greet.xar") == greet)

        // The application's source: the Python image only, and it runs the new code.
        let helloAgain = inode("\(bin)/hello.xar")
        try write(
            greeting.replacingOccurrences(of: "'greetings'", with: "'changed'"),
            to: "\(tools)/app/greet_app/__init__.py")
        try build()
        #expect(inode("\(bin)/hello.xar") == helloAgain && inode("\(bin)/greet.xar") != greet)
        #expect(try run("greet.xar", []) == "CHANGED\n")
        #expect(inode("\(bin)/py.xar") == runtime && inode("\(bin)/markup.xar") == markup)

        // A changed runtime (its lock gains six): the runtime and the thin image on it, which names the new digest
        // (an old thin image would be refused, its runtime gone) and sees the runtime's six.
        let greetAgain = inode("\(bin)/greet.xar")
        try write(runtimePins[0] + runtimePins[1], to: "\(tools)/runtime.txt")
        try build()
        #expect(inode("\(bin)/py.xar") != runtime && inode("\(bin)/markup.xar") != markup)
        #expect(inode("\(bin)/hello.xar") == helloAgain && inode("\(bin)/greet.xar") == greetAgain)
        #expect(try run("markup.xar", []) == "&lt;b&gt; markupsafe._speedups six 1.17.0\n")

        // A lock whose wheel the rule does not name fails the build with xarbuild's line.
        let failed = try bazel("//tools:unlocked", [])
        #expect(failed.status != 0, "\(failed)")
        #expect(failed.stderr.contains("xarbuild: error:") && failed.stderr.contains("shout"), "\(failed)")

        // The revision from Bazel's stable status: missing, the build says what to give it; given, it is recorded.
        let unstamped = try bazel("//tools:stamped", [])
        #expect(unstamped.status != 0, "\(unstamped)")
        #expect(unstamped.stderr.contains("stable status has no STABLE_GIT_COMMIT"), "\(unstamped)")
        try write("#!/bin/sh\necho STABLE_GIT_COMMIT 0123abc\n", to: "\(workspace)/status.sh", executable: true)
        let stamped = try bazel("//tools:stamped", ["--workspace_status_command=\(workspace)/status.sh"])
        try #require(stamped.status == 0, "\(stamped)")
        let inspected = try fixture.xarctl(["inspect", "--json", "\(bin)/stamped.xar"])
        let object = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        #expect((object?["metadata"] as? [String: Any])?["revision"] as? String == "0123abc", "\(inspected)")
    }
}
