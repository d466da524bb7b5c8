import Foundation
import XarSystem

extension PythonStager {
    /// Every dependency a wheel declares (for the bundled interpreter, without extras) must be installed too:
    /// the builder resolves nothing, so an incomplete lock is an error, not a surprise at run time.
    /// `providedElsewhere`: the normalized names a thin image's runtime provides.
    func checkRequirements(
        _ installed: [WheelInstaller.Installed], interpreter: PythonInterpreter, providedElsewhere: Set<String> = []
    ) throws {
        let names = Set(installed.map(\.normalizedName)).union(providedElsewhere)
        var environment = interpreter.markers
        environment["extra"] = ""
        var problems: [String] = []
        for dist in installed {
            for (name, marker) in dist.requires where !names.contains(name) {
                if let marker, !(try EnvironmentMarker.evaluate(marker, environment: environment)) { continue }
                problems.append(
                    "\(dist.name) \(dist.version) requires \(name), which is not in the lock; add it and lock its hash."
                )
            }
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems.sorted()) }
    }

    /// Entry names become file names (symlinks) and targets become Python source: keep both plain.
    static func validate(_ entry: PythonBuildOptions.EntryPoint) throws {
        let name = entry.name
        let nameOK =
            !name.isEmpty && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "._-+".unicodeScalars.contains($0)
            }
        guard nameOK else {
            throw PythonBuildError("The entry point name `\(name)` must be letters, digits, `.`, `_`, `-` or `+`.")
        }
        let identifier: (Substring) -> Bool = { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" }
        }
        switch entry {
        case .function(_, let target):
            let pieces = target.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2,
                pieces[0].split(separator: ".", omittingEmptySubsequences: false).allSatisfy(identifier),
                pieces[1].split(separator: ".", omittingEmptySubsequences: false).allSatisfy(identifier)
            else { throw PythonBuildError("The entry point `\(name)=\(target)` is not of the form module:function.") }
        case .module(_, let module):
            guard module.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(identifier) else {
                throw PythonBuildError("The module `\(module)` of entry point \(name) is not a dotted module name.")
            }
        }
    }

    /// Reads the `.pth` files of the site-packages at `root/sitePackages` as `site.addsitedir` would, in sorted
    /// order: path lines (relative to site-packages) that exist in the tree are returned as paths relative to the
    /// root; `import` lines are returned, with their file and line number, for the bootstrap to run. Read once, at
    /// build time: a start lists no directory and opens no `.pth` file.
    static func resolvePthFiles(root: String, sitePackages: String) throws -> ([String], [PythonBootstrap.PthImports]) {
        let directory = "\(root)/\(sitePackages)"
        var paths: [String] = [], imports: [PythonBootstrap.PthImports] = []
        let names = (try? FileSystem.directoryEntries(directory)) ?? []
        // site sorts the names as str (code points); Swift's < on String is not code point order.
        for name in names.filter({ $0.hasSuffix(".pth") }).sorted(by: {
            Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value))
        }) {
            let text = FileSystem.utf8Text("\(directory)/\(name)") ?? ""
            var lines: [(Int, String)] = []
            // site reads the file line by line: "\n", "\r\n" and "\r" end a line (universal newlines).
            for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let line = String(raw)
                if line.hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                if line.hasPrefix("import ") || line.hasPrefix("import\t") {
                    lines.append((index + 1, line))
                    continue
                }
                let trimmed = String(line.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
                let relative = PythonLayout.normalized("\(sitePackages)/\(trimmed)")
                if !trimmed.hasPrefix("/"), !relative.hasPrefix(".."), !paths.contains(relative),
                    FileSystem.exists("\(root)/\(relative)")
                {
                    paths.append(relative)
                }
            }
            if !lines.isEmpty {
                imports.append(PythonBootstrap.PthImports(file: "\(sitePackages)/\(name)", lines: lines))
            }
        }
        return (paths, imports)
    }

    /// Writes `text` to `path` with mode 0644.
    func write(_ text: String, to path: String) throws {
        do { try FileSystem.write(text, to: path, permissions: 0o644) } catch {
            throw PythonBuildError("Cannot write \(path): \(error.reason).")
        }
    }

    /// Compiles every `.py` with the staged interpreter itself (which also proves it starts from the staged tree
    /// with its bundled libraries) in unchecked-hash mode, so the read-only mount is never written to and the
    /// bytecode does not depend on time stamps. File names in the bytecode are the image paths (`/python/…`).
    func compile(root: String, directories: [String], python: String) throws {
        let output = try ToolRunner.run(
            [
                python, "-I", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash",
                "-s", root, "-p", "/",
            ] + directories.map { "\(root)/\($0)" },
            environment: [:], directory: root)
        if output.status != 0 {
            // compileall reports files it cannot compile (a Python 2 template in a wheel, say) and goes on; the
            // interpreter not starting at all is fatal.
            let check = try ToolRunner.run(
                [python, "-I", "-c", "import encodings, json"], environment: [:])
            guard check.status == 0 else {
                throw PythonBuildError("The staged interpreter does not start: \(check.stderrTail)")
            }
            let lines = (output.stdout + output.stderr).split(whereSeparator: \.isNewline)
            for line in lines.prefix(5) { progress("warning: bytecode: \(line)") }
        }
        for directory in directories { try Self.removeShadowedBytecode(under: "\(root)/\(directory)") }
    }

    /// Removes bytecode that no import can reach: where an extension module sits beside a module's source
    /// (`m.cpython-311-x86_64-linux-gnu.so`, `m.abi3.so` or `m.so` next to `m.py`), the path finder loads the
    /// extension, since it tries extension suffixes before source and bytecode, so `__pycache__/m.*.pyc` is
    /// dead weight. Wheels compiled with mypyc (black, mypy) ship every module both ways: 0.8 MB of black's image
    /// before compression. The sources stay, as the wheel's RECORD lists them.
    static func removeShadowedBytecode(under directory: String) throws {
        guard let entries = try? FileSystem.walk(directory) else { return }
        var extensions: [String: Set<Substring>] = [:]  // directory (relative) → extension module names
        var bytecode: [String] = []
        for relative in entries.map(\.path) {
            let name = (relative as NSString).lastPathComponent
            let parent = (relative as NSString).deletingLastPathComponent
            if name.hasSuffix(".pyc"), (parent as NSString).lastPathComponent == "__pycache__" {
                bytecode.append(relative)
            } else if name.hasSuffix(".so"), let dot = name.firstIndex(of: ".") {
                let tag = name[name.index(after: dot)...].dropLast(3)  // "so" → "", "abi3.so" → "abi3"
                if tag.isEmpty || tag == "abi3" || tag.hasPrefix("cpython-") {
                    extensions[parent, default: []].insert(name[..<dot])
                }
            }
        }
        for relative in bytecode {
            let cache = (relative as NSString).deletingLastPathComponent
            let module = (relative as NSString).lastPathComponent.prefix { $0 != "." }
            if extensions[(cache as NSString).deletingLastPathComponent]?.contains(module) == true {
                try FileSystem.removeFile("\(directory)/\(relative)")
            }
        }
    }

    /// Puts the bootstrap's bytecode next to its source as `/.xar/bootstrap.pyc`, which the launch runs: CPython
    /// compiles a script given as source on every start, never caching it. Its file name in tracebacks is the
    /// image path `/.xar/bootstrap.py`, as for every module compiled here.
    func placeBootstrapBytecode(root: String) throws {
        let cache = "\(root)/.xar/__pycache__"
        let names = (try? FileSystem.directoryEntries(cache)) ?? []
        guard let name = names.sorted().first(where: { $0.hasPrefix("bootstrap.") && $0.hasSuffix(".pyc") }) else {
            throw PythonBuildError("The staged interpreter did not compile \(root)/.xar/bootstrap.py")
        }
        try FileSystem.copyFile("\(cache)/\(name)", to: "\(root)/.xar/bootstrap.pyc")
    }

    /// The git revision of the source (or project) directory's checkout (`+dirty` with uncommitted changes), or nil.
    func gitRevision() -> String? {
        guard let source = options.source ?? options.project, let git = try? ToolRunner.which("git"),
            let head = try? ToolRunner.run([git, "-C", source, "rev-parse", "HEAD"]), head.status == 0
        else { return nil }
        let dirty = (try? ToolRunner.run([git, "-C", source, "status", "--porcelain"]))?.stdout.isEmpty == false
        return head.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + (dirty ? "+dirty" : "")
    }

    /// Gives every file, directory and symlink under `root` the same time stamp, so the image does not depend
    /// on when it was staged.
    static func normalizeTimes(root: String, epoch: Int) throws {
        let output = try ToolRunner.run(["find", root, "-exec", "touch", "-h", "-d", "@\(epoch)", "{}", "+"])
        guard output.status == 0 else {
            throw PythonBuildError("Cannot set time stamps under \(root): \(output.stderr)")
        }
    }
}
