import Foundation
import Glibc
import Testing
import XarTestSupport

/// The files of the build-rule tests' projects (CMake, Bazel): written with their directories, and told apart by
/// inode, since a rebuilt image is a new file renamed into place.
protocol BuildRuleProject {}

extension BuildRuleProject {
    /// Writes `text` to `path`, creating its directories; mode 0755 when `executable`.
    func write(_ text: String, to path: String, executable: Bool = false) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try TestFiles.write(text, to: path, mode: executable ? 0o755 : 0o644)
    }

    /// The runtime part of a build-rule project: MarkupSafe (a compiled wheel from PyPI) and six copied into
    /// `wheels`, `runtimeLock` pinning MarkupSafe only (six is in the wheelhouse, not in the runtime), and a thin
    /// application in `thin` that prints whether MarkupSafe's C speedups loaded and whether six is there. Returns
    /// both pins with their hashes, one line each, for a test that changes the runtime's lock.
    func writeRuntimeProject(wheels: String, runtimeLock: String, thin: String) throws -> [String] {
        let pins = ["markupsafe==2.1.5", "six==1.17.0"]
        try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
        var hashed: [String] = []
        for (pin, path) in zip(pins, try PyPIWheels.fetch(pins)) {
            try TestFiles.copy(path, to: "\(wheels)/\((path as NSString).lastPathComponent)")
            hashed.append("\(pin) --hash=sha256:\(try PyPIWheels.sha256(path))\n")
        }
        try write(hashed[0], to: runtimeLock)
        try write(
            """
            import markupsafe

            def main():
                try:
                    import six
                    extra = 'six ' + six.__version__
                except ImportError:
                    extra = 'no six'
                print(markupsafe.escape('<b>'), markupsafe.escape.__module__, extra)

            """, to: "\(thin)/markup_app/__init__.py")
        return hashed
    }

    /// The inode number of `path` (not following a last symbolic link), or 0 when there is none.
    func inode(_ path: String) -> ino_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_ino : 0
    }
}
