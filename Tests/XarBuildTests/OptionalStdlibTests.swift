import Foundation
import Testing
import XarTestSupport

@testable import XarBuild

/// Which optional standard-library parts (curses, readline, distutils, sqlite3) an image keeps, and which
/// bytecode it drops.
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
        ("    import sqlite3", "sqlite3", true),
        ("from sqlite3 import dbapi2", "sqlite3", true),
        ("engine = create_engine('sqlite3')", "sqlite3", true),
        ("from _sqlite3 import connect", "_sqlite3", true),
        ("import pysqlite3", "sqlite3", false),
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
        #expect(names([]) == ["curses", "distutils", "sqlite3"])
        #expect(names(["curses", "sqlite3"]) == ["distutils"])

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

    /// A module with an extension beside its source (as mypyc-compiled wheels ship them) loses its bytecode, which
    /// no import can reach; every other module keeps its own.
    @Test func bytecodeShadowedByAnExtensionModuleIsRemoved() throws {
        let directory = TemporaryDirectory()
        let files = [
            "pkg/__init__.py", "pkg/__pycache__/__init__.cpython-311.pyc",
            "pkg/fast.py", "pkg/fast.cpython-311-x86_64-linux-gnu.so", "pkg/__pycache__/fast.cpython-311.pyc",
            "pkg/limited.py", "pkg/limited.abi3.so", "pkg/__pycache__/limited.cpython-311.pyc",
            "pkg/plain.py", "pkg/__pycache__/plain.cpython-311.pyc",
            "pkg/libhelper.so.1", "pkg/libhelper.py", "pkg/__pycache__/libhelper.cpython-311.pyc",
            "other/fast.py", "other/__pycache__/fast.cpython-311.pyc",
        ]
        try Process.shell(
            files.map { "mkdir -p \"$(dirname '\(directory("t/\($0)"))')\" && touch '\(directory("t/\($0)"))'" }
                .joined(separator: " && "), timeout: 10)
        try PythonStager.removeShadowedBytecode(under: directory("t"))
        let left = try Process.shell("cd '\(directory("t"))' && find . -name '*.pyc' | sort", timeout: 10).stdout
        #expect(
            left == """
                ./other/__pycache__/fast.cpython-311.pyc
                ./pkg/__pycache__/__init__.cpython-311.pyc
                ./pkg/__pycache__/libhelper.cpython-311.pyc
                ./pkg/__pycache__/plain.cpython-311.pyc

                """)
    }
}
