import Glibc
import Testing
import XarTestSupport

/// Without FUSE the launcher runs the image from a per-user content-addressed extraction.
@Suite(.enabled(if: XarexecFixture.canBuild))
struct XarexecExtractionTests {
    func noFuse(_ fixture: XarexecFixture, quiet: Bool = false) -> [String: String] {
        var env = ["XAR_FUSE_DEVICE": fixture.dir("no-such-fuse"), "XDG_CACHE_HOME": fixture.dir("cache")]
        if quiet { env["XAR_QUIET"] = "1" }
        return env
    }

    @Test func withoutFuseTheImageRunsFromAnExtractionThatLaterRunsReuse() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let first = try fixture.xarexec([xar, "one", "exit", "7"], env: noFuse(fixture))
        #expect(first.status == 7, "\(first)")
        #expect(first.stdout.contains("argv[0]=\(xar)\nargv[1]=one\n"))
        #expect(first.stderr.contains("FUSE is unavailable"))
        #expect(first.stderr.contains("extracted copy in \(fixture.dir("cache"))/xar/extract/"))
        #expect(try fixture.mountCount() == 0)
        // Cut the image off after its header: a second run that read it would fail.
        try fixture.run("truncate -s 4096 \(xar)")
        let second = try fixture.xarexec([xar, "two"], env: noFuse(fixture))
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout.contains("argv[1]=two"))
        #expect(second.stderr.isEmpty)
        let entries = try fixture.run("ls -A \(fixture.dir("cache"))/xar/extract").stdout.split(separator: "\n")
        #expect(entries.count == 1)
    }

    /// A container as root without CAP_SYS_ADMIN: /dev/fuse opens, but neither mount(2) nor the setuid
    /// fusermount3 may mount. The launcher runs the image from the extraction cache, with the same notice.
    @Test(.enabled(if: geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0))
    func whereMountingIsNotPermittedTheImageRunsFromTheExtractionCache() throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeShowXar("t")
        let result = try Process.run(
            [
                "/usr/bin/setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", XarexecFixture.xarexec, xar,
                "one",
            ],
            environment: fixture.environment(["XDG_CACHE_HOME": fixture.dir("cache")]), timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("argv[1]=one"))
        #expect(result.stderr.contains("FUSE is unavailable (mounting is not permitted here: no CAP_SYS_ADMIN)"))
        #expect(result.stderr.split(whereSeparator: \.isNewline).count == 1)
        #expect(try fixture.mountCount() == 0)
    }

    @Test func quietSuppressesTheFallbackNotice() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let result = try fixture.xarexec([xar], env: noFuse(fixture, quiet: true))
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
    }

    @Test(.tags(.slow)) func simultaneousFirstRunsShareOneCompleteExtraction() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        var env = noFuse(fixture, quiet: true)
        env["XAREXEC"] = XarexecFixture.xarexec
        env["XAR"] = xar
        let script =
            "for i in $(seq 16); do \"$XAREXEC\" \"$XAR\" exit 3 >/dev/null & done; "
            + "fails=0; for j in $(jobs -p); do wait $j; [ $? -eq 3 ] || fails=$((fails+1)); done; echo fails=$fails"
        let result = try Process.run(["/bin/bash", "-c", script], environment: fixture.environment(env), timeout: 120)
        #expect(result.stdout.contains("fails=0"), "\(result)")
        let entries = try fixture.run("ls -A \(fixture.dir("cache"))/xar/extract").stdout.split(separator: "\n")
        #expect(entries.count == 1, "leftover temporary directories: \(entries)")
    }

    @Test func aCorruptImageIsAnErrorAndLeavesNothingBehind() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        // Zero the superblock's table pointers (bytes 4096+40…4096+96).
        try fixture.run("dd if=/dev/zero of=\(xar) bs=1 seek=4136 count=56 conv=notrunc status=none")
        let result = try fixture.xarexec([xar], env: noFuse(fixture, quiet: true))
        #expect(result.status == 120, "\(result)")
        #expect(result.stderr.hasPrefix("xarexec: error: cannot extract \(xar):"))
        let entries = try fixture.run("ls -A \(fixture.dir("cache"))/xar/extract").stdout
        #expect(entries.isEmpty)
    }

    @Test func withoutFuseNoMountRootIsNeeded() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        var env = noFuse(fixture, quiet: true)
        env["XAR_MOUNT_ROOT"] = fixture.dir("no-such-root")
        let result = try fixture.xarexec([xar, "exit", "6"], env: env)
        #expect(result.status == 6, "\(result)")
    }

    @Test func mountOnlyWithoutFuseIsAnError() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let result = try fixture.xarexec(["-m", xar], env: noFuse(fixture))
        #expect(result.status == 122, "\(result)")
        #expect(result.stderr.contains("cannot mount"))
    }

    /// Names are bytes: `x\xff` is not UTF-8, and decoding it would turn it into `x\u{FFFD}`, which is the other
    /// name here, so a lossy extractor changes the first name and collides with the second.
    @Test func namesThatAreNotUTF8ExtractByteForByte() throws {
        let fixture = try XarexecFixture()
        let tree = fixture.dir("bytes.tree")
        try fixture.run(
            "set -e; mkdir -p '\(tree)/d'; cd '\(tree)'; "
                + "printf '#!/bin/sh\\ncat \"$(dirname \"$0\")\"/d/*\\n' > run; chmod 0755 run; "
                + "printf raw > \"d/$(printf 'x\\377')\"; printf utf8 > \"d/$(printf 'x\\357\\277\\275')\"; "
                + "mkdir \"$(printf 'e\\376')\"; ln -s \"$(printf 'd/x\\377')\" \"$(printf 'l\\375')\"")
        let xar = try fixture.pack(tree: tree, name: "bytes", target: "run")
        let out = fixture.dir("out")
        let result = try Process.run([XarctlTests.xarctl, "extract", xar, out], timeout: 60)
        #expect(result.status == 0, "\(result)")
        // Every name (as `od` escapes), its type and link target, then the non-UTF-8 file's content.
        let listing = "cd \"$1\" && find . -printf '%p %y %l\\n' | LC_ALL=C sort | od -c; cat \"$(printf 'd/x\\377')\""
        let want = try Process.run(["/bin/sh", "-c", listing, "sh", tree], timeout: 60)
        let got = try Process.run(["/bin/sh", "-c", listing, "sh", out], timeout: 60)
        #expect(want.status == 0 && want.stdout.hasSuffix("raw"), "\(want)")
        #expect(got.stdout == want.stdout, "\(got)")
        // The launcher's no-FUSE fallback runs the same extractor.
        let run = try fixture.xarexec([xar], env: noFuse(fixture, quiet: true))
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout == "rawutf8" || run.stdout == "utf8raw", "\(run)")
    }
}
