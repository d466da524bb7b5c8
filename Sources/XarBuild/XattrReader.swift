import CXattr
import Glibc
import XarSquashFS

/// Reads a path's extended attributes (`llistxattr`/`lgetxattr`, symlinks not followed) for the image.
///
/// Only the namespaces SquashFS can encode are kept (`user.`, `trusted.`, `security.`); the names of the others
/// (`system.` ACLs, for instance) are returned apart so the caller can say once what it dropped.
enum XattrReader {
    /// The storable attributes of `path`, sorted by name bytes, and the names it had to leave out.
    static func read(_ path: String) throws -> (kept: [SquashFS.ExtendedAttribute], skipped: [String]) {
        var kept: [SquashFS.ExtendedAttribute] = []
        var skipped: [String] = []
        for name in try names(path) {
            guard SquashFS.ExtendedAttribute.split(name) != nil else {
                skipped.append(String(decoding: name, as: UTF8.self))
                continue
            }
            guard let value = try value(path, name) else { continue }  // removed meanwhile
            kept.append(SquashFS.ExtendedAttribute(name: name, value: value))
        }
        kept.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return (kept, skipped)
    }

    /// The attribute names of `path`, each without its terminating NUL.
    private static func names(_ path: String) throws -> [[UInt8]] {
        while true {
            let size = llistxattr(path, nil, 0)
            if size < 0 && errno == ENOTSUP { return [] }  // a file system without xattrs
            if size < 0 { throw failure(path) }
            if size == 0 { return [] }
            var buffer = [CChar](repeating: 0, count: size)
            let n = llistxattr(path, &buffer, size)
            if n < 0 && errno == ERANGE { continue }  // grew between the two calls
            if n < 0 { throw failure(path) }
            return buffer[0..<n].split(separator: 0).map { $0.map { UInt8(bitPattern: $0) } }
        }
    }

    /// The value of the attribute `name`, or nil when it no longer exists.
    private static func value(_ path: String, _ name: [UInt8]) throws -> [UInt8]? {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        while true {
            let size = lgetxattr(path, cName, nil, 0)
            if size < 0 && errno == ENODATA { return nil }
            if size < 0 { throw failure(path) }
            var buffer = [UInt8](repeating: 0, count: max(size, 1))
            let n = lgetxattr(path, cName, &buffer, size)
            if n < 0 && errno == ERANGE { continue }
            if n < 0 && errno == ENODATA { return nil }
            if n < 0 { throw failure(path) }
            return Array(buffer[0..<n])
        }
    }

    private static func failure(_ path: String) -> XarBuildError {
        let code = errno
        if code == ENOENT { return XarBuildError.vanished(path: path) }
        return XarBuildError.unreadable(
            path: path, reason: "extended attributes: " + String(cString: strerror(code)))
    }
}
