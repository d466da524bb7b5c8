import Foundation
import Glibc
import XarTestSupport

/// A Debian 11 (bullseye, glibc 2.31) root with no Python in it, for running images built on this newer machine
/// on an older distribution. Made once with `debootstrap --variant=minbase` (1–3 minutes) from the archive apt
/// is configured with here, cached as a tarball under `${XDG_CACHE_HOME:-$HOME/.cache}/xar-tests/`, and unpacked
/// into a fresh directory per use with an `/etc/hosts` (a minbase root has none), `/proc` and `/dev` (for
/// `/dev/fuse` and `/dev/shm`) bind-mounted.
final class Debian11Root: @unchecked Sendable {
    /// Where downloads the tests need are kept between runs.
    static var cacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"] ?? ((environment["HOME"] ?? "/root") + "/.cache")
        return "\(base)/xar-tests"
    }

    /// The cached root.
    static var tarball: String { "\(cacheDirectory)/debian-bullseye-minbase.tar" }

    /// The Debian archive apt uses on this machine: `URIs:` of `/etc/apt/sources.list.d/debian.sources`, or the
    /// first `deb` line of `/etc/apt/sources.list`.
    static var archiveURL: String? {
        if let text = try? String(contentsOfFile: "/etc/apt/sources.list.d/debian.sources", encoding: .utf8) {
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("URIs:") {
                if let url = line.dropFirst(5).split(separator: " ").first, !url.contains("security") {
                    return String(url)
                }
            }
        }
        if let text = try? String(contentsOfFile: "/etc/apt/sources.list", encoding: .utf8) {
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("deb ") {
                if let url = line.split(separator: " ").dropFirst().first(where: { $0.hasPrefix("http") }) {
                    return String(url)
                }
            }
        }
        return nil
    }

    /// True when the root is cached or can be made (root, debootstrap, an archive).
    static var available: Bool {
        guard TestEnvironment.isRoot, TestEnvironment.hasTool("chroot") else { return false }
        return access(tarball, R_OK) == 0 || (TestEnvironment.hasTool("debootstrap") && archiveURL != nil)
    }

    /// Makes the cached tarball unless it is there.
    static func ensureTarball() throws {
        if access(tarball, R_OK) == 0 { return }
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let scratch = TemporaryDirectory(prefix: "debootstrap")
        guard let url = archiveURL else { throw Failure("no Debian archive in apt's sources") }
        // ca-certificates: the host CA store the images' ssl module must find (it brings no Python).
        let made = try XarTestSupport.Process.run(
            ["debootstrap", "--variant=minbase", "--include=ca-certificates", "bullseye", scratch("root"), url],
            timeout: 900)
        guard made.status == 0 else { throw Failure("debootstrap failed: \(made)") }
        let packed = try XarTestSupport.Process.run(
            ["tar", "-C", scratch("root"), "-cf", tarball + ".partial", "."], timeout: 300)
        guard packed.status == 0, rename(tarball + ".partial", tarball) == 0 else {
            throw Failure("cannot write \(tarball): \(packed)")
        }
    }

    /// The unpacked root.
    let directory = TemporaryDirectory(prefix: "debian11")
    var path: String { directory("root") }

    /// Unpacks a fresh root and mounts `/proc` and `/dev` in it.
    init() throws {
        try Self.ensureTarball()
        try FileManager.default.createDirectory(atPath: directory("root"), withIntermediateDirectories: true)
        let unpacked = try XarTestSupport.Process.run(["tar", "-C", directory("root"), "-xf", Self.tarball])
        guard unpacked.status == 0 else { throw Failure("cannot unpack \(Self.tarball): \(unpacked)") }
        try "127.0.0.1 localhost\n::1 localhost ip6-localhost\n".write(
            toFile: directory("root/etc/hosts"), atomically: false, encoding: .utf8)
        for (what, arguments) in [("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])] {
            let mounted = try XarTestSupport.Process.run(["mount"] + arguments + [directory("root/\(what)")])
            guard mounted.status == 0 else { throw Failure("cannot mount /\(what) in the root: \(mounted)") }
        }
    }

    /// Runs `argv` inside the root (`chroot`), with a plain environment plus `environment`.
    func run(_ argv: [String], environment: [String: String] = [:], timeout: Double = 120) throws
        -> XarTestSupport.Process.Result
    {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/root", "LANG": "C.UTF-8"]
        env.merge(environment) { $1 }
        return try XarTestSupport.Process.run(["/usr/sbin/chroot", path] + argv, environment: env, timeout: timeout)
    }

    /// Detaches every mount under the root (the images' FUSE mounts first, then `/dev` and `/proc`).
    func unmountAll() {
        let table = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let points = table.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            return point.hasPrefix(path + "/") ? point : nil
        }
        for point in points.sorted(by: { $0.count > $1.count }) {
            _ = try? XarTestSupport.Process.run(["umount", "-l", point])
        }
    }

    deinit { unmountAll() }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
