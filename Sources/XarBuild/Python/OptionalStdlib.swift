import Foundation
import XarSystem

/// Standard-library modules an image carries only when the application's code (its source directory and every
/// installed wheel) mentions them: the terminal line editor and screen library, which pull in readline,
/// ncurses and tinfo, the deprecated `distutils` (removed in 3.12; setuptools carries its own), and `sqlite3`
/// with libsqlite3. Together ~1.4 MB of a compressed image that a command-line tool run on servers rarely uses. `--keep-stdlib NAME`
/// keeps one regardless.
///
/// "Mentions" is textual and generous: an `import` or `from` line naming the module, or the name in quotes
/// (`importlib.import_module("curses")`), in any `.py` file. A false positive only keeps a module.
struct OptionalStdlib {
    /// One module family: what mentioning `name` keeps.
    struct Group: Sendable {
        /// The name that keeps the group: `--keep-stdlib` takes it, and code that mentions it keeps it.
        var name: String
        /// Other module names whose mention also keeps it (`_curses` for `curses`).
        var aliases: [String]
        /// Standard-library entries (relative to the stdlib directory).
        var stdlibPaths: [String]
        /// lib-dynload module names (the part of the file name before the first dot).
        var extensions: [String]
    }

    static let groups: [Group] = [
        Group(
            name: "curses", aliases: ["_curses", "_curses_panel"], stdlibPaths: ["curses"],
            extensions: ["_curses", "_curses_panel"]),
        Group(name: "readline", aliases: [], stdlibPaths: [], extensions: ["readline"]),
        Group(name: "distutils", aliases: [], stdlibPaths: ["distutils"], extensions: []),
        // No other standard-library module imports sqlite3 (before 3.13's dbm.sqlite3), so only the
        // application's own mention can need it; it carries libsqlite3 (~0.6 MB compressed).
        Group(name: "sqlite3", aliases: ["_sqlite3"], stdlibPaths: ["sqlite3"], extensions: ["_sqlite3"]),
    ]

    /// The groups to drop: those neither kept by name nor mentioned by a `.py` file under `codeDirectories`.
    static func unused(keeping keep: Set<String>, codeDirectories: [String]) -> [Group] {
        var remaining = groups.filter { !keep.contains($0.name) }
        for directory in codeDirectories where !remaining.isEmpty {
            guard let entries = try? FileSystem.walk(directory) else { continue }
            for relative in entries.map(\.path) where !remaining.isEmpty {
                guard relative.hasSuffix(".py"), let data = try? FileSystem.contents("\(directory)/\(relative)")
                else { continue }
                let text = String(decoding: data, as: UTF8.self)
                remaining.removeAll { group in ([group.name] + group.aliases).contains { mentions(text, $0) } }
            }
        }
        return remaining
    }

    /// True when `text` has an import line naming `module` (as a whole word) or `module` in quotes.
    static func mentions(_ text: String, _ module: String) -> Bool {
        guard text.contains(module) else { return false }
        if text.contains("\"\(module)\"") || text.contains("'\(module)'") { return true }
        for line in text.split(whereSeparator: \.isNewline) where line.contains(module) {
            let code = line.drop { $0 == " " || $0 == "\t" }
            guard code.hasPrefix("import ") || code.hasPrefix("from ") else { continue }
            // A whole word: not part of a longer name (`readline_x`, `my_curses`) nor a submodule's parent only.
            var rest = Substring(code)
            while let range = rest.range(of: module) {
                let before = rest[..<range.lowerBound].last
                let after = rest[range.upperBound...].first
                let isWordChar: (Character?) -> Bool = { $0.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false }
                if !isWordChar(before) && !isWordChar(after) && before != "." { return true }
                rest = rest[range.upperBound...]
            }
        }
        return false
    }

    /// Removes `groups` from a staged standard library.
    static func remove(_ groups: [Group], stdlib: String, libDynload: String) throws {
        for group in groups {
            for path in group.stdlibPaths where FileSystem.exists("\(stdlib)/\(path)") {
                try FileSystem.removeTree("\(stdlib)/\(path)")
            }
            let modules = Set(group.extensions)
            for file in (try? FileSystem.directoryEntries(libDynload)) ?? []
            where modules.contains(String(file.prefix { $0 != "." })) {
                try FileSystem.removeTree("\(libDynload)/\(file)")
            }
        }
    }
}
