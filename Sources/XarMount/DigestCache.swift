internal import XarFormat
internal import XarSystem
internal import struct SystemPackage.Errno

/// A file's identity for the digest cache: device, inode, size and change time, as `fstat` gives them.
///
/// Writing a file, truncating it, renaming another over it or changing its mode all change at least one of them
/// (the change time is set by the kernel, never by a user), so an identity names one content of one file.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var changeSeconds: Int
    var changeNanoseconds: Int

    /// The identity in `status`.
    init(_ status: FileStatus) {
        device = status.device
        inode = status.inode
        size = Int64(status.size)
        changeSeconds = status.changeTime
        changeNanoseconds = status.changeTimeNanoseconds
    }

    /// The identity of the open file `file`, nil when `fstat` fails.
    init?(of file: borrowing FileDescriptor) {
        guard let status = try? file.fileStatus() else { return nil }
        self.init(status)
    }

    /// The identity of the open descriptor `fd` (another owner's), nil when `fstat` fails.
    init?(descriptor fd: Int32) {
        guard let status = try? FileDescriptor.withUnowned(fd, { (file) throws(Errno) in try file.fileStatus() })
        else { return nil }
        self.init(status)
    }

    /// Parses `text` (`dev-ino-size-sec.nsec`); nil when it is not one.
    init?(text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 4, let device = UInt64(parts[0]), let inode = UInt64(parts[1]), let size = Int64(parts[2])
        else { return nil }
        let change = parts[3].split(separator: ".")
        guard change.count == 2, let seconds = Int(change[0]), let nanoseconds = Int(change[1]) else { return nil }
        (self.device, self.inode, self.size) = (device, inode, size)
        (changeSeconds, changeNanoseconds) = (seconds, nanoseconds)
    }

    /// `dev-ino-size-sec.nsec`: the server's state file (`image_id=`) and the digest cache's file names.
    var text: String { "\(device)-\(inode)-\(size)-\(changeSeconds).\(changeNanoseconds)" }
}

/// The per-user record of the SHA-256 each `.xar` file's image really has (`$XDG_CACHE_HOME/xar/digests/`, one
/// small file per `FileIdentity`, holding 64 hex digits and, on a second line, the path the file was open under
/// when it was hashed): a file is hashed once, and later launches that need its digest read one small file instead
/// (docs/lifecycle.md, "Identity"). The path is only for `xarctl gc` (`IdentityCacheInventory`), which removes an
/// entry whose file is gone or changed; a lookup never trusts it.
///
/// The header's `XAR_IMAGE_SHA256` is a claim that anyone can copy; what is written here was computed from the
/// bytes by this user's own launcher or server. The directory is the user's with mode 0700, so nobody else can
/// write into it.
enum DigestCache {
    /// The cache directory's leaf under `$XDG_CACHE_HOME/xar`.
    static let leaf = "digests"

    /// The recorded digest of the file with `identity`, nil when none is recorded.
    static func lookup(_ identity: FileIdentity) -> String? {
        guard let home = Settings.current.cacheHome, let directory = try? UserCache.open(leaf, home: home) else {
            return nil
        }
        guard let file = try? directory.open(identity.text, .readOnly, options: .noFollow) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: 80, alignment: 1) { buffer -> String? in
            guard let n = try? file.readFully(into: buffer, at: 0), n >= 64 else { return nil }
            let digest = UnsafeRawBufferPointer(rebasing: buffer[0..<64])
            guard digest.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
            return String(decoding: digest, as: UTF8.self)
        }
    }

    /// Records that the file with `identity` has `digest` (atomically: a temporary file, then `rename`), with the
    /// path the open `descriptor` has (for `xarctl gc`) when it is given; failures are ignored (the next launch
    /// hashes again).
    static func record(_ digest: String, for identity: FileIdentity, descriptor: Int32? = nil) {
        guard let home = Settings.current.cacheHome, let directory = try? UserCache.open(leaf, home: home) else {
            return
        }
        let temporary = ".tmp-\(identity.text)-\(Processes.currentID)"
        guard
            let file = try? directory.open(
                temporary, .writeOnly, options: [.create, .truncate, .noFollow], permissions: 0o600)
        else { return }
        let path = descriptor.flatMap(openedPath).map { $0 + "\n" } ?? ""
        let written = Array((digest + "\n" + path).utf8).withUnsafeBytes { (try? file.write($0)) != nil }
        _ = try? file.close()
        if !written || (try? directory.rename(temporary, to: identity.text)) == nil {
            _ = try? directory.removeFile(temporary)
        }
    }

    /// The digest of the image in `file` (from `offset` to the end), from the cache when recorded, else computed
    /// (and recorded when the file did not change while it was read). Nil when the file cannot be read.
    static func digest(of file: borrowing FileDescriptor, offset: UInt64) -> String? {
        guard let before = FileIdentity(of: file) else { return nil }
        if let known = lookup(before) { return known }
        guard let computed = compute(file, offset: offset) else { return nil }
        if FileIdentity(of: file) == before { record(computed, for: before, descriptor: file.rawValue) }
        return computed
    }

    /// The absolute path the open descriptor `fd` has now (the kernel's `/proc/self/fd` link, which follows
    /// renames); nil when it has none: deleted, not a path, or one that a line-based record cannot hold.
    static func openedPath(_ fd: Int32) -> String? {
        guard let target = try? FileSystem.symbolicLinkTarget("/proc/self/fd/\(fd)", capacity: 4096),
            target.first == UInt8(ascii: "/"), !target.contains(UInt8(ascii: "\n")),
            let path = String(validating: target, as: UTF8.self), !path.hasSuffix(" (deleted)")
        else { return nil }
        return path
    }

    /// SHA-256 of the bytes of the open descriptor `fd` (another owner's) from `offset` to the end of the file, as
    /// lowercase hex; nil on a read error.
    static func compute(descriptor fd: Int32, offset: UInt64) -> String? {
        FileDescriptor.withUnowned(fd) { compute($0, offset: offset) }
    }

    /// SHA-256 of the bytes of `file` from `offset` to the end of the file, as lowercase hex; nil on a read error.
    static func compute(_ file: borrowing FileDescriptor, offset: UInt64) -> String? {
        var hash = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var position = Int64(offset)
        while true {
            guard let n = try? file.read(into: buffer, at: position) else { return nil }
            if n == 0 { break }
            hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            position += Int64(n)
        }
        return hash.finalizeHex()
    }
}
