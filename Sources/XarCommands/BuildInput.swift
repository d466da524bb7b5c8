import Foundation
import XarSystem

/// The checks `xarbuild` makes on its input before starting a build, each failing with one line that names the
/// path: the directory exists and is one, the `--exec` target is an executable file inside it, and
/// `SOURCE_DATE_EPOCH` is a number.
enum BuildInput {
    /// Checks `directory` and, when given, the target `executable` (relative to it).
    static func check(directory: String, executable: String?) throws {
        let info: FileStatus
        do { info = try FileSystem.fileStatus(directory) } catch {
            throw CommandFailure(path: directory, "cannot read the directory: \(error.reason).")
        }
        guard info.kind == .directory else { throw CommandFailure(path: directory, "is not a directory.") }
        guard let executable else { return }
        let target = directory.hasSuffix("/") ? directory + executable : directory + "/" + executable
        guard !executable.isEmpty, !executable.hasPrefix("/"), !executable.split(separator: "/").contains("..")
        else {
            throw CommandFailure(path: target, "--exec must name a file inside the directory, by a relative path.")
        }
        guard let targetInfo = try? FileSystem.fileStatus(target, followSymlinks: false) else {
            throw CommandFailure(path: target, "the --exec target does not exist in the directory.")
        }
        if targetInfo.kind == .symbolicLink { return }
        guard targetInfo.kind == .regular else {
            throw CommandFailure(path: target, "the --exec target is not a regular file.")
        }
        guard targetInfo.permissions & 0o111 != 0 else {
            throw CommandFailure(path: target, "the --exec target is not executable (chmod +x it).")
        }
    }

    /// `SOURCE_DATE_EPOCH` as seconds, or nil when it is unset or empty.
    static func sourceDateEpoch() throws -> Int? {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw CommandFailure("SOURCE_DATE_EPOCH: '\(text)' is not a number of seconds since the epoch.")
        }
        return value
    }
}
