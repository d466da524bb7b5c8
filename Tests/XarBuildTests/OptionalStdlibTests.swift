import Foundation
import Testing
import XarTestSupport

@testable import XarBuild

/// Which optional standard-library parts (curses, readline, distutils) an image keeps.
struct OptionalStdlibTests {
    @Test(arguments: [
        ("import readline", "readline", true),
        ("    import os, readline  # line editing", "readline", true),
        ("from curses import wrapper", "curses", true),
        ("import curses.ascii", "curses", true),
        ("mod = importlib.import_module('distutils')", "distutils", true),
        ("from setuptools._distutils import core", "distutils", false),
        ("import readline_extra", "readline", false),
        ("line = stream.readline()", "readline", false),
        ("from mypkg.curses import screen", "curses", false),
        ("# we used to import curses here", "curses", false),
    ])
    func mentions(line: String, module: String, expected: Bool) {
        #expect(OptionalStdlib.mentions("x = 1\n\(line)\n", module) == expected)
    }

    @Test func unmentionedGroupsAreDroppedUnlessKept() throws {
        let directory = TemporaryDirectory()
        try Process.shell(
            "mkdir -p '\(directory("code/pkg"))' && printf 'import os\\ntry:\\n    import readline\\nexcept ImportError:\\n    pass\\n' > '\(directory("code/pkg/cli.py"))'",
            timeout: 10)
        let names = { (keep: Set<String>) in
            OptionalStdlib.unused(keeping: keep, codeDirectories: [directory("code")]).map(\.name)
        }
        #expect(names([]) == ["curses", "distutils"])
        #expect(names(["curses"]) == ["distutils"])

        // Removal takes the package and the extension modules, and nothing else.
        try Process.shell(
            "mkdir -p '\(directory("stdlib/curses"))' '\(directory("stdlib/json"))' '\(directory("stdlib/lib-dynload"))' && "
                + "touch '\(directory("stdlib/curses/__init__.py"))' '\(directory("stdlib/lib-dynload/_curses.cpython-311-x86_64-linux-gnu.so"))' "
                + "'\(directory("stdlib/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so"))'", timeout: 10)
        let curses = try #require(OptionalStdlib.groups.first { $0.name == "curses" })
        try OptionalStdlib.remove([curses], stdlib: directory("stdlib"), libDynload: directory("stdlib/lib-dynload"))
        let left = try Process.shell("cd '\(directory("stdlib"))' && find . | sort", timeout: 10).stdout
        #expect(left == ".\n./json\n./lib-dynload\n./lib-dynload/_json.cpython-311-x86_64-linux-gnu.so\n")
    }
}
