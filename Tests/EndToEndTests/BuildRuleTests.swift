import Foundation
import Glibc
import Testing
import XarTestSupport

/// FUSE for running the images, CMake and Debian's python3 (`scripts/install-deps` installs both).
private let canRunBuildRules =
    XarctlOpsFixture.canRun && TestEnvironment.hasTool("cmake") && access("/usr/bin/python3", X_OK) == 0

/// The CMake build rules (`cmake/Xar.cmake`) and `xarbuild --depfile` under them: a real CMake project with a
/// directory image and a Python application, built, run, and rebuilt only when an input changes; a runtime
/// (MarkupSafe from PyPI) and a thin application on it, rebuilt when the runtime changes.
@Suite(.serialized, .tags(.fuse, .root, .python, .slow), .enabled(if: canRunBuildRules))
struct BuildRuleTests: BuildRuleProject {
    /// The repository's `cmake/Xar.cmake`, found from this file's path.
    static let module = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cmake/Xar.cmake").path

    @Test func cmakeBuildsImagesAndRebuildsOnlyWhatAnInputChanged() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let source = fixture.dir("project"), build = fixture.dir("build")
        try write("#!/bin/sh\necho hello \"$@\"\n", to: "\(source)/hello/bin/hi", executable: true)
        try write("data\n", to: "\(source)/hello/data.txt")
        try write("def main():\n    print('greetings')\n", to: "\(source)/app/greet_app/__init__.py")
        let runtimePins = try writeRuntimeProject(
            wheels: "\(source)/wheels", runtimeLock: "\(source)/runtime.txt", thin: "\(source)/thin")
        try write(
            """
            cmake_minimum_required(VERSION 3.20)
            project(tools NONE)
            include("\(Self.module)")
            xar_directory(hello DIRECTORY hello OUTPUT hello.xar EXEC bin/hi)
            xar_python(greet OUTPUT greet.xar PYTHON /usr/bin/python3 SOURCE app ENTRY_POINTS greet=greet_app:main)
            xar_runtime(py OUTPUT py.xar PYTHON /usr/bin/python3 REQUIREMENTS runtime.txt WHEELHOUSE wheels)
            xar_python(markup OUTPUT markup.xar RUNTIME py SOURCE thin ENTRY_POINTS markup=markup_app:main)

            """, to: "\(source)/CMakeLists.txt")
        let configured = try XarTestSupport.Process.run(
            ["cmake", "-S", source, "-B", build, "-DXARBUILD=\(TestEnvironment.product("xarbuild"))"])
        try #require(configured.status == 0, "\(configured)")
        let cmakeBuild = { () throws -> XarTestSupport.Process.Result in
            let result = try XarTestSupport.Process.run(["cmake", "--build", build], timeout: 600)
            #expect(result.status == 0, "\(result)")
            return result
        }
        let run = { (image: String, arguments: [String]) throws -> String in
            let result = try XarTestSupport.Process.run(
                ["\(build)/\(image)"] + arguments, environment: fixture.environment(), timeout: 60)
            #expect(result.status == 0, "\(result)")
            return result.stdout
        }

        let first = try cmakeBuild()
        #expect(first.stdout.contains("xarbuild dir: hello.xar") && first.stdout.contains("xarbuild python: greet.xar"))
        #expect(try run("hello.xar", ["x"]) == "hello x\n")
        #expect(try run("greet.xar", []) == "greetings\n")
        // The thin image finds py.xar next to it, and MarkupSafe's compiled speedups come from the runtime.
        #expect(try run("markup.xar", []) == "&lt;b&gt; markupsafe._speedups no six\n")
        #expect(try run("py.xar", ["-c", "import markupsafe; print(markupsafe.__version__)"]) == "2.1.5\n")
        // The depfiles name the inputs: the files under the directories, the interpreter.
        let depfile = try String(contentsOfFile: "\(build)/greet.xar.d", encoding: .utf8)
        #expect(depfile.hasPrefix("\(build)/greet.xar:"), "\(depfile)")
        #expect(depfile.contains("\(source)/app/greet_app/__init__.py") && depfile.contains("/usr/bin/python3"))
        // The thin image's names the runtime instead of the interpreter.
        let thinDepfile = try String(contentsOfFile: "\(build)/markup.xar.d", encoding: .utf8)
        #expect(thinDepfile.contains("\(build)/py.xar") && !thinDepfile.contains("python3"), "\(thinDepfile)")

        // Nothing changed: nothing is rebuilt.
        let (hello, greet) = (inode("\(build)/hello.xar"), inode("\(build)/greet.xar"))
        let markup = inode("\(build)/markup.xar")
        #expect(!(try cmakeBuild().stdout.contains("xarbuild")))
        #expect(inode("\(build)/hello.xar") == hello && inode("\(build)/greet.xar") == greet)
        #expect(inode("\(build)/markup.xar") == markup)

        // A changed file, then a new one: the directory image only.
        sleep(1)  // file times in whole seconds on some file systems
        try write("data, changed\n", to: "\(source)/hello/data.txt")
        var again = try cmakeBuild()
        #expect(again.stdout.contains("xarbuild dir: hello.xar") && !again.stdout.contains("xarbuild python"))
        try write("new\n", to: "\(source)/hello/new.txt")
        again = try cmakeBuild()
        #expect(again.stdout.contains("xarbuild dir: hello.xar") && !again.stdout.contains("xarbuild python"))
        #expect(inode("\(build)/greet.xar") == greet)

        // The application's source: the Python image only, and it runs the new code.
        try write("def main():\n    print('greetings, changed')\n", to: "\(source)/app/greet_app/__init__.py")
        again = try cmakeBuild()
        #expect(again.stdout.contains("xarbuild python: greet.xar") && !again.stdout.contains("xarbuild dir"))
        #expect(try run("greet.xar", []) == "greetings, changed\n")

        // A changed runtime (its lock gains six): the runtime and the thin image on it, which names the new digest
        // (an old thin image would be refused, its runtime gone) and sees the runtime's six.
        sleep(1)
        try write(runtimePins[0] + runtimePins[1], to: "\(source)/runtime.txt")
        again = try cmakeBuild()
        #expect(again.stdout.contains("xarbuild runtime: py.xar"), "\(again)")
        #expect(again.stdout.contains("xarbuild python: markup.xar"), "\(again)")
        #expect(!again.stdout.contains("greet.xar") && !again.stdout.contains("xarbuild dir"), "\(again)")
        #expect(try run("markup.xar", []) == "&lt;b&gt; markupsafe._speedups six 1.17.0\n")
    }
}
