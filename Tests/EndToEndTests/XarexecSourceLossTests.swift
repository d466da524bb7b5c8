import Glibc
import Testing
import XarTestSupport

/// Issue 6 end to end: a `.xar` launched from a FUSE file system (bindfs) that is killed while the application
/// still reads files from its image.
@Suite(
    .serialized, .tags(.fuse, .root, .slow),
    .enabled(
        if: TestEnvironment.isRoot && TestEnvironment.hasFuse && XarexecFixture.canBuild
            && TestEnvironment.hasTool("bindfs")))
struct XarexecSourceLossTests {
    /// Prints the checksums of data files read from its image (200 KB of random bytes each, so several blocks of
    /// their own). A file handshake with the test, so nothing depends on how fast either side runs: it reads three
    /// and creates `$READY`; once `$GO` exists it reads the other seven and creates `$DONE`; it exits once `$END`
    /// exists, so the mount stays in use until the test has looked at it. `run.sh quick` reads only the last.
    static let script = """
        #!/bin/sh
        dir=$(dirname "$0")
        if [ "$1" = quick ]; then cksum < "$dir/data/9.bin"; exit 0; fi
        for i in 0 1 2; do cksum < "$dir/data/$i.bin"; done
        : > "$READY"
        while [ ! -e "$GO" ]; do sleep 0.05; done
        for i in 3 4 5 6 7 8 9; do cksum < "$dir/data/$i.bin"; done
        : > "$DONE"
        while [ ! -e "$END" ]; do sleep 0.05; done
        """

    /// How long any one step may take. Generous: CI runs the whole suite in parallel on 2 cores, and each wait
    /// ends as soon as its condition holds, so this only bounds a failure.
    static let patience = 120.0

    @Test func applicationFinishesAfterItsNetworkSourceIsKilledMidRun() throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let tree = fixture.dir("app.tree")
        try fixture.run(
            "mkdir -p '\(tree)/data' && cat > '\(tree)/run.sh' <<'XAREOF'\n\(Self.script)\nXAREOF\n"
                + "chmod 755 '\(tree)/run.sh' && for i in 0 1 2 3 4 5 6 7 8 9; do "
                + "head -c 200000 /dev/urandom > '\(tree)'/data/$i.bin; done")
        let sums = try fixture.run("for i in 0 1 2 3 4 5 6 7 8 9; do cksum < '\(tree)'/data/$i.bin; done").stdout
        // No idle unmount while the test runs (unmountAll ends the server); the application keeps it in use anyway.
        let xar = try fixture.pack(tree: tree, name: "app", target: "run.sh", mountTimeout: 600)

        let source = fixture.dir("source")
        let view = fixture.dir("view")
        try fixture.run("mkdir -p '\(source)' '\(view)' && mv '\(xar)' '\(source)/app.xar'")
        let bindfs = try fixture.run("(bindfs -f '\(source)' '\(view)' </dev/null >/dev/null 2>&1 & echo $!)")
        let bindfsPID = try #require(Int32(bindfs.stdout.split(separator: "\n").first ?? ""))
        let (ready, go, done, end) = (fixture.dir("ready"), fixture.dir("go"), fixture.dir("done"), fixture.dir("end"))
        defer {
            // Whatever failed, the application finishes and the source goes.
            touch(go)
            touch(end)
            kill(bindfsPID, SIGKILL)
            umount2(view, Int32(MNT_DETACH))
        }
        try #require(waitUntil { mounted(view) }, "bindfs did not mount \(view)")

        // The application runs in the background (bounded by timeout(1)); its output and status land in files.
        let out = fixture.dir("out")
        let env = fixture.environment(["READY": ready, "GO": go, "DONE": done, "END": end])
            .map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        try fixture.run(
            "(timeout \(Int(Self.patience) * 4) env \(env) '\(XarexecFixture.xarexec)' '\(view)/app.xar' "
                + "> '\(out)' 2>&1; echo $? > '\(out).status') </dev/null >/dev/null 2>&1 &")
        try #require(
            waitUntil { exists(ready) || !read("\(out).status").isEmpty },
            "the application did not start: \(read(out))")
        try #require(read("\(out).status").isEmpty, "the application ended early: \(read(out))")

        let userDirectory = "\(fixture.mountRoot)/uid-\(geteuid())"
        var statePath = ""
        try #require(
            waitUntil {
                statePath =
                    (try? Process.shell("ls '\(userDirectory)'/*.state 2>/dev/null", timeout: 30).stdout)?
                    .split(separator: "\n").first.map(String.init) ?? ""
                return !statePath.isEmpty && read(statePath).contains("source=local copy\n")
            }, "the server never switched to its local copy: \(read(statePath))")

        kill(bindfsPID, SIGKILL)
        #expect(waitUntil { (try? Process.run(["ls", view], timeout: 30).status) != 0 }, "the source is still there")
        // Seven of the ten files are read only now, with the source gone.
        touch(go)
        try #require(
            waitUntil { exists(done) || !read("\(out).status").isEmpty }, "the application did not finish reading")
        #expect(read(out) == sums)

        // While the application still runs (so the mount is certainly there): what xarctl shows, and a second
        // start through the existing mount, with the source gone.
        let list = try Process.run(
            [TestEnvironment.product("xarctl"), "list"], environment: fixture.environment(), timeout: Self.patience)
        #expect(list.stdout.contains("local copy"), "\(list)")
        let mountPoint = String(statePath.dropLast(".state".count))
        let again = try Process.run(["\(mountPoint)/run.sh", "quick"], timeout: Self.patience)
        #expect(again.stdout == String(sums.split(separator: "\n").last ?? "") + "\n", "\(again)")

        touch(end)
        #expect(waitUntil { !read("\(out).status").isEmpty }, "the application did not exit")
        #expect(read("\(out).status") == "0\n", "\(read(out))")
    }

    private func touch(_ path: String) {
        let fd = creat(path, 0o600)
        if fd >= 0 { close(fd) }
    }

    private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    private func read(_ path: String) -> String { TestFiles.readText(path) }

    private func mounted(_ path: String) -> Bool { read("/proc/self/mountinfo").contains(" \(path) ") }

    /// Polls `condition` every 50 ms until it holds or `seconds` of wall-clock time have passed (a deadline, not a
    /// count of polls: a condition that runs a process can take far longer than 50 ms on a busy machine).
    private func waitUntil(seconds: Double = patience, _ condition: () -> Bool) -> Bool {
        let deadline = now() + seconds
        while now() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
