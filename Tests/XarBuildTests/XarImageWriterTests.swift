import Glibc
import SystemPackage
import Testing
import XarBuild
import XarCompression
import XarFormat
import XarTestSupport

/// `XarImageWriter`: reproducible output, owners and times, the header and digest, and failures that name the
/// path and leave nothing behind.
@Suite("XarImageWriter")
struct XarImageWriterTests {
    typealias T = ImageTestSupport

    /// The same tree, created in opposite orders in differently named directories, built with 1 and 2 threads
    /// under different umasks, time zones and locales, gives the same image bytes.
    @Test func rebuildsAreByteIdenticalAcrossThreadsOrderUmaskAndTimeZone() throws {
        let dir = TemporaryDirectory()
        for (name, reversed) in [("first", false), ("second-tree", true)] {
            try T.sh("mkdir -p '\(dir(name))'")
            var indices = Array(0..<300)
            if reversed { indices.reverse() }
            for i in indices {
                try T.sh("mkdir -p '\(dir(name))/d\(i % 7)'")
                try T.writeFile("\(dir(name))/d\(i % 7)/f\(i).py", T.text(100 + i * 37, seed: UInt64(i)))
            }
            try T.makeMixedTree(dir("\(name)/mixed"), blockSize: 4096)
            try T.sh("find '\(dir(name))' -exec touch -h -d @1650000000 {} +")
        }
        let options = { (threads: Int) in
            XarImageOptions(compression: .zstd(level: 3), blockSize: 4096, threads: threads)
        }
        let a = try T.build(dir("first"), dir("a.xar"), options(1))
        // The other build runs in a child process (`xarbuild dir`), where umask, time zone and locale can differ
        // without touching the test process's own, which other tests share.
        let xarbuild = TestEnvironment.product("xarbuild")
        try T.sh(
            "umask 077 && cd '\(dir(""))' && TZ=Asia/Kolkata LC_ALL=C.UTF-8 LANG=de_DE.UTF-8 '\(xarbuild)' dir second-tree "
                + "-o b.xar --compression zstd --level 3 --block-size 4096 --threads 2 2>/dev/null")
        let digest = try T.sh("tail -c +4097 '\(dir("b.xar"))' | sha256sum | cut -d' ' -f1")
        #expect(digest == a.sha256 + "\n")
        if digest != a.sha256 + "\n" {
            // Say what differs: the trees as the readers see them, then the images' inode tables.
            let diff = try Process.run(
                [
                    "/bin/bash", "-c",
                    "diff <(unsquashfs -o 4096 -lln '\(dir("a.xar"))') <(unsquashfs -o 4096 -lln '\(dir("b.xar"))'); "
                        + "diff <(cd '\(dir("first"))' && find . -printf '%p %m %n %s %T@\\n' | sort) "
                        + "<(cd '\(dir("second-tree"))' && find . -printf '%p %m %n %s %T@\\n' | sort)",
                ], timeout: 120)
            Issue.record("the images differ:\n\(diff.stdout)")
        }
        #expect(
            try T.sh("cmp <(tail -c +4097 '\(dir("a.xar"))') <(tail -c +4097 '\(dir("b.xar"))') && echo same")
                == "same\n")
        let c = try T.build(dir("first"), dir("c.xar"), options(2))
        #expect(c.sha256 == a.sha256)
    }

    /// The summary's digest is the SHA-256 of the bytes after the 4096-byte header, as `sha256sum` sees them;
    /// the header is exactly what the callback returned; the mode follows `executable` (the temporary file is
    /// created 0600).
    @Test func headerDigestAndModeAreWhatTheCallerAskedFor() throws {
        let dir = TemporaryDirectory()
        try T.makeMixedTree(dir("in"), blockSize: 131_072)
        var seen: [String] = []
        let summary = try {
            try XarImageWriter.write(
                directory: FilePath(dir("in")), options: XarImageOptions(compression: .xz(bcj: false)),
                to: FilePath(dir("out.xar")), executable: true, progress: nil,
                header: {
                    seen.append($0); return T.header($0)
                })
        }()
        let digest = try T.sh("tail -c +4097 '\(dir("out.xar"))' | sha256sum | cut -d' ' -f1")
        #expect(seen == [summary.sha256])
        #expect(digest == summary.sha256 + "\n")
        #expect(try T.sh("stat -c %a '\(dir("out.xar"))'") == "755\n")
        #expect(summary.outputBytes == summary.imageBytes + 4096)
        #expect(summary.imageBytes % 4096 == 0)
        #expect(try T.sh("stat -c %s '\(dir("out.xar"))'") == "\(summary.outputBytes)\n")
        #expect(summary.fileCount == 16)  // hard links count once
        var sha = SHA256()
        sha.update(T.header(summary.sha256))
        #expect(try T.sh("head -c 4096 '\(dir("out.xar"))' | sha256sum | cut -d' ' -f1") == sha.finalizeHex() + "\n")

        _ = try XarImageWriter.write(
            directory: FilePath(dir("in")), options: XarImageOptions(), to: FilePath(dir("plain.xar")),
            executable: false, progress: nil, header: T.header)
        #expect(try T.sh("stat -c %a '\(dir("plain.xar"))'") == "644\n")
        #expect(try T.sh("ls -A '\(dir(""))'") == "in\nout.xar\nplain.xar\n")
    }

    /// `SOURCE_DATE_EPOCH` clamps newer mtimes and becomes the superblock's time; older mtimes stay.
    @Test(.enabled(if: TestEnvironment.hasTool("unsquashfs")), .tags(.oracle))
    func sourceDateEpochClampsMtimes() throws {
        let dir = TemporaryDirectory()
        try T.makeMixedTree(dir("in"), blockSize: 4096)
        try T.build(dir("in"), dir("out.xar"), XarImageOptions(blockSize: 4096, sourceDateEpoch: 1_650_000_000))
        let manifest = try T.unsquashfsManifest(dir("out.xar"))
        #expect(manifest.contains("./a/small.py|f|644|0|0|1650000000.0000000000|3|100|"))
        #expect(manifest.contains("./with space|f|4755|0|0|1600000000.0000000000|1|10|"))
        let superblockTime = try T.sh("od -An -tu4 -j $((4096 + 8)) -N4 '\(dir("out.xar"))' | tr -d ' '")
        #expect(superblockTime == "1650000000\n")
    }

    /// Owners are root unless kept; kept owners with many distinct uids and gids come back exactly.
    @Test(.enabled(if: TestEnvironment.isRoot && TestEnvironment.hasTool("unsquashfs")), .tags(.oracle, .root))
    func ownersAreRootUnlessKept() throws {
        let dir = TemporaryDirectory()
        try T.sh("mkdir '\(dir("in"))'")
        for i in 0..<400 {
            try T.writeFile(dir("in/f\(i)"), T.text(10, seed: UInt64(i)))
            _ = chown(dir("in/f\(i)"), uid_t(1000 + i), gid_t(5000 + i * 3))
        }
        try T.sh("find '\(dir("in"))' -exec touch -h -d @1600000000 {} +")
        try T.build(dir("in"), dir("kept.xar"), XarImageOptions(keepOwners: true))
        try T.build(dir("in"), dir("root.xar"), XarImageOptions())
        #expect(try T.unsquashfsManifest(dir("kept.xar")) == T.manifest(dir("in")))
        let rootOwned = try T.sh("unsquashfs -o 4096 -lln '\(dir("root.xar"))' | awk '{print $2}' | sort -u")
        #expect(rootOwned == "0/0\n")
    }

    /// Our image and gensquashfs's / mksquashfs's of the same tree hold the same files, per `sqfsdiff`
    /// (contents, owners, permissions, inode forms; timestamps too against mksquashfs).
    @Test(
        .enabled(if: TestEnvironment.hasTool("sqfsdiff") && TestEnvironment.hasTool("gensquashfs")),
        .tags(.oracle))
    func sqfsdiffFindsNoDifferenceFromThePeers() throws {
        let dir = TemporaryDirectory()
        try T.makeMixedTree(dir("in"), blockSize: 131_072)
        // The peers choose other inode forms for hard links and all-zero blocks (sqfsdiff compares the forms),
        // gensquashfs reads no fifos and keeps no time on the root: the mount tests cover those.
        try T.sh("cd '\(dir("in"))' && rm fifo hardlink a/b/hardlink2 a/b/c/zeros")
        try T.build(dir("in"), dir("ours.xar"), XarImageOptions(compression: .zstd(level: 15)))
        try T.sh("tail -c +4097 '\(dir("ours.xar"))' > '\(dir("ours.sqfs"))'")
        try T.sh(
            "gensquashfs --pack-dir '\(dir("in"))' --keep-time --all-root -c zstd -q '\(dir("gen.sqfs"))' "
                + "&& mksquashfs '\(dir("in"))' '\(dir("mk.sqfs"))' -all-root -comp zstd -quiet -no-progress")
        for (peer, flags) in [("gen.sqfs", [String]()), ("mk.sqfs", ["-T"])] {
            let result = try Process.run(
                ["sqfsdiff"] + flags + ["-a", dir("ours.sqfs"), "-b", dir(peer)], timeout: 120)
            #expect(result.status == 0, "\(peer): \(result)")
        }
    }

    /// `sortFirst` puts a file's data first (right after the superblock), then the rest in directory order;
    /// with no compression the bytes are visible as they are.
    @Test func sortFirstPlacesDataFirst() throws {
        let dir = TemporaryDirectory()
        try T.sh("mkdir -p '\(dir("in/a"))' '\(dir("in/z"))'")
        try T.writeFile(dir("in/a/first-by-name"), Array(repeating: 0x61, count: 5000))
        try T.writeFile(dir("in/z/wanted-first"), Array(repeating: 0x7a, count: 5000))
        let options = { (sort: [String]) in
            XarImageOptions(compression: .none, blockSize: 4096, sortFirst: sort)
        }
        try T.build(dir("in"), dir("sorted.xar"), options(["./z/wanted-first"]))
        try T.build(dir("in"), dir("plain.xar"), options([]))
        let image = { (name: String) in try T.sh("tail -c +$((4096 + 96 + 1)) '\(dir(name))' | head -c 4") }
        #expect(try image("sorted.xar") == "zzzz")
        #expect(try image("plain.xar") == "aaaa")
        try T.build(dir("in"), dir("by-dir.xar"), options(["z"]))
        #expect(try image("by-dir.xar") == "zzzz")
    }
}
