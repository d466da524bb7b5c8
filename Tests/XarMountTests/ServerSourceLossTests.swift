import Glibc
import Testing
import XarMount
import XarSystem
import XarTestSupport

/// Source loss (issue 6): the image served from a FUSE file system that the test takes away with `kill -9`.
@Suite(
    .serialized, .tags(.fuse, .root),
    .enabled(
        if: TestEnvironment.isRoot && TestEnvironment.hasFuse && TestEnvironment.hasTool("mksquashfs")
            && TestEnvironment.hasTool("bindfs")))
struct ServerSourceLossTests {
    /// A `bindfs` view of the harness's directory: a real FUSE file system whose daemon can be killed.
    final class NetworkView {
        let directory = TemporaryDirectory(prefix: "xar-view")
        let path: String
        let pid: Int32

        init(of source: String) throws {
            path = directory("view")
            let started = try Process.shell(
                "mkdir '\(path)' && (bindfs -f '\(source)' '\(path)' </dev/null >/dev/null 2>&1 & echo $!)",
                timeout: 10)
            guard let pid = Int32(started.stdout.split(separator: "\n").first ?? "") else {
                throw HarnessError("cannot start bindfs: \(started)")
            }
            self.pid = pid
            var mounted = false
            for _ in 0..<200 where !mounted {
                mounted = ServerHarness.contents("/proc/self/mountinfo").contains(" \(path) ")
                if !mounted { usleep(25_000) }
            }
            guard mounted else { throw HarnessError("bindfs did not mount \(path)") }
        }

        /// Takes the file system away as a crash or a network partition would.
        func kill() {
            Glibc.kill(pid, SIGKILL)
            for _ in 0..<200 where !ServerHarness.isGone(pid) { usleep(25_000) }
        }

        deinit {
            Glibc.kill(pid, SIGKILL)
            umount2(path, Int32(MNT_DETACH))
        }
    }

    private func waitForSource(_ harness: ServerHarness, _ expected: String, seconds: Double = 20) -> Bool {
        harness.wait(seconds: seconds) { XarMount.ServerState.read(from: harness.statePath)?.readSource == expected }
    }

    @Test func mountKeepsWorkingAfterTheSourceDiesOnceTheLocalCopyIsIn() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let view = try NetworkView(of: harness.directory.path)
        harness.servedImagePath = "\(view.path)/app.xar"
        #expect(try harness.start(idleTimeout: 0).line == "ok", "\(harness.log)")
        #expect(waitForSource(harness, "local copy"), "\(harness.log)")
        let copy = "\(harness.cacheDirectory)/\(harness.digest).xar"
        #expect(XarMount.ServerState.read(from: harness.statePath)?.copyPath == copy)
        #expect(try Process.run(["cmp", copy, harness.imagePath], timeout: 30).status == 0)

