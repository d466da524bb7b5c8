import Foundation
import XarSystem

/// `--depfile FILE`: the inputs a build read, as a Makefile rule (`OUTPUT: INPUT...`), which Make, Ninja and
/// CMake's `DEPFILE` read, so that a build system reruns `xarbuild` when any of them changes and only then
/// (docs/building.md, "Build systems").
///
/// Inputs are absolute paths. A directory is listed with everything under it, itself included: adding or removing
/// a file changes the directory's modification time.
struct Depfile {
    var output: String
    var inputs: [String] = []

    /// `path`, absolute (relative to the working directory), with `.` components and doubled slashes gone.
    static func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "/" + joined.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    /// Adds `path` (a file).
    mutating func add(file path: String) { inputs.append(Self.absolute(path)) }

    /// Adds `directory` and every directory, file and symbolic link under it (links are not followed).
    mutating func add(tree directory: String) {
        let root = Self.absolute(directory)
        inputs.append(root)
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        while let relative = walker.nextObject() as? String { inputs.append(root + "/" + relative) }
    }

    /// The rule's text: one line per input after the first, each ending in a backslash.
    var text: String {
        let unique = Array(Set(inputs)).sorted()
        return ([Self.escape(output) + ":"] + unique.map { " " + Self.escape($0) }).joined(separator: " \\\n") + "\n"
    }

    /// `path` as Make reads a target or prerequisite: spaces and `#` after a backslash, `$` doubled.
    static func escape(_ path: String) -> String {
        var escaped = ""
        for character in path {
            switch character {
            case " ", "#": escaped += "\\\(character)"
            case "$": escaped += "$$"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Writes the rule to `path` atomically (temporary file, fsync, rename).
    func write(to path: String) throws {
        do {
            try SmallFile.replace(path, with: Array(text.utf8), sync: true)
        } catch {
            throw CommandFailure(path: path, "cannot be written: \(String(cString: strerror(error.code)))")
        }
    }
}
