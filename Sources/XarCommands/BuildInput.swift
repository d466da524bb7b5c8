import CXattr
import Foundation

/// The checks `xarbuild` makes on its input before starting a build, each failing with one line that names the
/// path: the directory exists and is one, the `--exec` target is an executable file inside it, and
/// `SOURCE_DATE_EPOCH` is a number.
enum BuildInput {
    /// Checks `directory` and, when given, the target `executable` (relative to it).
    static func check(directory: String, executable: String?) throws {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw CommandFailure(path: directory, "cannot read the directory: \(String(cString: strerror(errno))).")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw CommandFailure(path: directory, "is not a directory.") }
        guard let executable else { return }
        let target = directory.hasSuffix("/") ? directory + executable : directory + "/" + executable
        guard !executable.isEmpty, !executable.hasPrefix("/"), !executable.split(separator: "/").contains("..")
        else {
            throw CommandFailure(path: target, "--exec must name a file inside the directory, by a relative path.")
        }
        guard lstat(target, &info) == 0 else {
            throw CommandFailure(path: target, "the --exec target does not exist in the directory.")
        }
        if info.st_mode & S_IFMT == S_IFLNK { return }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CommandFailure(path: target, "the --exec target is not a regular file.")
        }
        guard info.st_mode & 0o111 != 0 else {
            throw CommandFailure(path: target, "the --exec target is not executable (chmod +x it).")
        }
    }

    /// True when `directory` or anything under it carries an extended attribute; symlinks are not followed.
    /// Stops at the first one found.
    static func hasXattrs(under directory: String) -> Bool {
        var pending = [directory]
        while let path = pending.popLast() {
            if llistxattr(path, nil, 0) > 0 { return true }
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
                let names = try? FileManager.default.contentsOfDirectory(atPath: path)
            else { continue }
            pending += names.map { path + "/" + $0 }
        }
        return false
    }

    /// `SOURCE_DATE_EPOCH` as seconds, or nil when it is unset or empty.
    static func sourceDateEpoch() throws -> Int? {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw CommandFailure("SOURCE_DATE_EPOCH: '\(text)' is not a number of seconds since the epoch.")
        }
        return value
    }

    /// The reason in a Foundation error, without Foundation's boilerplate.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}
