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

    /// The inode number of `path` (not following a last symbolic link), or 0 when there is none.
    func inode(_ path: String) -> ino_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_ino : 0
    }
}
