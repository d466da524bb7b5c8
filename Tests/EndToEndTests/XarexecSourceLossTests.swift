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
    /// their own): three, then, once the file `$GO` exists, the other seven. `run.sh quick` reads only the last.
    static let script = """
        #!/bin/sh
        dir=$(dirname "$0")
        if [ "$1" = quick ]; then cksum < "$dir/data/9.bin"; exit 0; fi
        for i in 0 1 2; do cksum < "$dir/data/$i.bin"; done
        while [ ! -e "$GO" ]; do sleep 0.05; done
        for i in 3 4 5 6 7 8 9; do cksum < "$dir/data/$i.bin"; done
        """

    @Test func applicationFinishesAfterItsNetworkSourceIsKilledMidRun() throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let tree = fixture.dir("app.tree")
        try fixture.run(
            "mkdir -p '\(tree)/data' && cat > '\(tree)/run.sh' <<'XAREOF'\n\(Self.script)\nXAREOF\n"
                + "chmod 755 '\(tree)/run.sh' && for i in 0 1 2 3 4 5 6 7 8 9; do "
                + "head -c 200000 /dev/urandom > '\(tree)'/data/$i.bin; done")
        let sums = try fixture.run("for i in 0 1 2 3 4 5 6 7 8 9; do cksum < '\(tree)'/data/$i.bin; done").stdout
        let xar = try fixture.pack(tree: tree, name: "app", target: "run.sh", mountTimeout: 2)

        let source = fixture.dir("source")
        let view = fixture.dir("view")
        try fixture.run("mkdir -p '\(source)' '\(view)' && mv '\(xar)' '\(source)/app.xar'")
        let bindfs = try fixture.run("(bindfs -f '\(source)' '\(view)' </dev/null >/dev/null 2>&1 & echo $!)")
        let bindfsPID = try #require(Int32(bindfs.stdout.split(separator: "\n").first ?? ""))
        defer {
            kill(bindfsPID, SIGKILL)
            umount2(view, Int32(MNT_DETACH))
        }
        #expect(waitUntil(seconds: 10) { mounted(view) })

        // The application runs in the background; its output and status land in files.
        let out = fixture.dir("out")
        let go = fixture.dir("go")
        let env = fixture.environment(["GO": go]).map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        try fixture.run(
            "(env \(env) '\(XarexecFixture.xarexec)' '\(view)/app.xar' > '\(out)' 2>&1; echo $? > '\(out).status') "
                + "</dev/null >/dev/null 2>&1 &")

        let userDirectory = "\(fixture.mountRoot)/uid-\(geteuid())"
        var statePath = ""
        #expect(
            waitUntil(seconds: 20) {
                statePath =
                    (try? Process.shell("ls '\(userDirectory)'/*.state 2>/dev/null", timeout: 10).stdout)?
                    .split(separator: "\n").first.map(String.init) ?? ""
                return !statePath.isEmpty && read(statePath).contains("source=local copy\n")
            }, "the server never switched to its local copy: \(read(statePath))")

        #expect(read("\(out).status").isEmpty, "the application must still be running when its source dies")
        kill(bindfsPID, SIGKILL)
        #expect(waitUntil(seconds: 5) { (try? Process.run(["ls", view], timeout: 5).status) != 0 })
        // Seven of the ten files are read only now, with the source gone.
        let goFD = creat(go, 0o600)
        #expect(goFD >= 0)
        close(goFD)

        #expect(waitUntil(seconds: 30) { !read("\(out).status").isEmpty }, "the application did not finish")
        #expect(read("\(out).status") == "0\n")
        #expect(read(out) == sums)

        let list = try Process.run(
            [TestEnvironment.product("xarctl"), "list"], environment: fixture.environment(), timeout: 30)
        #expect(list.stdout.contains("local copy"), "\(list)")

        // A second start through the existing mount, with the source gone.
        let mountPoint = String(statePath.dropLast(".state".count))
        let again = try Process.run(["\(mountPoint)/run.sh", "quick"], timeout: 10)
        #expect(again.stdout == String(sums.split(separator: "\n").last ?? "") + "\n", "\(again)")
    }

    private func read(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func mounted(_ path: String) -> Bool { read("/proc/self/mountinfo").contains(" \(path) ") }

    private func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        for _ in 0..<Int(seconds * 20) {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}
