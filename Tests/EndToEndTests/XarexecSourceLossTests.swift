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

    /// Reads 40 files of 500 KB (20 MB of random bytes) one after another, 0.12 s apart (~5 s), printing each
    /// one's checksum; creates `$READY` first. `run.sh one N` prints only file N's checksum.
    static let reader = """
        #!/bin/sh
        dir=$(dirname "$0")
        if [ "$1" = one ]; then cksum < "$dir/data/$2.bin"; exit 0; fi
        : > "$READY"
        i=0
        while [ $i -lt 40 ]; do cksum < "$dir/data/$i.bin"; sleep 0.12; i=$((i + 1)); done
        """

    /// A 20 MB image on bindfs, a launch from it, the application running; returns what the test needs.
    private func launchFromNetwork(
        _ fixture: XarexecFixture, env extra: [String: String] = [:]
    ) throws -> (xar: String, sums: String, bindfs: Int32, view: String, out: String, ready: String) {
        let tree = fixture.dir("app.tree")
        try fixture.run(
            "mkdir -p '\(tree)/data' && cat > '\(tree)/run.sh' <<'XAREOF'\n\(Self.reader)\nXAREOF\n"
                + "chmod 755 '\(tree)/run.sh' && for i in $(seq 0 39); do "
                + "head -c 500000 /dev/urandom > '\(tree)'/data/$i.bin; done")
        let sums = try fixture.run("for i in $(seq 0 39); do cksum < '\(tree)'/data/$i.bin; done").stdout
        let xar = try fixture.pack(tree: tree, name: "app", target: "run.sh", mountTimeout: 600)
        let source = fixture.dir("source")
        let view = fixture.dir("view")
        try fixture.run("mkdir -p '\(source)' '\(view)' && cp '\(xar)' '\(source)/app.xar'")
        let bindfs = try fixture.run("(bindfs -f '\(source)' '\(view)' </dev/null >/dev/null 2>&1 & echo $!)")
        let bindfsPID = try #require(Int32(bindfs.stdout.split(separator: "\n").first ?? ""))
        try #require(waitUntil { mounted(view) }, "bindfs did not mount \(view)")
        let out = fixture.dir("out")
        let ready = fixture.dir("ready")
        let env = fixture.environment(extra.merging(["READY": ready]) { $1 })
            .map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        try fixture.run(
            "(timeout \(Int(Self.patience) * 2) env \(env) '\(XarexecFixture.xarexec)' '\(view)/app.xar' "
                + "> '\(out)' 2>&1; echo $? > '\(out).status') </dev/null >/dev/null 2>&1 &")
        return (xar, sums, bindfsPID, view, out, ready)
    }

    /// The copy runs at the source's speed and reads through: the source killed 0.5 s or 2 s into an application
    /// that reads 20 MB over ~5 s, the application still finishes with the right output.
    @Test(arguments: [0.5, 2.0])
    func applicationReadingTwentyMegabytesFinishesWhenItsSourceIsKilledEarly(after seconds: Double) throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let run = try launchFromNetwork(fixture)
        defer {
            kill(run.bindfs, SIGKILL)
            umount2(run.view, Int32(MNT_DETACH))
        }
        try #require(
            waitUntil { exists(run.ready) || !read("\(run.out).status").isEmpty },
            "the application did not start: \(read(run.out))")
        usleep(UInt32(seconds * 1e6))
        kill(run.bindfs, SIGKILL)
        #expect(waitUntil { !read("\(run.out).status").isEmpty }, "the application did not finish")
        #expect(read("\(run.out).status") == "0\n", "\(read(run.out))")
        #expect(read(run.out) == run.sums)
    }

    /// Healing: the source lost before the copy was done (held back here), a launch of the same image from a
    /// local path works (the mount takes that file as its new source), and so do later launches through the mount.
    @Test func aLaunchFromAHealthyFileHealsAnOrphanedMount() throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let run = try launchFromNetwork(fixture, env: ["XAR_LOCAL_COPY_DELAY": "3"])
        defer {
            kill(run.bindfs, SIGKILL)
            umount2(run.view, Int32(MNT_DETACH))
        }
        try #require(waitUntil { exists(run.ready) }, "the application did not start: \(read(run.out))")
        kill(run.bindfs, SIGKILL)
        #expect(waitUntil { !read("\(run.out).status").isEmpty }, "the application did not finish")
        // The copier starts (3 s after the mount, held back) and finds the source gone.
        var list = ""
        #expect(
            waitUntil(seconds: 30) {
                list =
                    (try? Process.run(
                        [TestEnvironment.product("xarctl"), "list"], environment: fixture.environment(), timeout: 30))?
                    .stdout ?? ""
                return list.contains("source lost, ")
            }, "\(list)")
        // The same image from a local path, while the orphaned mount exists.
        let second = try fixture.xarexec([run.xar, "one", "39"], env: ["READY": fixture.dir("ready2")], timeout: 60)
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout == String(run.sums.split(separator: "\n").last ?? "") + "\n", "\(second)")
        // Later launches through the healed mount read everything right.
        let third = try fixture.xarexec([run.xar], env: ["READY": fixture.dir("ready3")], timeout: 60)
        #expect(third.status == 0, "\(third)")
        #expect(third.stdout == run.sums)
        let after = try Process.run(
            [TestEnvironment.product("xarctl"), "list"], environment: fixture.environment(), timeout: Self.patience)
        #expect(!after.stdout.contains("source lost"), "\(after)")
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
