import Foundation
import Testing
@testable import XarBuild
import XarTestSupport

/// The TOML parser and the TOML lock formats (PEP 751 `pylock.toml`, `uv.lock`), on text: no interpreter.
@Suite struct PythonTOMLLockTests {
    /// The marker values of CPython 3.11 on x86-64 Linux.
    static let markers = [
        "os_name": "posix", "sys_platform": "linux", "platform_machine": "x86_64",
        "platform_python_implementation": "CPython", "platform_system": "Linux", "python_version": "3.11",
        "python_full_version": "3.11.2", "implementation_name": "cpython", "platform_release": "6.1",
        "platform_version": "#1", "implementation_version": "3.11.2",
    ]

    @Test func parsesWhatLockFilesAndPyprojectsUse() throws {
        let text = """
            # comment\r
            title = "a \\"quoted\\" \\u00e9 \\U0001F600 tab\\t"  # trailing comment
            literal = 'C:\\path'
            count = 1_000
            hex = 0xff
            negative = -3
            ratio = 90.5
            yes = true
            when = 2024-12-04T17:35:26.123Z
            spaced = 1979-05-27 07:32:00
            multi = \"\"\"
            one \\
              two\"\"\"
            raw = '''
            x\\y'''
            dotted.key = "v"
            "quoted key" = 1
            list = [
              1, # one
              2,
            ]
            inline = { a = "b", c = [1, 2], d = { e = true } }
            [tool.thing]
            x = 1
            [[packages]]
            name = "a"
            [[packages.wheels]]
            name = "a.whl"
            [[packages]]
            name = "b"
            """
        let doc = try TOMLTable.parse(text, path: "t.toml")
        #expect(doc.string("title") == "a \"quoted\" é 😀 tab\t")
        #expect(doc.string("literal") == "C:\\path")
        #expect(doc["count"] == .integer(1000) && doc["hex"] == .integer(255) && doc["negative"] == .integer(-3))
        #expect(doc["ratio"] == .float(90.5) && doc["yes"] == .boolean(true))
        #expect(doc["when"] == .datetime("2024-12-04T17:35:26.123Z"))
        #expect(doc["spaced"] == .datetime("1979-05-27 07:32:00"))
        #expect(doc.string("multi") == "one two")
        #expect(doc.string("raw") == "x\\y")
        #expect(doc.table("dotted")?.string("key") == "v")
        #expect(doc["quoted key"] == .integer(1))
        #expect(doc["list"] == .array([.integer(1), .integer(2)]))
        #expect(doc.table("inline")?.table("d")?["e"] == .boolean(true))
        #expect(doc.table("tool")?.table("thing")?["x"] == .integer(1))
        let packages = doc.tables("packages")
        #expect(packages.map { $0.string("name") } == ["a", "b"])
        #expect(packages[0].tables("wheels").first?.string("name") == "a.whl")
        #expect(packages.map(\.line) == [25, 29])
    }

    @Test(arguments: [
        ("a = 1\na = 2\n", "t.toml:2:1: the key `a` is defined more than once."),
        ("[x]\n[x]\n", "t.toml:2:1: the table [x] is defined more than once."),
        ("a = \"open\n", "t.toml:1:5: the string is not closed on its line."),
        ("a = bare\n", "t.toml:1:5: `bare` is not a TOML value (a string must be quoted)."),
        ("a = [1, 2\n", "t.toml:2:1: the array is not closed with `]`."),
        ("a = 1 b = 2\n", "t.toml:1:7: expected the end of the line, found `b`."),
        ("a = \"\\q\"\n", "t.toml:1:6: `\\q` is not a TOML escape."),
        ("t = {a = 1}\n[t]\n", "t.toml:2:1: the table [t] is defined more than once."),
        ("a = 1\n[a.b]\n", "t.toml:2:1: `a` is already a value, not a table."),
        ("[[p]]\n[p]\n", "t.toml:2:1: the table [p] is defined more than once."),
        ("x = 01\n", "t.toml:1:5: `01` is not a TOML value (a string must be quoted)."),
    ])
    func refusesWhatIsNotTOML(text: String, message: String) throws {
        let error = try #require(throws: PythonBuildError.self) { try TOMLTable.parse(text, path: "t.toml") }
        #expect(error.problems == [message])
    }