        view.kill()
        #expect(XarMount.MountTable.isDead(view.path), "the source must really be gone")
        // Nothing was read through the mount before: every block now comes from the copy.
        let mount = harness.mountPoint
        #expect(
            try Process.run(["cmp", "\(mount)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"], timeout: 30)
                .status == 0)
        #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
        #expect(try Process.run(["\(mount)/run.sh"], timeout: 10).stdout == "run\n")
        #expect(XarMount.ServerState.read(from: harness.statePath)?.readSource == "local copy")
    }

    @Test func readsFailPromptlyWithoutACopyAndTheServerStaysUp() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let view = try NetworkView(of: harness.directory.path)
        harness.servedImagePath = "\(view.path)/app.xar"
        #expect(try harness.start(idleTimeout: 0, localCopy: .never).line == "ok", "\(harness.log)")
        let pid = try #require(harness.serverPID)
        view.kill()
        let read = try Process.run(["cat", "\(harness.mountPoint)/lib/pkg/data.bin"], timeout: 10)
        #expect(!read.timedOut)
        #expect(read.status != 0)
        #expect(read.stderr.contains("Input/output error"), "\(read)")
        #expect(ProcessStatus.read(pid: pid)?.isResponsive == true)
        #expect(!XarMount.MountTable.isDead(harness.mountPoint))
        #expect(XarMount.ServerState.read(from: harness.statePath)?.readSource == "source")
    }

    @Test func sourceLostBeforeTheCopyFinishesFailsReadsPromptlyAndTheCopyKeepsTrying() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let view = try NetworkView(of: harness.directory.path)
        harness.servedImagePath = "\(view.path)/app.xar"
        // The copy waits XAR_LOCAL_COPY_DELAY after the mount before it reads anything; the source goes away first.
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_LOCAL_COPY_DELAY": "2"])
        #expect(start.line == "ok", "\(harness.log)")
        view.kill()
        let pid = try #require(harness.serverPID)
        let read = try Process.run(["cat", "\(harness.mountPoint)/lib/pkg/data.bin"], timeout: 10)
        #expect(!read.timedOut)
        #expect(read.stderr.contains("Input/output error"), "\(read)")
        #expect(harness.wait(seconds: 10) { harness.log.contains("waiting for a new one") }, "\(harness.log)")
        #expect(ProcessStatus.read(pid: pid)?.isResponsive == true)
        #expect(waitForSource(harness, "source lost, 0% copied"), "\(harness.log)")
        let left = try Process.run(["ls", "-A", harness.cacheDirectory], timeout: 10).stdout
        #expect(!left.contains("\(harness.digest).xar\n"), "no unverified copy under the final name")
        // Stopping the server removes the unfinished copy.
        kill(pid, SIGTERM)
        #expect(harness.wait(seconds: 10) { ServerHarness.isGone(pid) })
        #expect(try Process.run(["ls", "-A", harness.cacheDirectory], timeout: 10).stdout == "")
    }

    /// Healing: a file offered in `<mount>.source` is hashed; one that is not the image is refused, one with the
    /// same identity becomes the source, and the copy completes from it.
    @Test func aLostSourceHealsFromAnOfferedFileWithTheSameIdentity() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let view = try NetworkView(of: harness.directory.path)
        harness.servedImagePath = "\(view.path)/app.xar"
        let start = try harness.start(idleTimeout: 0, environment: ["XAR_LOCAL_COPY_DELAY": "1"])
        #expect(start.line == "ok", "\(harness.log)")
        view.kill()
        #expect(waitForSource(harness, "source lost, 0% copied"), "\(harness.log)")
        // An impostor of the same size: refused after hashing.
        let impostor = harness.directory("impostor.xar")
        let size = try #require(
            Int(
                try Process.run(["stat", "-c", "%s", harness.imagePath], timeout: 10).stdout
                    .filter(\.isNumber)))
        try #require(
            try Process.shell("head -c \(size) /dev/urandom > '\(impostor)'", timeout: 30).status == 0)
        let offer = harness.mountPoint + ".source"
        try SmallFile.replace(offer, with: Array("\(impostor)\n".utf8))
        #expect(harness.wait(seconds: 20) { harness.log.contains("not taken as the new source") }, "\(harness.log)")
        #expect(XarMount.ServerState.read(from: harness.statePath)?.readSource.hasPrefix("source lost") == true)
        // The real file: taken, and the copy completes from it.
        try SmallFile.replace(offer, with: Array("\(harness.imagePath)\n".utf8))
        #expect(waitForSource(harness, "local copy"), "\(harness.log)")
        #expect(harness.log.contains("the source is now \(harness.imagePath)"))
        #expect(
            try Process.run(
                ["cmp", "\(harness.mountPoint)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"], timeout: 30
            ).status == 0)
    }

    @Test func replacingTheImageByRenameDoesNotDisturbTheMount() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0, localCopy: .never).line == "ok")
        // A deployment tool writes the new version next to the old one and renames it over the path.
        let new = harness.directory("new")
        let replaced = try Process.shell(
            """
            set -e
            mkdir -p '\(new)/lib/pkg'
            printf 'new version\\n' > '\(new)/hello.txt'
            head -c 1000000 /dev/urandom > '\(new)/lib/pkg/data.bin'
            mksquashfs '\(new)' '\(new).sqfs' -comp zstd -quiet -noappend -no-progress
            head -c 4096 /dev/zero > '\(harness.imagePath).tmp'
            cat '\(new).sqfs' >> '\(harness.imagePath).tmp'
            mv '\(harness.imagePath).tmp' '\(harness.imagePath)'
            """, timeout: 60)
        try #require(replaced.status == 0, "\(replaced)")
        let mount = harness.mountPoint
        #expect(ServerHarness.contents("\(mount)/hello.txt") == "hello from the image\n")
        #expect(
            try Process.run(["cmp", "\(mount)/lib/pkg/data.bin", "\(harness.tree)/lib/pkg/data.bin"], timeout: 30)
                .status == 0)
        #expect(access("\(mount)/run.sh", X_OK) == 0)
    }

    @Test func localSourceIsCopiedOnlyWhenThePolicySaysAlways() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        #expect(try harness.start(idleTimeout: 0).line == "ok")
        usleep(1_000_000)
        #expect(XarMount.ServerState.read(from: harness.statePath)?.readSource == "source")
        #expect(access(harness.cacheDirectory, F_OK) != 0)
        harness.tearDown()

        let again = try ServerHarness()
        defer { again.tearDown() }
        #expect(try again.start(idleTimeout: 0, localCopy: .always).line == "ok")
        #expect(waitForSource(again, "local copy"), "\(again.log)")
    }

    @Test func copyThatDoesNotMatchTheDigestIsNeverUsed() throws {
        let harness = try ServerHarness()
        defer { harness.tearDown() }
        let wrong = String(repeating: "0", count: 64)
        #expect(try harness.start(idleTimeout: 0, localCopy: .always, digest: wrong).line == "ok")
        #expect(harness.wait(seconds: 20) { harness.log.contains("not the header's") }, "\(harness.log)")
        #expect(waitForSource(harness, "source"))
        let left = try Process.run(["ls", "-A", harness.cacheDirectory], timeout: 10).stdout
        #expect(left == "", "a wrong copy must not stay in the cache")
    }
}
