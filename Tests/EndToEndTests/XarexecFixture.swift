import Glibc
import Testing
import XarFormat
import XarTestSupport

/// Real `.xar` files for the launcher's end-to-end tests: a directory tree packed by `mksquashfs` behind a
/// header rendered by `XarHeader`, and a private mount root so tests never touch the machine's.
final class XarexecFixture: @unchecked Sendable {
    /// The scratch directory holding the trees, images and the mount root.
    let dir = TemporaryDirectory(prefix: "xarexec-test")
    /// The mount root the launcher is pointed at (`XAR_MOUNT_ROOT`), mode 0700 and ours.
    let mountRoot: String

    init() throws {
        mountRoot = dir("mnt")
        #expect(mkdir(mountRoot, 0o700) == 0)
    }

    /// The launcher binary.
    static var xarexec: String { TestEnvironment.product("xarexec") }

    /// True when the tools the fixture uses are installed.
    static var canBuild: Bool {
        TestEnvironment.hasTool("mksquashfs") && TestEnvironment.hasTool("sha256sum") && TestEnvironment.hasTool("cc")
    }

    /// Writes `files` (path → (text, executable)) into a tree and packs it as `name.xar` with `target`.
    func makeXar(
        _ name: String, files: [String: (String, Bool)], target: String, execArgs: String? = nil,
        trampolineNames: [String] = [], mountTimeout: Int? = nil
    ) throws -> String {
        let tree = dir("\(name).tree")
        for (path, (text, executable)) in files {
            let full = "\(tree)/\(path)"
            try run("mkdir -p \"$(dirname '\(full)')\" && cat > '\(full)' <<'XAREOF'\n\(text)\nXAREOF")
            if executable { #expect(chmod(full, 0o755) == 0) }
        }
        return try pack(
            tree: tree, name: name, target: target, execArgs: execArgs,
            trampolineNames: trampolineNames, mountTimeout: mountTimeout)
    }

    /// A static C program for the image, `bin/show`: prints `argv` one per line as `argv[i]=…`; `show exit N`
    /// exits with N, `show signal N` raises signal N, `show cat` copies stdin, `show tty` prints whether
    /// stdin is a terminal, `show sleep N` sleeps N seconds.
    static let showSource = #"""
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
            fflush(stdout);
            for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "tty")) printf("tty=%d\n", isatty(0));
                if (!strcmp(argv[i], "cat")) {
                    char buf[4096];
                    size_t n;
                    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
                }
            }
            fflush(stdout);
            for (int i = 1; i + 1 < argc; i++) {
                if (!strcmp(argv[i], "exit")) return atoi(argv[i + 1]);
                if (!strcmp(argv[i], "signal")) raise(atoi(argv[i + 1]));
                if (!strcmp(argv[i], "sleep")) sleep(atoi(argv[i + 1]));
            }
            return 0;
        }
        """#

    /// A tree with `bin/show` compiled into it, packed as `name.xar` with target `bin/show`.
    func makeShowXar(_ name: String, execArgs: String? = nil, trampolineNames: [String] = [], mountTimeout: Int? = nil)
        throws -> String
    {
        let tree = dir("\(name).tree")
        try run("mkdir -p '\(tree)/bin' && cat > '\(dir("show.c"))' <<'XAREOF'\n\(Self.showSource)\nXAREOF")
        try run("cc -O2 -static -o '\(tree)/bin/show' '\(dir("show.c"))'")
        // The name inside the tree: two images of different names never share an identity, even when both were
        // compiled within the same second (mksquashfs keeps the binary's mtime).
        try run("printf '%s' '\(name)' > '\(tree)/name'")
        return try pack(
            tree: tree, name: name, target: "bin/show", execArgs: execArgs,
            trampolineNames: trampolineNames, mountTimeout: mountTimeout)
    }

    /// Packs an existing directory `tree` as `name.xar`.
    func pack(
        tree: String, name: String, target: String, execArgs: String? = nil, trampolineNames: [String] = [],
        mountTimeout: Int? = nil
    ) throws -> String {
        let image = dir("\(name).sqfs")
        try run("mksquashfs '\(tree)' '\(image)' -quiet -noappend -all-root -comp zstd >/dev/null")
        let digest = String(try run("sha256sum '\(image)'").stdout.prefix(64))
        let header = try XarHeader(
            imageSHA256: digest, buildTime: 1, builder: "test", target: target, trampolineNames: trampolineNames,
            execArgs: execArgs, mountTimeout: mountTimeout)
        let bytes = try header.rendered()
        let xar = dir("\(name).xar")
        let fd = open(xar, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        #expect(fd >= 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try run("cat '\(image)' >> '\(xar)'")
        return xar
    }

    /// The environment the launcher runs with: this process's, with the private mount root.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env: [String: String] = [:]
        var entry = environ
        while let value = entry.pointee {
            let text = String(cString: value)
            if let eq = text.firstIndex(of: "=") { env[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            entry += 1
        }
        env["XAR_MOUNT_ROOT"] = mountRoot
        env["PATH"] = TestEnvironment.binDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Runs `xarexec` with `arguments`.
    @discardableResult
    func xarexec(_ arguments: [String], env: [String: String] = [:], stdin: String? = nil, timeout: Double = 30)
        throws -> Process.Result
    {
        try Process.run([Self.xarexec] + arguments, environment: environment(env), stdin: stdin, timeout: timeout)
    }

    /// Unmounts everything under the mount root (lazily) and ends the servers; tests call it before returning.
    func unmountAll() {
        _ = try? Process.shell(
            "for m in $(awk '$2 ~ \"^\(mountRoot)/\" {print $2}' /proc/self/mounts); do "
                + "fusermount3 -u -z \"$m\" 2>/dev/null || umount -l \"$m\"; done", timeout: 30)
    }

    /// How many mounts there are under the mount root.
    func mountCount() throws -> Int {
        Int(
            try run("awk '$2 ~ \"^\(mountRoot)/\" {n++} END {print n+0}' /proc/self/mounts").stdout
                .filter { $0.isNumber }) ?? -1
    }

    @discardableResult
    func run(_ command: String) throws -> Process.Result {
        let result = try Process.shell(command, timeout: 120)
        #expect(result.status == 0, "\(command): \(result)")
        return result
    }

    deinit { unmountAll() }
}
