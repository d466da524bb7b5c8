import Foundation

/// Two of the small Python files every image carries in `/.xar`: `bootstrap.py`, which the interpreter runs first
/// and which picks and runs the entry point, and `xar_runtime.py`, which lets the application read the image's
/// metadata. (The third, `_xar_importer.py`, is `PythonImportIndex`'s.)
///
/// Both are real files in `Scripts/`, embedded at build time (`EmbeddedPython`). The bootstrap is run as a script, from its bytecode (`python3 -I /mount/.xar/bootstrap.pyc ARGV0 ENTRY
/// args…`): it installs the import index (`PythonImportIndex`), restores `sys.argv` to `[ARGV0, args…]`, runs the
/// `.pth` import lines resolved at build time, then calls the entry point. Its work is guarded by
/// `__name__ == "__main__"`, so `multiprocessing`'s spawn, which re-runs the main script as `__mp_main__` in each
/// child, does nothing twice.
enum PythonBootstrap {
    /// The `import` lines of one `.pth` file, each with its line number (for site's error message).
    struct PthImports {
        /// The `.pth` file, relative to the root of the tree it is in (the image's, or a thin image's runtime's).
        var file: String
        var lines: [(Int, String)]

        /// The Python literal the bootstrap reads: `('FILE', ((N, 'LINE'), ...))`.
        var literal: String {
            "(\(quote(file)), (\(lines.map { "(\($0.0), \(quote($0.1)))," }.joined(separator: " "))))"
        }
    }

    /// The text of `bootstrap.py`: `Scripts/bootstrap.py` with its block of generated values filled in.
    static func script(
        entries: [PythonBuildOptions.EntryPoint], defaultEntry: String, pthImports: [PthImports],
        searchPath: [String], runtimePath: [String] = [], runtimePthImports: [PthImports] = []
    ) -> String {
        let table = entries.map { entry -> String in
            switch entry {
            case .function(let name, let target): return "    \(quote(name)): ('function', \(quote(target))),"
            case .module(let name, let module): return "    \(quote(name)): ('module', \(quote(module))),"
            }
        }
        let values = [
            "_ENTRIES = {", table.joined(separator: "\n"), "}",
            "_DEFAULT = \(quote(defaultEntry))",
            "_PTH_IMPORTS = \(tuple(pthImports.map(\.literal)))",
            "_SEARCH_PATH = \(tuple(searchPath.map(quote)))",
            "_RUNTIME_PATH = \(tuple(runtimePath.map(quote)))",
            "_RUNTIME_PTH_IMPORTS = \(tuple(runtimePthImports.map(\.literal)))",
        ].filter { !$0.isEmpty }
        return replacingGeneratedValues(in: EmbeddedPython.bootstrap, with: values)
    }

    /// A Python tuple of `items` (already literals): `()`, `(a,)`, `(a, b,)`.
    static func tuple(_ items: [String]) -> String {
        "(\(items.map { "\($0)," }.joined(separator: " ")))"
    }

    /// `text` with the lines between `# xarbuild: begin generated values` and `# xarbuild: end generated values`
    /// replaced by `values`.
    static func replacingGeneratedValues(in text: String, with values: [String]) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("# xarbuild: begin generated values") }),
            let end = lines.firstIndex(where: { $0.hasPrefix("# xarbuild: end generated values") }), begin < end
        else { fatalError("Scripts/bootstrap.py lost its block of generated values") }
        lines.replaceSubrange((begin + 1)..<end, with: values)
        return lines.joined(separator: "\n")
    }

    /// The text of `xar_runtime.py`, importable by the application.
    static let runtimeModule = EmbeddedPython.xarRuntime

    /// A Python string literal for `text` (entry names and targets are validated to be plain ASCII; this
    /// escapes the rest defensively).
    static func quote(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20 || scalar.value > 0x7e:
                out += String(format: "\\U%08x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }
}
