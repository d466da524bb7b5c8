import Foundation
import XarSystem

/// What the build proves by running the staged interpreter before it writes the image: every ELF file the
/// build changed still loads, and every entry point imports. A failure is an error naming the file or the entry
/// point with the interpreter's own message (`--no-check` turns them into notes).
enum BuildChecks {
    /// One thing that cannot work, as a sentence.
    typealias Problem = String

    /// Loads every shared object in `files` (relative to `root`) with the staged interpreter's loader
    /// (`ctypes.CDLL`, which binds every symbol at once, as an import does); executables are checked with `ldd`.
    /// The staged interpreter itself is proven by running it. `interpreter` is the command that starts it as the
    /// launch does (through the carried loader in the portable layout).
    static func loadLibraries(root: String, interpreter: [String], files: [String]) throws -> [Problem] {
        var shared: [String] = [], executables: [String] = []
        for file in files where file != PythonLayout.interpreterPath && file != PythonLayout.executablePath {
            switch ELFKind(path: "\(root)/\(file)") {
            case .sharedObject: shared.append(file)
            case .executable: executables.append(file)
            case nil: continue
            }
        }
        var problems: [Problem] = []
        if !shared.isEmpty {
            let output = try ToolRunner.run(
                interpreter + ["-s", "-S", "-c", loader, root] + shared,
                environment: ["PYTHONDONTWRITEBYTECODE": "1"], directory: root)
            let lines = output.stdout.split(whereSeparator: \.isNewline).map(String.init)
            for line in lines {
                guard let data = line.data(using: .utf8),
                    let fields = try? JSONSerialization.jsonObject(with: data) as? [String],
                    fields.count == 2
                else { continue }
                problems.append("\(fields[0]) does not load: \(fields[1])")
            }
            if output.status != 0 {
                let last = lines.last { $0.hasPrefix("loading ") }.map { String($0.dropFirst(8)) } ?? "?"
                problems.append(
                    "\(last): loading it stopped the interpreter (status \(output.status)): \(output.stderrTail)")
            }
        }
        for file in executables {
            let output = try ToolRunner.run(["ldd", "\(root)/\(file)"])
            let missing = output.stdout.split(whereSeparator: \.isNewline).filter { $0.contains("not found") }
            if output.status != 0 || !missing.isEmpty {
                let detail = missing.isEmpty ? output.stderrTail : missing.map { $0.trimmed }.joined(separator: ", ")
                problems.append("\(file) does not load: \(detail)")
            }
        }
        return problems
    }

    /// Imports every entry point's module and looks up its function (or finds its module, for `--module`) the way
    /// `bootstrap.py` would, without calling anything.
    static func importEntryPoints(root: String, interpreter: [String]) throws -> [Problem] {
        let output = try ToolRunner.run(
            interpreter + ["-s", "-S", "-c", importer, root],
            environment: ["PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"], directory: root)
        var problems: [Problem] = []
        for line in output.stdout.split(whereSeparator: \.isNewline) {
            guard let data = String(line).data(using: .utf8),
                let fields = try? JSONSerialization.jsonObject(with: data) as? [String], fields.count == 3
            else { continue }
            let message = fields[2].split(whereSeparator: \.isNewline).joined(separator: "\n    ")
            problems.append(
                fields[0].isEmpty
                    ? "A .pth import line failed (\(fields[1])): \(message)"
                    : "The entry point \(fields[0]) (\(fields[1])) cannot work: \(message)")
        }
        if output.status != 0 {
            problems.append("Importing the entry points stopped the interpreter: \(output.stderrTail)")
        }
        return problems
    }

    /// Run by the staged interpreter: argv = root, files…; prints `loading FILE`, then a JSON `[file, error]`
    /// for each file that does not load.
    static let loader = EmbeddedPython.loadCheck

    /// Run by the staged interpreter: argv = root; prints a JSON `[name, target, error]` for each entry point
    /// that does not import (name empty for a `.pth` import line).
    static let importer = EmbeddedPython.entryPointCheck
}

extension Substring {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespaces) }
}

/// What an ELF file is to the loader: a shared object that `dlopen` can load, or an executable (one with a
/// program interpreter, which `dlopen` refuses).
enum ELFKind {
    case sharedObject
    case executable

    /// Reads the ELF header and program headers of the file at `path` (64-bit little-endian only); nil when it is
    /// not such a file.
    init?(path: String) {
        guard let file = try? ReadOnlyFile(opening: path), let header = try? file.bytes(at: 0, count: 64),
            header.count == 64, header.prefix(4) == [0x7f, 0x45, 0x4c, 0x46], header[4] == 2, header[5] == 1
        else { return nil }
        func integer(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
            (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        let type = integer(header, 16, 2)  // e_type: ET_EXEC 2, ET_DYN 3
        let programHeaders = integer(header, 32, 8)  // e_phoff
        let entrySize = Int(integer(header, 54, 2))  // e_phentsize
        let count = Int(integer(header, 56, 2))  // e_phnum
        guard type == 3 else {
            self = .executable
            return
        }
        guard entrySize >= 4, count > 0, let table = try? file.bytes(at: programHeaders, count: entrySize * count),
            table.count == entrySize * count
        else {
            self = .sharedObject
            return
        }
        let hasInterpreter = (0..<count).contains { integer(table, $0 * entrySize, 4) == 3 }  // PT_INTERP
        self = hasInterpreter ? .executable : .sharedObject
    }
}
