import Foundation

/// The import index: every module of the image, found at build time, so that a run imports without searching.
///
/// CPython's path-based import looks for each module in each `sys.path` directory with `FileFinder`: a `stat`
/// of the directory, one per candidate file name, another of the source before the bytecode is read through a
/// file object (`open`, `fstat`, `ioctl`, `read`, `read`, `close`), and a good deal of Python code around them.
/// For an application like black that is several thousand system calls and most of the gap to a native venv.
/// The image never changes, so `xarbuild` asks the bundled interpreter's own `FileFinder` once, at build time,
/// what every name in every importable directory resolves to, and writes the answers to
/// `/.xar/import-index.marshal`. At run time `/.xar/_xar_importer.py` (installed by the bootstrap) answers
/// from that index as a path entry hook for the image's directories: same specs, same loaders (a subclass of
/// `SourceFileLoader` that reads the bytecode in one `open` and one `read`), same order of `sys.path`, and
/// directories outside the image untouched. `XAR_IMPORT_INDEX=0` in the environment turns it off.
///
/// The index is `{directory relative to the image root: {name: (kind, file, bytecode size, is package)}}`,
/// marshalled in format version 2 (no back references, so the bytes depend only on the tree).
enum PythonImportIndex {
    /// Where the index lives, relative to the image root.
    static let path = ".xar/import-index.marshal"

    /// Writes the index for the directories of `searchPath` (relative to `root`), running `interpreter`.
    static func write(root: String, interpreter: String, searchPath: [String]) throws {
        let output = try ToolRunner.run(
            [interpreter, "-I", "-S", "-c", generator, root, "\(root)/\(path)"] + searchPath, environment: [:],
            directory: root)
        guard output.status == 0 else {
            throw PythonBuildError("Cannot index the image's modules with \(interpreter): \(output.stderrTail)")
        }
    }

    /// Run by the interpreter being bundled: argv = root, output, search path directories (relative to root).
    static let generator = EmbeddedPython.importIndex

    /// The text of `/.xar/_xar_importer.py`.
    static let importerModule = EmbeddedPython.xarImporter
}
