import Foundation
import XarSystem

/// Copies a directory tree into the staging area the way the image wants it: regular files only (symlinks
/// replaced by what they point to, so no host path survives), modes normalized to 0644/0755, bytecode caches
/// left behind (everything is recompiled in unchecked-hash mode), and selected names skipped.
struct TreeCopier {
    /// Names of directories skipped wherever they occur.
    var skipDirectories: Set<String> = ["__pycache__", ".git", ".hg", ".svn"]
    /// Paths relative to the source root that are skipped (directories or files).
    var skipPaths: Set<String> = []
    /// File name suffixes skipped.
    var skipSuffixes: [String] = [".pyc", ".pyo"]
    /// Extra predicate: return true to skip a relative path.
    var skip: (String) -> Bool = { _ in false }

    /// Copies `source` to `destination`; returns the number of files copied.
    @discardableResult
    func copy(from source: String, to destination: String) throws -> Int {
        try FileSystem.createDirectories(destination)
        var copied = 0
        for name in try FileSystem.directoryEntries(source).sorted() {
            copied += try copyEntry(source: source, destination: destination, relative: name)
        }
        return copied
    }

    private func copyEntry(source: String, destination: String, relative: String) throws -> Int {
        let name = (relative as NSString).lastPathComponent
        if skipPaths.contains(relative) || skip(relative) { return 0 }
        let from = "\(source)/\(relative)", to = "\(destination)/\(relative)"
        // stat follows symlinks: a dangling link is skipped, a link to a file or directory is copied.
        guard let status = try? FileSystem.fileStatus(from) else { return 0 }
        if status.kind == .directory {
            if skipDirectories.contains(name) { return 0 }
            try FileSystem.createDirectories(to)
            var copied = 0
            for child in try FileSystem.directoryEntries(from).sorted() {
                copied += try copyEntry(source: source, destination: destination, relative: "\(relative)/\(child)")
            }
            return copied
        }
        if skipSuffixes.contains(where: { name.hasSuffix($0) }) { return 0 }
        guard let data = try? FileSystem.contents(from) else { throw PythonBuildError("Cannot read \(from).") }
        // The mode of the entry itself (a symbolic link's is 0777), as before.
        let mode = (try? FileSystem.fileStatus(from, followSymlinks: false).permissions) ?? 0o644
        do { try FileSystem.write(data, to: to, permissions: mode & 0o111 != 0 ? 0o755 : 0o644) } catch {
            throw PythonBuildError("Cannot write \(to): \(error.reason).")
        }
        return 1
    }
}
