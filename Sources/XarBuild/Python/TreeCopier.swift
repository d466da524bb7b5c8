import Foundation

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
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        var copied = 0
        for name in try fm.contentsOfDirectory(atPath: source).sorted() {
            copied += try copyEntry(source: source, destination: destination, relative: name)
        }
        return copied
    }

    private func copyEntry(source: String, destination: String, relative: String) throws -> Int {
        let fm = FileManager.default
        let name = (relative as NSString).lastPathComponent
        if skipPaths.contains(relative) || skip(relative) { return 0 }
        let from = "\(source)/\(relative)", to = "\(destination)/\(relative)"
        var isDirectory: ObjCBool = false
        // fileExists follows symlinks: a dangling link is skipped, a link to a file or directory is copied.
        guard fm.fileExists(atPath: from, isDirectory: &isDirectory) else { return 0 }
        if isDirectory.boolValue {
            if skipDirectories.contains(name) { return 0 }
            try fm.createDirectory(atPath: to, withIntermediateDirectories: true)
            var copied = 0
            for child in try fm.contentsOfDirectory(atPath: from).sorted() {
                copied += try copyEntry(source: source, destination: destination, relative: "\(relative)/\(child)")
            }
            return copied
        }
        if skipSuffixes.contains(where: { name.hasSuffix($0) }) { return 0 }
        guard let data = fm.contents(atPath: from) else { throw PythonBuildError("Cannot read \(from).") }
        if fm.fileExists(atPath: to) { try fm.removeItem(atPath: to) }
        guard fm.createFile(atPath: to, contents: data) else { throw PythonBuildError("Cannot write \(to).") }
        let mode = (try fm.attributesOfItem(atPath: from)[.posixPermissions] as? Int) ?? 0o644
        try fm.setAttributes([.posixPermissions: mode & 0o111 != 0 ? 0o755 : 0o644], ofItemAtPath: to)
        return 1
    }
}
