import Foundation
import XarSystem
import struct SystemPackage.Errno

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
        let joined = FileSystem.absolute(path)
        return "/" + joined.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    /// Adds `path` (a file).
    mutating func add(file path: String) { inputs.append(Self.absolute(path)) }

    /// Adds `directory` and every directory, file and symbolic link under it (links are not followed).
    mutating func add(tree directory: String) {
        let root = Self.absolute(directory)
        inputs.append(root)
        guard let entries = try? FileSystem.walk(root) else { return }
        inputs += entries.map { root + "/" + $0.path }
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
            throw CommandFailure(path: path, "cannot be written: \(Errno(rawValue: error.code).description)")
        }
    }
}

extension Depfile {
    /// The `.xar` a build is about to replace, kept (as a hard link beside it) until the depfile is written: the
    /// build renames its output into place before the rule can be written (the rule lists what the build read),
    /// and a failed rule must not leave the new `.xar` behind a stale one, or a build system would never rerun.
    struct PreviousOutput: ~Copyable {
        let output: String
        /// The hard link to the previous output, nil when there was none (or it could not be linked).
        let saved: String?

        /// Links the current `output` (if any) to a hidden name in its directory.
        init(of output: String) {
            self.output = output
            let url = URL(fileURLWithPath: output)
            let directory = url.deletingLastPathComponent().path
            let link = directory + "/.\(url.lastPathComponent).xarbuild-previous-\(Processes.currentID)"
            try? FileSystem.removeFile(link)
            saved = (try? FileSystem.createHardLink(link, to: output)) != nil ? link : nil
        }

        /// The depfile could not be written: puts the previous output back, or removes the new one.
        consuming func restore() {
            if let saved {
                try? FileSystem.rename(saved, to: output)
            } else {
                try? FileSystem.removeFile(output)
            }
        }

        deinit {
            if let saved { try? FileSystem.removeFile(saved) }
        }
    }

    /// Writes the rule to `path` once the build replaced `previous.output`; when that fails, the previous `.xar`
    /// is put back (or the new one removed) before the error is thrown.
    func write(to path: String, replacing previous: consuming PreviousOutput) throws {
        do {
            try write(to: path)
        } catch {
            previous.restore()
            throw error
        }
    }
}
