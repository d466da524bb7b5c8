import XarSquashFS
import struct SystemPackage.Errno
import XarSystem

/// Reads a path's extended attributes (symlinks not followed) for the image.
///
/// Only the namespaces SquashFS can encode are kept (`user.`, `trusted.`, `security.`); the names of the others
/// (`system.` ACLs, for instance) are returned apart so the caller can say once what it dropped.
enum XattrReader {
    /// The storable attributes of `path`, sorted by name bytes, and the names it had to leave out.
    static func read(_ path: String) throws -> (kept: [SquashFS.ExtendedAttribute], skipped: [String]) {
        var kept: [SquashFS.ExtendedAttribute] = []
        var skipped: [String] = []
        do {
            for name in try FileSystem.extendedAttributeNames(path) {
                guard SquashFS.ExtendedAttribute.split(name) != nil else {
                    skipped.append(String(decoding: name, as: UTF8.self))
                    continue
                }
                // nil: removed meanwhile.
                guard let value = try FileSystem.extendedAttribute(name, of: path) else { continue }
                kept.append(SquashFS.ExtendedAttribute(name: name, value: value))
            }
        } catch {
            if error.errno == .noSuchFileOrDirectory { throw XarBuildError.vanished(path: path) }
            throw XarBuildError.unreadable(path: path, reason: "extended attributes: " + error.reason)
        }
        kept.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return (kept, skipped)
    }
}
