internal import XarFormat
internal import XarSystem

/// The oldest host an image runs on, as its header records it (`XAR_GLIBC_FLOOR`, `XAR_KERNEL_FLOOR`; see
/// docs/python.md, "Which hosts an image runs on"), checked before the exec so an older host gets one line naming
/// both versions instead of the dynamic loader's `GLIBC_2.34' not found`.
///
/// Costs nothing for images without the keys. The kernel is `uname`'s release. The host's glibc cannot be asked
/// with `gnu_get_libc_version()`: the launcher is linked statically and would answer with its own. It is the
/// newest `GLIBC_` version the host's `libc.so.6` defines, read from the file's version definitions (a few
/// `pread`s); when no `libc.so.6` is found at the usual places, the glibc check is left to the dynamic loader.
enum HostFloor {
    /// Where distributions keep the C library (Debian's multiarch directories, then the Red Hat/SUSE ones).
    static let libcPaths = [
        "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6",
        "/usr/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6",
        "/usr/lib/libc.so.6",
    ]

    /// Fails with `LaunchError.Kind.hostTooOld` when the host is older than what the image at `path` records.
    static func check(_ header: LaunchHeader, path: String) throws(LaunchError) {
        if let floor = header.kernelFloor, let required = ELFFile.parseVersion(floor), let host = kernelRelease(),
            let running = ELFFile.parseVersion(host), ELFFile.isOlder(running, than: required)
        {
            throw LaunchError(
                .hostTooOld,
                "\(path) needs Linux \(floor) or newer; this host runs Linux \(host)")
        }
        if let floor = header.glibcFloor, let required = ELFFile.parseVersion(floor), let (libc, host) = hostGlibc(),
            ELFFile.isOlder(host, than: required)
        {
            throw LaunchError(
                .hostTooOld,
                "\(path) needs glibc \(floor) or newer; this host has glibc \(release(of: libc) ?? ELFFile.versionText(host)) "
                    + "(rebuild it with the portable layout, the default, to carry its own)")
        }
    }

    /// `uname -r`.
    static func kernelRelease() -> String? {
        KernelRelease.current()
    }

    /// The host's C library and the newest glibc version it defines. A release that adds no symbol (2.31) defines
    /// none of its own: that is what an image can need, not the release's name (`release(of:)`).
    static func hostGlibc() -> (String, [Int])? {
        for path in libcPaths {
            guard let file = try? ReadOnlyFile(opening: path) else { continue }
            let elf = try? ELFFile { offset, count in
                guard count > 0, offset < UInt64(Int64.max) else { return [] }
                return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                    initialized =
                        (try? file.read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)) ?? 0
                }
            }
            if let version = elf.flatMap({ ELFFile.newestGlibcVersion($0.definedVersions) }) { return (path, version) }
        }
        return nil
    }

    /// The release glibc names itself in its banner (`… stable release version 2.31.`), for the refusal's
    /// message only: reading it means reading the whole library.
    static func release(of libc: String) -> String? {
        guard let file = try? ReadOnlyFile(opening: libc) else { return nil }
        let marker = Array("release version ".utf8)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count < 1 << 24 {
            let count = chunk.withUnsafeMutableBytes { (try? file.read(into: $0, at: UInt64(bytes.count))) ?? 0 }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        var index = 0
        while index + marker.count < bytes.count {
            if bytes[index] == marker[0], Array(bytes[index..<index + marker.count]) == marker {
                let version = bytes[(index + marker.count)...].prefix { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e }
                let text = String(decoding: version, as: UTF8.self)
                return text.hasSuffix(".") ? String(text.dropLast()) : text
            }
            index += 1
        }
        return nil
    }
}
