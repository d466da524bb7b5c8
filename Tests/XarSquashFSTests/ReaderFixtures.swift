import Glibc
import Testing
import XarCompression
import XarSquashFS
import XarSystem
import XarTestSupport

/// An image source over a file: XarSystem's `pread` loop, as `xarctl` and the launcher read images.
final class FileSource: SquashFS.ImageSource {
    let file: ReadOnlyFile
    var path: String { file.path }

    init(_ path: String) throws {
        file = try ReadOnlyFile(opening: path)
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard try file.read(into: buffer, at: offset) == buffer.count else {
            throw TestFailure("\(path) ends before byte \(offset + UInt64(buffer.count))")
        }
    }
}

/// Builds source trees on disk with every kind of entry the reader must handle, through raw syscalls so names
/// can be any bytes.
struct TreeBuilder {
    let root: String

    func path(_ relative: [UInt8]) -> [UInt8] { Array(root.utf8) + [UInt8(ascii: "/")] + relative }

    func call(_ what: String, _ relative: [UInt8], _ body: (UnsafePointer<CChar>) -> Int32) throws {
        let full = path(relative) + [0]
        let rc = full.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
        guard rc == 0 else { throw TestFailure("\(what) \(printableName(relative)) failed: errno \(errno)") }
    }

    func directory(_ name: String, mode: mode_t = 0o755) throws { try directory(Array(name.utf8), mode: mode) }
    func directory(_ name: [UInt8], mode: mode_t = 0o755) throws {
        try call("mkdir", name) { mkdir($0, mode) }
        try call("chmod", name) { chmod($0, mode) }
    }

    func file(_ name: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        try file(Array(name.utf8), bytes, mode: mode)
    }
    func file(_ name: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        var fd: Int32 = -1
        try call("create", name) {
            fd = open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            return fd >= 0 ? 0 : -1
        }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { throw TestFailure("write failed: errno \(errno)") }
            done += n
        }
        guard fchmod(fd, mode) == 0 else { throw TestFailure("fchmod failed") }
    }

    /// A sparse file: `size` bytes of holes with `data` written at each offset.
    func sparseFile(_ name: String, size: Int, data: [(Int, [UInt8])]) throws {
        try file(name, [])
        var fd: Int32 = -1
        try call("open", Array(name.utf8)) {
            fd = open($0, O_WRONLY | O_CLOEXEC)
            return fd >= 0 ? 0 : -1
        }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw TestFailure("ftruncate failed") }
        for (offset, bytes) in data {
            _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        }
    }

    func symlink(_ name: String, to target: [UInt8]) throws {
        let t = target + [0]
        try call("symlink", Array(name.utf8)) { link in
            t.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { Glibc.symlink($0.baseAddress!, link) } }
        }
    }

    func hardLink(_ name: String, to existing: String) throws {
        let from = path(Array(existing.utf8)) + [0]
        try call("link", Array(name.utf8)) { to in
            from.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { link($0.baseAddress!, to) } }
        }
    }

    func node(_ name: String, mode: mode_t, device: dev_t = 0) throws {
        try call("mknod", Array(name.utf8)) { mknod($0, mode, device) }
    }

    func owner(_ name: String, uid: uid_t, gid: gid_t) throws {
        try call("lchown", Array(name.utf8)) { lchown($0, uid, gid) }
    }

    /// Sets the extended attribute `key` of `name` (without following symlinks); false when the file system
    /// does not support it.
    @discardableResult
    func xattr(_ name: String, _ key: String, _ value: [UInt8]) -> Bool {
        let full = path(Array(name.utf8)) + [0]
        return full.withUnsafeBufferPointer { path in
            path.withMemoryRebound(to: CChar.self) { path in
                value.withUnsafeBytes { lsetxattr(path.baseAddress!, key, $0.baseAddress, $0.count, 0) == 0 }
            }
        }
    }

    /// Sets the mtime of `name` (without following symlinks).
    func mtime(_ name: [UInt8], _ seconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        try call("utimensat", name) { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
    }
}

/// `name` for messages.
func printableName(_ name: [UInt8]) -> String { String(decoding: name, as: UTF8.self) }

/// Deterministic text-like bytes that compress.
func textBytes(_ count: Int, seed: Int = 0) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var n = seed
    while out.count < count {
        out += Array("line \(n) of some python-ish text: import os, sys; print(\(n * 7 % 1000))\n".utf8)
        n += 1
    }
    return Array(out.prefix(count))
}

/// The extended attributes of `path` (not following symlinks), sorted by name.
func sourceXattrs(_ path: [UInt8]) -> [(name: [UInt8], value: [UInt8])] {
    let cPath = (path + [0]).map { CChar(bitPattern: $0) }
    var names = [CChar](repeating: 0, count: 65_536)
    let length = llistxattr(cPath, &names, names.count)
    guard length > 0 else { return [] }
    var result: [(name: [UInt8], value: [UInt8])] = []
    for name in names[0..<length].split(separator: 0) {
        let key = Array(name) + [0]
        var value = [UInt8](repeating: 0, count: 65_536)
        let n = lgetxattr(cPath, key, &value, value.count)
        guard n >= 0 else { continue }
        result.append((name.map { UInt8(bitPattern: $0) }, Array(value[0..<n])))
    }
    return result.sorted { $0.name.lexicographicallyPrecedes($1.name) }
}

// Glibc's module map leaves out <sys/xattr.h>; these plain C functions take pointers and integers only, which
// the Swift calling convention passes exactly as C does. Test-only.
@_silgen_name("lsetxattr")
private func lsetxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int, _ flags: Int32
) -> Int32
@_silgen_name("llistxattr")
private func llistxattr(_ path: UnsafePointer<CChar>, _ list: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int
@_silgen_name("lgetxattr")
private func lgetxattr(
    _ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int
) -> Int
