import Foundation
import Testing
import XarTestSupport

@testable import XarBuild

/// The Python that `xarbuild` writes into images or runs at build time: real files in
/// `Sources/XarBuild/Python/Scripts`, embedded by the `EmbedPythonScripts` plugin, clean for a Python linter.
@Suite struct PythonScriptsTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/XarBuild/Python/Scripts").path

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
    }

    static let pyflakes =
        (try? XarTestSupport.Process.run(["/usr/bin/python3", "-c", "import pyflakes"]).status) == 0

    @Test func everyScriptIsEmbeddedAsItIs() throws {
        let embedded: [String: String] = [
            "bootstrap.py": EmbeddedPython.bootstrap, "xar_runtime.py": EmbeddedPython.xarRuntime,
            "_xar_importer.py": EmbeddedPython.xarImporter, "import_index.py": EmbeddedPython.importIndex,
            "startup_list.py": EmbeddedPython.startupList, "interpreter_probe.py": EmbeddedPython.interpreterProbe,
            "sysconfig_override.py": EmbeddedPython.sysconfigOverride, "load_check.py": EmbeddedPython.loadCheck,
            "entry_point_check.py": EmbeddedPython.entryPointCheck,
            "sitecustomize.py": EmbeddedPython.sitecustomize,
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".py") }
        #expect(Set(files) == Set(embedded.keys))
        for (name, constant) in embedded { #expect(try Self.text(name) == constant, "\(name)") }
    }

    @Test(.enabled(if: pyflakes, "needs Debian's python3-pyflakes")) func pyflakesFindsNothing() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".py") }
        let result = try XarTestSupport.Process.run(
            ["/usr/bin/python3", "-m", "pyflakes"] + files.sorted().map { "\(Self.directory)/\($0)" })
        #expect(result.status == 0 && result.stdout.isEmpty, "\(result)")
    }

    @Test func theBootstrapGetsItsValuesAndStaysValidPython() throws {
        let text = PythonBootstrap.script(
            entries: [.function(name: "tool", target: "tool.cli:main"), .module(name: "serve", module: "tool.server")],
            defaultEntry: "tool",
            pthImports: [
                .init(file: "python/lib/python3.11/site-packages/_virtualenv.pth", lines: [(2, "import _virtualenv")])
            ],
            searchPath: ["app", "python/lib/python3.11"])
        #expect(text.contains("    'tool': ('function', 'tool.cli:main'),\n    'serve': ('module', 'tool.server'),\n"))
        #expect(
            text.contains(
                "_DEFAULT = 'tool'\n_PTH_IMPORTS = (('python/lib/python3.11/site-packages/_virtualenv.pth', "
                    + "((2, 'import _virtualenv'),)),)\n"))
        #expect(text.contains("_SEARCH_PATH = ('app', 'python/lib/python3.11',)\n"))
        #expect(text.contains("_RUNTIME_PATH = ()\n_RUNTIME_PTH_IMPORTS = ()\n"))
        #expect(!text.contains("_ENTRIES = {}"))
        let compiled = try XarTestSupport.Process.run(
            ["/usr/bin/python3", "-c", "import sys; compile(sys.stdin.read(), 'bootstrap.py', 'exec')"], stdin: text)
        #expect(compiled.status == 0, "\(compiled)")
    }
}
