import Foundation
import Glibc
import Testing
import XarTestSupport

/// Real `.xar` files made by the built `xarbuild dir`, a private mount root (`XAR_MOUNT_ROOT`) and a private
/// extraction cache (`XDG_CACHE_HOME`) for the `xarctl` operations tests, so they never touch the machine's
/// mounts or another test's.
final class XarctlOpsFixture: @unchecked Sendable {
    /// The scratch directory holding trees, images, the mount root and the cache.
    let dir = TemporaryDirectory(prefix: "xarctl-ops")
    /// The mount root, mode 0700 and ours.
    let mountRoot: String

    init() {
        mountRoot = dir("mnt")
        #expect(mkdir(mountRoot, 0o700) == 0)
    }

    /// True when FUSE and the tools the tests use are there.
    static var canRun: Bool {
        TestEnvironment.isRoot && TestEnvironment.hasFuse && TestEnvironment.hasTool("fusermount3")
    }

    /// Writes `files` (path → (text, executable)) into a tree and builds `name.xar` from it with `xarbuild dir`.
    func makeXar(
        _ name: String, files: [String: (String, Bool)], exec: String, execArgs: String? = nil,
        mountTimeout: Int? = nil
    ) throws -> String {
        let tree = dir("\(name).tree")
        for (path, (text, executable)) in files {
            let full = "\(tree)/\(path)"
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
            if executable { #expect(chmod(full, 0o755) == 0) }
        }
        let output = dir("\(name).xar")
        var arguments = [TestEnvironment.product("xarbuild"), "dir", tree, "-o", output, "--exec", exec]
        if let execArgs { arguments += ["--exec-args", execArgs] }
        if let mountTimeout { arguments += ["--mount-timeout", String(mountTimeout)] }
        let result = try XarTestSupport.Process.run(arguments, timeout: 60)
        try #require(result.status == 0, "xarbuild: \(result)")
        return output
    }

    /// A small image whose target prints `hello` and its arguments.
    func makeHello(_ name: String, mountTimeout: Int? = nil) throws -> String {
        try makeXar(
            name, files: ["bin/hi": ("#!/bin/sh\necho hello \"$@\"\n", true), "data.txt": ("\(name)\n", false)],
            exec: "bin/hi", mountTimeout: mountTimeout)
    }

    /// The environment: this process's, with the private mount root and cache and the products on `PATH`.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XAR_MOUNT_ROOT"] = mountRoot
        env["XDG_CACHE_HOME"] = dir("cache")
        env["PATH"] = TestEnvironment.binDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Runs the built `xarctl` with `arguments`.
    @discardableResult
    func xarctl(_ arguments: [String], env: [String: String] = [:], timeout: Double = 30) throws
        -> XarTestSupport.Process.Result
    {
        try XarTestSupport.Process.run(
            [TestEnvironment.product("xarctl")] + arguments, environment: environment(env), timeout: timeout)
    }

    /// `xarctl list --json`, parsed: the mounts.
    func listedMounts() throws -> [[String: Any]] {
        let result = try xarctl(["list", "--json"])
        try #require(result.status == 0, "xarctl list: \(result)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object?["mounts"] as? [[String: Any]])
    }

    /// The mount points under the mount root, from `/proc/self/mountinfo`.
    func mountPoints() throws -> [String] {
        // Through cat: Foundation reads /proc files (size 0) only partly.
        let text = try XarTestSupport.Process.run(["/bin/cat", "/proc/self/mountinfo"], timeout: 10).stdout
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(mountRoot + "/") ? String(fields[4]) : nil
        }
    }

    /// Polls `condition` every 100 ms for at most `seconds`; true when it held.
    /// The text of `path`, read by a child process (`cat`): no descriptor of this process, which a concurrent test's
    /// child could inherit, is left to keep a mount busy.
    func contents(_ path: String) throws -> String {
        try XarTestSupport.Process.run(["/bin/cat", path], timeout: 30).stdout
    }

    /// `xarctl unmount MOUNT`, tried again for up to 10 s while it fails (a concurrent test's process may be
    /// passing through the mount).
    func unmount(_ mount: String, env: [String: String] = [:]) throws -> XarTestSupport.Process.Result {
        var result = try xarctl(["unmount", mount], env: env)
        let deadline = Date().addingTimeInterval(10)
        while result.status != 0 && Date() < deadline {
            usleep(200_000)
            result = try xarctl(["unmount", mount], env: env)
        }
        return result
    }

    /// Whether anything is at `path`.
    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The disk space the file at `path` takes (allocated blocks), or -1 when there is none.
    func allocatedBytes(_ path: String) -> Int64 {
        var st = stat()
        return lstat(path, &st) == 0 ? Int64(st.st_blocks) * 512 : -1
    }

    func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    /// Lazily unmounts everything under the mount root; tests call it before returning (and `deinit` does).
    func unmountAll() {
        for mountPoint in (try? mountPoints()) ?? [] {
            _ = try? XarTestSupport.Process.run(["/bin/umount", "-l", mountPoint], timeout: 10)
        }
    }

    /// Unmounts everything under the mount root and waits (up to 10 s) for those servers to end, so that none
    /// writes its start-up plan into the scratch directory after it is removed.
    func unmountAllAndWait() {
        unmountAll()
        _ = eventually(within: 10) {
            let found = try? XarTestSupport.Process.run(
                ["/bin/sh", "-c", "grep -lsF -- '\(mountRoot)/' /proc/[0-9]*/cmdline"], timeout: 10)
            return found?.stdout.isEmpty ?? true
        }
    }

    /// Runs `command` as `env -i` would: with only the private mount root and `extra` in its environment.
    func runIsolated(_ command: [String], _ extra: [String: String] = [:], timeout: Double = 120) throws
        -> XarTestSupport.Process.Result
    {
        var env = ["XAR_MOUNT_ROOT": mountRoot]
        for (key, value) in extra { env[key] = value }
        return try XarTestSupport.Process.run(
            ["/usr/bin/env", "-i"] + env.map { "\($0.key)=\($0.value)" }.sorted() + command, timeout: timeout)
    }

    deinit { unmountAll() }
}