    @Test func pylockPinsTheWheelsWhoseMarkersHold() throws {
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
        let text = """
            lock-version = "1.0"
            requires-python = ">=3.9"
            created-by = "test"

            [[packages]]
            name = "myproj"
            directory = { path = ".", editable = true }

            [[packages]]
            name = "Six"
            version = "1.17.0"
            wheels = [{ name = "six-1.17.0-py2.py3-none-any.whl", upload-time = 2024-12-04T17:35:26Z, hashes = { sha256 = "\(a)" } }]

            [[packages]]
            name = "colorama"
            version = "0.4.6"
            marker = "sys_platform == 'win32'"
            [[packages.wheels]]
            name = "colorama-0.4.6-py2.py3-none-any.whl"
            hashes = { sha256 = "\(b)" }
            """
        let pins = try PyLock.pins(
            TOMLTable.parse(text, path: "pylock.toml"), path: "pylock.toml", markers: Self.markers)
        #expect(pins.map { "\($0.normalizedName)==\($0.version)" } == ["six==1.17.0"])
        #expect(pins.first?.hashes == [a] && pins.first?.line == 9)
    }

    /// A lock saved on Windows reads the same: `\r\n` ends a line, in comments and multi-line arrays too.
    @Test func crlfLocksReadTheSame() throws {
        let a = String(repeating: "a", count: 64)
        let pylock = """
            # written on Windows
            lock-version = "1.0"
            [[packages]]
            name = "six"
            version = "1.17.0"
            wheels = [
                { name = "six-1.17.0-py2.py3-none-any.whl", hashes = { sha256 = "\(a)" } },  # the wheel
            ]
            """.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        let uvLock = """
            version = 1
            [[package]]
            name = "app"
            version = "1.0"
            source = { virtual = "." }
            dependencies = [
                { name = "six" },
            ]
            [[package]]
            name = "six"
            version = "1.17.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [
                { url = "https://x/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:\(a)" },
            ]
            """.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        let fromPylock = try PyLock.pins(
            TOMLTable.parse(pylock, path: "pylock.toml"), path: "pylock.toml", markers: Self.markers)
        let fromUv = try UvLock.pins(TOMLTable.parse(uvLock, path: "uv.lock"), path: "uv.lock", markers: Self.markers)
        for pins in [fromPylock, fromUv] {
            #expect(pins.map { "\($0.normalizedName)==\($0.version)" } == ["six==1.17.0"])
            #expect(pins.first?.hashes == [a])
        }
        #expect(fromPylock.first?.line == 3 && fromUv.first?.line == 9)
        // A lone carriage return is not a line ending.
        let error = try #require(throws: PythonBuildError.self) {
            try TOMLTable.parse("a = 1\rb = 2\n", path: "t.toml")
        }
        #expect(
            error.problems == ["t.toml:1:6: expected the end of the line, found a carriage return without a line feed."]
        )
    }

    @Test func pylockProblemsAreListedTogether() throws {
        let text = """
            lock-version = "1.0"
            [[packages]]
            name = "onlysdist"
            version = "1.0"
            sdist = { name = "onlysdist-1.0.tar.gz", hashes = { sha256 = "\(String(repeating: "c", count: 64))" } }
            [[packages]]
            name = "md5"
            version = "1.0"
            wheels = [{ name = "md5-1.0-py3-none-any.whl", hashes = { md5 = "00" } }]
            [[packages]]
            name = "twice"
            version = "1.0"
            wheels = [{ name = "twice-1.0-py3-none-any.whl", hashes = { sha256 = "\(String(repeating: "d", count: 64))" } }]
            [[packages]]
            name = "twice"
            version = "2.0"
            wheels = [{ name = "twice-2.0-py3-none-any.whl", hashes = { sha256 = "\(String(repeating: "e", count: 64))" } }]
            """
        let error = try #require(throws: PythonBuildError.self) {
            try PyLock.pins(TOMLTable.parse(text, path: "pylock.toml"), path: "pylock.toml", markers: Self.markers)
        }
        #expect(
            error.problems == [
                "pylock.toml:2: onlysdist is locked as a source distribution only; only wheels are bundled: lock a wheel of it (or build one and pass it with --wheel).",
                "pylock.toml:9: md5-1.0-py3-none-any.whl has no sha256 in `hashes`; lock it with sha256 hashes.",
                "pylock.toml:14: twice is locked twice for this interpreter (also at line 10); a lock must pin one version.",
            ])
    }

    @Test func uvLockWalksTheProjectsGraphForThisInterpreter() throws {
        func hash(_ c: Character) -> String { "sha256:" + String(repeating: c, count: 64) }
        let text = """
            version = 1
            revision = 2
            requires-python = ">=3.9"
            resolution-markers = ["python_full_version >= '3.11'", "python_full_version < '3.11'"]

            [[package]]
            name = "myproj"
            version = "0.1.0"
            source = { editable = "." }
            dependencies = [
                { name = "requests", extra = ["socks"] },
                { name = "colorama", marker = "sys_platform == 'win32'" },
                { name = "tomli", version = "2.2.1", marker = "python_full_version < '3.11'" },
                { name = "tomli", version = "2.0.0", marker = "python_full_version >= '3.11'" },
            ]

            [package.dev-dependencies]
            dev = [{ name = "pytest" }]

            [[package]]
            name = "requests"
            version = "2.32.3"
            source = { registry = "https://pypi.org/simple" }
            dependencies = [{ name = "idna" }]
            wheels = [{ url = "https://x/requests-2.32.3-py3-none-any.whl", hash = "\(hash("1"))", size = 1 }]

            [package.optional-dependencies]
            socks = [{ name = "pysocks" }]

            [[package]]
            name = "idna"
            version = "3.10"
            source = { registry = "https://pypi.org/simple" }
            sdist = { url = "https://x/idna-3.10.tar.gz", hash = "\(hash("0"))" }
            wheels = [{ url = "https://x/idna-3.10-py3-none-any.whl", hash = "\(hash("2"))" }]

            [[package]]
            name = "pysocks"
            version = "1.7.1"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://x/PySocks-1.7.1-py3-none-any.whl", hash = "\(hash("3"))" }]

            [[package]]
            name = "colorama"
            version = "0.4.6"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://x/colorama-0.4.6-py2.py3-none-any.whl", hash = "\(hash("4"))" }]

            [[package]]
            name = "tomli"
            version = "2.2.1"
            source = { registry = "https://pypi.org/simple" }
            resolution-markers = ["python_full_version < '3.11'"]
            wheels = [{ url = "https://x/tomli-2.2.1-py3-none-any.whl", hash = "\(hash("5"))" }]

            [[package]]
            name = "tomli"
            version = "2.0.0"
            source = { registry = "https://pypi.org/simple" }
            resolution-markers = ["python_full_version >= '3.11'"]
            wheels = [{ url = "https://x/tomli-2.0.0-py3-none-any.whl", hash = "\(hash("6"))" }]

            [[package]]
            name = "pytest"
            version = "8.0.0"
            source = { registry = "https://pypi.org/simple" }
            wheels = [{ url = "https://x/pytest-8.0.0-py3-none-any.whl", hash = "\(hash("7"))" }]
            """
        let pins = try UvLock.pins(TOMLTable.parse(text, path: "uv.lock"), path: "uv.lock", markers: Self.markers)
        #expect(
            pins.map { "\($0.normalizedName)==\($0.version)" }
                == ["requests==2.32.3", "idna==3.10", "pysocks==1.7.1", "tomli==2.0.0"])
        #expect(pins[1].hashes == [String(repeating: "2", count: 64)])
        var older = Self.markers
        older["python_full_version"] = "3.10.4"
        older["python_version"] = "3.10"
        let pins310 = try UvLock.pins(TOMLTable.parse(text, path: "uv.lock"), path: "uv.lock", markers: older)
        #expect(pins310.last.map { "\($0.normalizedName)==\($0.version)" } == "tomli==2.2.1")
    }

    @Test func uvLockRefusesPackagesWithoutWheels() throws {
        let text = """
            version = 1
            [[package]]
            name = "app"
            version = "1.0"
            source = { virtual = "." }
            dependencies = [{ name = "gitdep" }, { name = "sdistonly" }]
            [[package]]
            name = "gitdep"
            version = "1.0"
            source = { git = "https://example.invalid/gitdep?rev=1" }
            [[package]]
            name = "sdistonly"
            version = "1.0"
            source = { registry = "https://pypi.org/simple" }
            sdist = { url = "https://x/sdistonly-1.0.tar.gz", hash = "sha256:\(String(repeating: "0", count: 64))" }
            """
        let error = try #require(throws: PythonBuildError.self) {
            try UvLock.pins(TOMLTable.parse(text, path: "uv.lock"), path: "uv.lock", markers: Self.markers)
        }
        #expect(
            error.problems == [
                "uv.lock:7: gitdep is locked from a git source; only wheels are bundled: lock a wheel of it (or build one and pass it with --wheel).",
                "uv.lock:11: sdistonly is locked as a source distribution only; only wheels are bundled: lock a wheel of it (or build one and pass it with --wheel).",
            ])
    }

    @Test func lockFormatIsChosenByFileName() {
        #expect(RequirementsLock.Format(path: "a/pylock.toml") == .pylock)
        #expect(RequirementsLock.Format(path: "pylock.dev.toml") == .pylock)
        #expect(RequirementsLock.Format(path: "x/uv.lock") == .uvLock)
        #expect(RequirementsLock.Format(path: "requirements.txt") == .requirements)
        #expect(RequirementsLock.Format(path: "lock.toml") == .requirements)
    }
}
