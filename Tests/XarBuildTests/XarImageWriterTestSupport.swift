import Glibc
import SystemPackage
import Testing
import XarBuild
import XarCompression
import XarTestSupport

/// Shared steps of the image writer's tests: generating trees with real file system calls, building images,
/// describing trees with `find`/`sha256sum`, and reading images back with the real readers.
enum ImageTestSupport {
    /// A fixed header: the tests check the image, the header is the helper "header"'s concern.
    static func header(_ digest: String) -> [UInt8] {
        var bytes = Array("#!/bin/sh\n# test image \(digest)\n".utf8)
        bytes += [UInt8](repeating: 0x0a, count: 4096 - bytes.count)
        return bytes
    }

    /// Builds `directory` into `output` with `options`.
    @discardableResult
    static func build(_ directory: String, _ output: String, _ options: XarImageOptions) throws -> XarImageSummary {
        try XarImageWriter.write(
            directory: FilePath(directory), options: options, to: FilePath(output), executable: true, progress: nil,
            header: header)
    }

    /// Runs a bash command line and requires success.
    @discardableResult
    static func sh(_ command: String, timeout: Double = 300) throws -> String {
        let result = try Process.run(["/bin/bash", "-c", command], timeout: timeout)
        try #require(result.status == 0, "\(command)\n\(result)")
        return result.stdout
    }

    /// What a user sees of a tree: for every path its type, mode, owner, mtime, link count, symlink target,
    /// size of regular files, then every regular file's SHA-256. Produced by `find` and `sha256sum`.
    static func manifest(_ directory: String) throws -> String {
        try sh(
            "cd '\(directory)' && LC_ALL=C find . -mindepth 1 \\( -type f -printf '%p|%y|%m|%U|%G|%T@|%n|%s|\\n' \\) "
                + "-o \\( ! -type f -printf '%p|%y|%m|%U|%G|%T@|%n||%l\\n' \\) | LC_ALL=C sort && "
                + "LC_ALL=C find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum")
    }

    /// Mounts `image` with `squashfuse_ll` at a fresh directory, runs `body` on the mount point, unmounts.
    static func withFuseMount<T>(_ image: String, offset: Int = 4096, _ body: (String) throws -> T) throws -> T {
        let mountPoint = TemporaryDirectory(prefix: "xar-fuse")
        try sh("squashfuse_ll -o offset=\(offset) '\(image)' '\(mountPoint.path)'", timeout: 60)
        defer { _ = try? Process.run(["fusermount3", "-u", mountPoint.path], timeout: 60) }
        return try body(mountPoint.path)
    }

    /// Loop-mounts `image` with the kernel's squashfs (root only), runs `body`, unmounts.
    static func withKernelMount<T>(_ image: String, offset: Int = 4096, _ body: (String) throws -> T) throws -> T {
        let mountPoint = TemporaryDirectory(prefix: "xar-kernel")
        try sh("mount -t squashfs -o loop,ro,offset=\(offset) '\(image)' '\(mountPoint.path)'", timeout: 60)
        defer { _ = try? Process.run(["umount", "-d", mountPoint.path], timeout: 60) }
        return try body(mountPoint.path)
    }

    /// Extracts `image` with `unsquashfs` into a fresh directory and returns its manifest.
    static func unsquashfsManifest(_ image: String, offset: Int = 4096) throws -> String {
        let out = TemporaryDirectory(prefix: "xar-unsquash")
        try sh("unsquashfs -no-progress -o \(offset) -d '\(out.path)/x' '\(image)' >/dev/null", timeout: 120)
        return try manifest(out("x"))
    }

    /// Creates a file of `count` bytes: `pattern` repeated.
    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        try #require(fd >= 0, "cannot create \(path)")
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            try #require(n > 0)
            done += n
        }
        fchmod(fd, mode)
    }

    /// Deterministic pseudo-random bytes (xorshift).
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            out[i] = UInt8(truncatingIfNeeded: state)
        }
        return out
    }

    /// Python-like text of `count` bytes, compressible like real sources.
    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var n = seed
        while out.count < count {
            n = n &* 6_364_136_223_846_793_005 &+ 1
            out += Array("def f_\(n % 997)(x):\n    return x * \(n % 89) + len('\(n % 13)')\n".utf8)
        }
        return Array(out.prefix(count))
    }

    /// A mixed tree: nested directories, files around multiples of `blockSize`, empty and all-zero and
    /// incompressible files, duplicates, names with spaces, newlines and non-ASCII bytes, symlinks (dangling,
    /// 4 KiB targets), hard links, a fifo, setuid/setgid/sticky modes, varied mtimes.
    static func makeMixedTree(_ root: String, blockSize: Int) throws {
        try sh("mkdir -p '\(root)/a/b/c/d' '\(root)/empty dir' '\(root)/sticky'")
        try writeFile("\(root)/empty", [])
        try writeFile("\(root)/a/small.py", text(100, seed: 1))
        for (i, size) in [blockSize - 1, blockSize, blockSize + 1, 2 * blockSize, 3 * blockSize + 17].enumerated() {
            try writeFile("\(root)/a/b/size\(i)", text(size, seed: UInt64(i + 2)))
        }
        try writeFile("\(root)/a/b/c/random", randomBytes(2 * blockSize + 333, seed: 99))
        try writeFile("\(root)/a/b/c/zeros", [UInt8](repeating: 0, count: 2 * blockSize + 5))
        try writeFile("\(root)/a/b/c/d/dup1", text(5000, seed: 42))
        try writeFile("\(root)/a/b/c/d/dup2", text(5000, seed: 42))
        try writeFile("\(root)/a/b/c/d/same-size", text(4999, seed: 43) + [0x0a])
        try writeFile("\(root)/with space", text(10, seed: 5), mode: 0o4755)
        try writeFile("\(root)/new\nline", text(11, seed: 6), mode: 0o2711)
        try writeFile("\(root)/caf\u{e9} \u{1F600}", text(12, seed: 7), mode: 0o600)
        try writeFile("\(root)/\u{ff}raw", text(13, seed: 8))
        _ = chmod("\(root)/sticky", 0o1777)
        _ = symlink("a/small.py", "\(root)/link")
        _ = symlink("does/not/exist", "\(root)/dangling")
        _ = symlink(String(repeating: "x/", count: 2047) + "y", "\(root)/long-link")
        _ = link("\(root)/a/small.py", "\(root)/hardlink")
        _ = link("\(root)/a/small.py", "\(root)/a/b/hardlink2")
        _ = mkfifo("\(root)/fifo", 0o640)
        try sh(
            "find '\(root)' -exec touch -h -d @1600000000 {} + && touch -h -d @1700000123 '\(root)/a/small.py' '\(root)/link' '\(root)/a/b'"
        )
    }
}
