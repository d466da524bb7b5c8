import XarFormat

/// `/.xar/startup-files`: the files a start of the default entry point reads, in the order it needs them, so that
/// an image's very first cold start on a host already reads ahead (see docs/lifecycle.md, "Cold starts").
///
/// The server records what each start needed and the next start of the image follows that record (its start-up
/// plan). The first start on a host has no record: the server then makes a plan from this list, which `xarbuild`
/// writes by asking the bundled interpreter, in the staged tree, what importing the default entry point's module
/// loads, the way `bootstrap.py` does it at run time (the import index, the `.pth` lines, no call of the entry
/// function): the files in the order that start first needs them, from the interpreter and the libraries mapped
/// at its exec to every module's bytecode, extension file and shared library, and package data. The list is
/// deterministic (the same inputs give the same imports, with a fixed hash seed): it is part of a byte-identical
/// image.
///
/// Importing the entry module runs its top-level code at build time, which an application whose import has side
/// effects may not want: `--no-startup-list` leaves the list out (the first start then reads as it goes).
enum PythonStartupList {
    static let path = XarImageLayout.startupList

    /// Writes the list for the staged tree at `root`, running its interpreter; the default entry point is the
    /// one `bootstrap.py` runs without a name. A failing import is not an error (the list is only a hint): the
    /// files read until then are listed, and the exception is returned, for a note. `interpreter` is the command
    /// that starts the staged interpreter as the launch does (through the carried loader in the portable layout).
    static func write(root: String, interpreter: [String]) throws -> String? {
        let output = try ToolRunner.run(
            interpreter + ["-s", "-S", "-c", generator, root, "\(root)/\(path)"],
            environment: ["PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"], directory: root)
        guard output.status == 0 else {
            throw PythonBuildError("Cannot list the files the application starts with: \(output.stderrTail)")
        }
        let marker = "import stopped: "
        return output.stderr.split(whereSeparator: \.isNewline).last { $0.hasPrefix(marker) }.map {
            String($0.dropFirst(marker.count))
        }
    }

    /// Run by the staged interpreter: argv = root, output.
    static let generator = EmbeddedPython.startupList
}
