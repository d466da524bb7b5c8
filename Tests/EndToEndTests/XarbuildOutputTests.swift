import Foundation
import Testing
import XarFormat
import XarTestSupport

/// What a successful `xarbuild dir` writes, checked with independent tools (`unsquashfs`, `sha256sum`, `sh`).
@Suite(.tags(.oracle), .enabled(if: TestEnvironment.hasTool("unsquashfs")))
struct XarbuildOutputTests {
    static let xarbuild = TestEnvironment.product("xarbuild")

    @Test func xarbuildWritesExecutableXarThatUnsquashfsReads() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let out = dir("app.xar")
        let result = try Process.run(
            [Self.xarbuild, "dir", app, "-o", out, "--exec", "./bin/hello", "--mount-timeout", "30"], timeout: 120)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("xarbuild: wrote \(out): "))
        #expect(result.stderr.split(separator: "\n").count == 1)

        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o755)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        let header = try XarHeader(parsing: bytes, fileSize: Int64(bytes.count))
        #expect(header.offset == 4096)
        #expect(header.target == "bin/hello")
        #expect(header.mountTimeout == 30)
        #expect(header.builder?.hasPrefix("xarbuild ") == true)
        #expect(Array(bytes[4096..<4100]) == Array("hsqs".utf8))

        let digest = try Process.shell("tail -c +4097 '\(out)' | sha256sum", timeout: 60).stdout
        #expect(digest.hasPrefix(try #require(header.imageSHA256) + " "))
        #expect(header.uuid == String(digest.prefix(16)))

        let listing = try Process.run(["unsquashfs", "-o", "4096", "-lls", out], timeout: 60)
        #expect(listing.status == 0, "\(listing)")
        for path in ["squashfs-root/bin/hello", "squashfs-root/share/data.txt", "squashfs-root/share/doc/blob"] {
            #expect(listing.stdout.contains(path), "\(listing.stdout)")
        }
        #expect(listing.stdout.contains("squashfs-root/bin/data-link -> ../share/data.txt"))
        let extracted = dir("extracted")
        let unpack = try Process.run(["unsquashfs", "-o", "4096", "-d", extracted, out], timeout: 60)
        #expect(unpack.status == 0, "\(unpack)")
        let diff = try Process.run(["diff", "-r", "--no-dereference", app, extracted], timeout: 60)
        #expect(diff.status == 0, "\(diff)")

        let sh = try Process.run(["/bin/sh", out], timeout: 30)
        #expect(sh.status == 1)
        #expect(sh.stderr.contains("install xarexec"))
    }

    @Test func xarbuildWithoutExecWritesNonExecutableFile() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let out = dir("data.xar")
        let result = try Process.run([Self.xarbuild, "dir", app, "-o", out], timeout: 120)
        #expect(result.status == 0, "\(result)")
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect(((attributes[.posixPermissions] as? Int) ?? 0) & 0o111 == 0)
    }

    @Test(arguments: [("4K", 4096), ("128K", 131072), ("1M", 1_048_576), ("65536", 65536)])
    func xarbuildAcceptsBlockSizeForms(text: String, bytes: Int) throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let out = dir("app.xar")
        let result = try Process.run(
            [Self.xarbuild, "dir", app, "-o", out, "--block-size", text, "--json"], timeout: 120)
        #expect(result.status == 0, "\(result)")
        let stats = try Process.run(["unsquashfs", "-o", "4096", "-s", out], timeout: 60)
        #expect(stats.stdout.contains("Block size \(bytes)"), "\(stats.stdout)")
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["blockSize"] as? Int == bytes)
    }

    @Test(arguments: ["zstd", "xz", "gzip", "none"])
    func xarbuildJSONReportsSizesAndDigest(compression: String) throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let out = dir("app.xar")
        let result = try Process.run(
            [Self.xarbuild, "dir", app, "-o", out, "--compression", compression, "--json"], timeout: 120)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr == "")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int
        #expect(json["outputBytes"] as? Int == size)
        #expect((json["inputBytes"] as? Int ?? 0) >= 300_000)
        #expect((json["sha256"] as? String)?.count == 64)
        #expect(json["ratio"] is Double || json["ratio"] is Int)
        #expect(json["seconds"] != nil)
        #expect((json["compression"] as? String)?.hasPrefix(compression) == true)
        let stats = try Process.run(["unsquashfs", "-o", "4096", "-s", out], timeout: 60)
        #expect(stats.status == 0, "\(stats)")
    }

    @Test func xarbuildIsByteIdenticalAcrossThreadsUmaskLocaleAndTimeZone() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        // The same tree and options under different thread counts, umasks, locales and time zones.
        let settings = [
            ("1", "022", "C", "UTC"), ("2", "077", "C.UTF-8", "Asia/Tokyo"), ("2", "002", "POSIX", "America/Lima"),
        ]
        var outputs: [String] = []
        for (index, (threads, umask, locale, zone)) in settings.enumerated() {
            let out = dir("app-\(index).xar")
            let command =
                "umask \(umask); SOURCE_DATE_EPOCH=1700000000 LC_ALL=\(locale) TZ=\(zone) exec '\(Self.xarbuild)' dir "
                + "'\(app)' -o '\(out)' --threads \(threads) --exec bin/hello"
            let result = try Process.run(["/bin/sh", "-c", command], timeout: 120)
            #expect(result.status == 0, "\(result)")
            outputs.append(out)
        }
        for other in outputs.dropFirst() {
            let cmp = try Process.run(["cmp", outputs[0], other], timeout: 60)
            #expect(cmp.status == 0, "\(cmp)")
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: outputs[0])).prefix(4096))
        #expect(try XarHeader(parsing: bytes).buildTime == 1_700_000_000)
    }

    @Test func xarbuildRejectsMalformedSourceDateEpoch() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let result = try Process.run(
            ["/usr/bin/env", "SOURCE_DATE_EPOCH=yesterday", Self.xarbuild, "dir", app, "-o", dir("x.xar")],
            timeout: 120)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "xarbuild: error: SOURCE_DATE_EPOCH: 'yesterday' is not a number of seconds since the epoch.\n")
    }

    @Test func xarbuildLeavesNothingWhenOutputDirectoryIsMissing() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let out = dir("missing/app.xar")
        let result = try Process.run([Self.xarbuild, "dir", app, "-o", out], timeout: 120)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("xarbuild: error: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.sorted() == ["app"])
    }

    @Test func xarbuildSaysOnceThatXattrsWereDropped() throws {
        let dir = TemporaryDirectory()
        let app = try XarbuildTests.makeApp(in: dir)
        let set = try Process.run(
            [
                "python3", "-c",
                "import os,sys; [os.setxattr(p, 'user.xar-test', b'1') for p in sys.argv[1:]]",
                "\(app)/share/data.txt", "\(app)/bin/hello",
            ], timeout: 60)
        try #require(set.status == 0, "user xattrs unsupported here: \(set)")
        let dropped = try Process.run([Self.xarbuild, "dir", app, "-o", dir("a.xar")], timeout: 120)
        #expect(dropped.status == 0, "\(dropped)")
        let notes = dropped.stderr.split(separator: "\n").filter { $0.contains("extended attributes were dropped") }
        #expect(notes.count == 1, "\(dropped)")
        // With --xattrs they are kept (read back in `XarbuildXattrTests`), so there is nothing to say.
        let kept = try Process.run([Self.xarbuild, "dir", app, "-o", dir("b.xar"), "--xattrs"], timeout: 120)
        #expect(kept.status == 0, "\(kept)")
        #expect(!kept.stderr.contains("extended attributes"), "\(kept)")
    }

    @Test(.tags(.slow), .enabled(if: TestEnvironment.hasTool("script")))
    func xarbuildDrawsProgressBarOnTerminalForLongBuilds() throws {
        let dir = TemporaryDirectory()
        // Base64 of random bytes: xz on one thread needs a few seconds for it, past the one-second threshold.
        try Process.shell("mkdir '\(dir("big"))' && head -c 8000000 /dev/urandom | base64 > '\(dir("big/data"))'")
        let command = "\(Self.xarbuild) dir \(dir("big")) -o \(dir("big.xar")) --compression xz --threads 1"
        // script(1) gives xarbuild a pseudo-terminal, as an interactive user has.
        let result = try Process.run(["script", "-qec", command, "/dev/null"], timeout: 300)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("] 100% "), "\(result)")
        #expect(result.stdout.contains("xarbuild: wrote "))
    }

    @Test(.tags(.fuse), .enabled(if: TestEnvironment.hasFuse && TestEnvironment.hasTool("fusermount3")))
    func xarbuildOutputRunsAsItselfThroughXarexecOnPath() throws {
        let dir = TemporaryDirectory()
        try Self.makeScriptApp(dir, #"echo "$0|$*"\ncat "$(dirname "$0")/../data""#)
        try Process.shell("echo inside > '\(dir("app/data"))'")
        let out = dir("show.xar")
        let build = try Process.run(
            [Self.xarbuild, "dir", dir("app"), "-o", out, "--exec", "bin/show", "--mount-timeout", "2"], timeout: 120)
        try #require(build.status == 0, "\(build)")
        // The shebang is `#!/usr/bin/env xarexec`: the kernel finds the launcher on PATH, as for a user.
        let run = try Process.run(
            [out, "a b", "c"],
            environment: ["PATH": "\(TestEnvironment.binDirectory):/usr/bin:/bin", "XAR_MOUNT_ROOT": dir("mnt")],
            timeout: 60)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let mountedScript = lines.first?.split(separator: "|").first.map(String.init) ?? ""
        if mountedScript.hasSuffix("/bin/show") {
            let mountPoint = String(mountedScript.dropLast("/bin/show".count))
            let unmount = try Process.run(["fusermount3", "-u", "-z", mountPoint], timeout: 30)
            #expect(unmount.status == 0, "\(unmount)")
        }
        #expect(run.status == 0, "\(run)")
        #expect(lines.count == 2 && lines[0].hasPrefix(dir("mnt")) && lines[0].hasSuffix("/bin/show|a b c"), "\(run)")
        #expect(lines.last == "inside")
    }

    /// `app/bin/show`, a `/bin/sh` script running `body` (`printf` escapes such as `\n` allowed), and an empty
    /// `mnt/` for the mount root.
    static func makeScriptApp(_ dir: TemporaryDirectory, _ body: String) throws {
        try Process.shell(
            """
            set -e
            mkdir -p '\(dir("app/bin"))' '\(dir("mnt"))'
            printf '#!/bin/sh\\n%b\\n' '\(body)' > '\(dir("app/bin/show"))'
            chmod 0755 '\(dir("app/bin/show"))'
            """)
    }

    /// `--launcher PATH`: the shebang names the launcher itself, so the file runs with no xarexec on PATH.
    @Test(.tags(.fuse), .enabled(if: TestEnvironment.hasFuse && TestEnvironment.hasTool("fusermount3")))
    func xarbuildLauncherOptionWritesADirectShebang() throws {
        let dir = TemporaryDirectory()
        try Self.makeScriptApp(dir, #"echo "direct $*""#)
        let out = dir("show.xar")
        let launcher = TestEnvironment.product("xarexec")
        let build = try Process.run(
            [Self.xarbuild, "dir", dir("app"), "-o", out, "--exec", "bin/show", "--launcher", launcher], timeout: 120)
        try #require(build.status == 0, "\(build)")
        let first = try Process.run(["/usr/bin/head", "-n", "1", out], timeout: 10).stdout
        #expect(first == "#!\(launcher)\n")
        let run = try Process.run(
            [out, "x"], environment: ["PATH": "/usr/bin:/bin", "XAR_MOUNT_ROOT": dir("mnt")], timeout: 60)
        #expect(run.status == 0 && run.stdout == "direct x\n", "\(run)")
        _ = try Process.shell(
            "for m in $(awk '$2 ~ \"^\(dir("mnt"))/\" {print $2}' /proc/self/mounts); do fusermount3 -u -z \"$m\"; done",
            timeout: 30)

        for bad in ["relative/xarexec", "/opt/my tools/xarexec"] {
            let refused = try Process.run(
                [Self.xarbuild, "dir", dir("app"), "-o", dir("bad.xar"), "--launcher", bad], timeout: 60)
            #expect(refused.status == 64, "\(refused)")
            #expect(refused.stderr.contains("is not an absolute path without spaces"), "\(refused)")
        }
    }

    @Test func xarbuildPlacesSortListFilesFirst() throws {
        let dir = TemporaryDirectory()
        try Process.shell(
            """
            set -e
            mkdir -p '\(dir("app/lib"))'
            head -c 20000 /dev/zero | tr '\\0' A > '\(dir("app/a-first"))'
            head -c 20000 /dev/zero | tr '\\0' Z > '\(dir("app/lib/z-last"))'
            printf './lib/z-last\\n\\n' > '\(dir("order.txt"))'
            """)
        func offsets(_ extra: [String]) throws -> (a: Int, z: Int) {
            let out = dir("app.xar")
            let result = try Process.run(
                [Self.xarbuild, "dir", dir("app"), "-o", out, "--compression", "none", "--block-size", "4K"] + extra,
                timeout: 120)
            try #require(result.status == 0, "\(result)")
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
            let a = try #require(bytes.firstRange(of: Array(repeating: UInt8(ascii: "A"), count: 4096)))
            let z = try #require(bytes.firstRange(of: Array(repeating: UInt8(ascii: "Z"), count: 4096)))
            return (a.lowerBound, z.lowerBound)
        }
        let plain = try offsets([])
        #expect(plain.a < plain.z)
        let sorted = try offsets(["--sort", dir("order.txt")])
        #expect(sorted.z < sorted.a)
    }

    @Test(.enabled(if: TestEnvironment.isRoot))
    func xarbuildKeepsOwnersOnlyWhenAsked() throws {
        let dir = TemporaryDirectory()
        try Process.shell(
            "set -e; mkdir '\(dir("app"))'; echo x > '\(dir("app/owned"))'; chown 1234:4321 '\(dir("app/owned"))'")
        for (extra, owner) in [([String](), "0/0"), (["--keep-owners"], "1234/4321")] {
            let out = dir("app.xar")
            let result = try Process.run([Self.xarbuild, "dir", dir("app"), "-o", out] + extra, timeout: 120)
            try #require(result.status == 0, "\(result)")
            let listing = try Process.run(["unsquashfs", "-o", "4096", "-lln", out], timeout: 60)
            let line = listing.stdout.split(separator: "\n").first { $0.hasSuffix("squashfs-root/owned") } ?? ""
            #expect(line.contains(" \(owner) "), "\(extra): \(listing.stdout)")
        }
    }
}
