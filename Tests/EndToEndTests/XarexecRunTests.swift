import Glibc
import Testing
import XarTestSupport

/// Running a `.xar` through a real FUSE mount behaves like running the program itself.
@Suite(.enabled(if: XarexecFixture.canBuild && TestEnvironment.hasFuse), .tags(.fuse))
struct XarexecRunTests {
    @Test func argvExitStatusAndStdinReachTheProgram() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let result = try fixture.xarexec([xar, "a b", "", "cat", "exit", "42"], stdin: "from stdin\n")
        #expect(result.status == 42, "\(result)")
        #expect(result.stdout.hasPrefix("argv[0]=\(xar)\nargv[1]=a b\nargv[2]=\nargv[3]=cat\n"))
        #expect(result.stdout.hasSuffix("from stdin\n"))
        #expect(result.stderr.isEmpty)
        #expect(try fixture.mountCount() == 1)
        let again = try fixture.xarexec([xar, "exit", "0"])
        #expect(again.status == 0)
        #expect(try fixture.mountCount() == 1)
    }

    /// The hot path asks the server nothing: the server's state file names its mount's device number, which the
    /// launcher compares with the mount point's instead of asking `statfs` (a round trip that wakes the server).
    @Test func aHotLaunchSendsTheServerNoRequest() throws {
        let fixture = try XarexecFixture()
        defer { fixture.unmountAll() }
        let xar = try fixture.makeShowXar("t")
        let log = fixture.dir("server.log")
        let env = ["XAR_SERVER_TRACE": "1", "XAR_SERVER_LOG": log]
        // The first launch mounts; the second may still fetch the mount root's attributes once.
        for _ in 0..<2 { #expect(try fixture.xarexec([xar, "exit", "0"], env: env).status == 0) }
        let requests = { (try? fixture.run("grep -c '^request ' '\(log)' || true").stdout) ?? "?" }
        let before = requests()
        for _ in 0..<3 { #expect(try fixture.xarexec([xar, "exit", "0"], env: env).status == 0) }
        #expect(requests() == before, "\((try? fixture.run("cat '\(log)'").stdout) ?? "")")
        let state = try fixture.run("cat \(fixture.mountRoot)/uid-\(getuid())/*.state").stdout
        #expect(state.split(separator: "\n").contains { $0.hasPrefix("dev=") && $0 != "dev=0" }, "\(state)")
    }

    @Test func aSignalThatEndsTheProgramEndsTheLaunch() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let raised = try fixture.xarexec([xar, "signal", "15"])
        #expect(raised.signal == SIGTERM, "\(raised)")
        // SIGTERM from outside, sent to the pid the caller started: that pid is the program itself.
        let script = """
            "$XAREXEC" "$XAR" sleep 30 & p=$!
            for i in $(seq 100); do grep -q 'show$' /proc/$p/comm 2>/dev/null && break; sleep 0.05; done
            echo comm=$(cat /proc/$p/comm)
            kill -TERM $p; wait $p; echo status=$?
            """
        let result = try Process.run(
            ["/bin/bash", "-c", script],
            environment: fixture.environment(["XAREXEC": XarexecFixture.xarexec, "XAR": xar]), timeout: 60)
        #expect(result.stdout.contains("comm=show\n"), "\(result)")
        #expect(result.stdout.contains("status=143"), "\(result)")
    }

    @Test(.enabled(if: TestEnvironment.hasTool("script")))
    func theTerminalIsTheProgramsTerminal() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let result = try Process.run(
            ["script", "-qec", "'\(XarexecFixture.xarexec)' '\(xar)' tty", "/dev/null"],
            environment: fixture.environment(), timeout: 60)
        #expect(result.stdout.contains("tty=1"), "\(result)")
    }

    @Test func throughASymlinkArgv0IsTheSymlinksName() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        #expect(symlink(xar, fixture.dir("mytool")) == 0)
        // The kernel runs the shebang `/usr/bin/env xarexec`, found on PATH (the fixture puts the build there).
        let result = try Process.run([fixture.dir("mytool"), "x"], environment: fixture.environment(), timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("argv[0]=\(fixture.dir("mytool"))\nargv[1]=x\n"))
    }

    @Test func execArgsRunTheTargetWithTheMountAndTheInvokedName() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t", execArgs: "--mount=$MOUNT $ARGV0 $ENTRY", trampolineNames: ["tool"])
        #expect(symlink(xar, fixture.dir("tool")) == 0)
        let mount = try fixture.xarexec(["-n", xar]).stdout.trimmingCharacters(in: .newlines)
        let result = try fixture.xarexec([fixture.dir("tool"), "u"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout
                == "argv[0]=\(mount)/bin/show\nargv[1]=--mount=\(mount)\nargv[2]=\(fixture.dir("tool"))\n"
                + "argv[3]=tool\nargv[4]=u\n")
    }

    @Test func facebookXarsRunTheirBootstrapWithTheXarPathFirst() throws {
        let fixture = try XarexecFixture()
        let tree = fixture.dir("fb.tree")
        try fixture.run(
            "mkdir -p \(tree) && printf '#!/bin/sh\\necho \"xar=$1\"; shift; echo \"rest=$*\"\\n' > \(tree)/xar_bootstrap.sh"
                + " && chmod 755 \(tree)/xar_bootstrap.sh && mksquashfs \(tree) \(fixture.dir("fb.sqfs")) -quiet -all-root"
                + " -noappend >/dev/null")
        let header = """
            #!/usr/bin/env xarexec_fuse
            OFFSET="4096"
            UUID="d770950c"
            VERSION="1628211316"
            DEPENDENCIES=""
            XAREXEC_TARGET="xar_bootstrap.sh"
            XAREXEC_TRAMPOLINE_NAMES="'fb.xar' 'invoke_xar_via_trampoline'"
            #xar_stop
            echo This XAR file should not be executed by sh
            exit 1
            # Actual squashfs file begins at 4096

            """
        let xar = fixture.dir("fb.xar")
        try fixture.run(
            "cat > \(xar) <<'XAREOF'\n\(header)XAREOF\ntruncate -s 4096 \(xar) && cat \(fixture.dir("fb.sqfs")) >> \(xar)"
                + " && chmod 755 \(xar) && mkdir \(fixture.dir("bin"))"
                + " && ln -s '\(XarexecFixture.xarexec)' \(fixture.dir("bin"))/xarexec_fuse")
        var env = fixture.environment()
        env["PATH"] = fixture.dir("bin") + ":" + (env["PATH"] ?? "")
        let result = try Process.run([xar, "a", "b"], environment: env, timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "xar=\(xar)\nrest=a b\n")
    }

    @Test(.tags(.slow)) func sixtyFourSimultaneousFirstLaunchesMakeOneMountAndAllSucceed() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let script = """
            for i in $(seq 64); do "$XAREXEC" "$XAR" exit 5 >/dev/null & done
            fails=0; for j in $(jobs -p); do wait $j; [ $? -eq 5 ] || fails=$((fails+1)); done; echo fails=$fails
            """
        let result = try Process.run(
            ["/bin/bash", "-c", script],
            environment: fixture.environment(["XAREXEC": XarexecFixture.xarexec, "XAR": xar]), timeout: 120)
        #expect(result.stdout.contains("fails=0"), "\(result)")
        #expect(try fixture.mountCount() == 1)
        let servers = try Process.shell("pgrep -c -f '^xarfs \(xar) '").stdout.filter(\.isNumber)
        #expect(servers == "1")
    }

    @Test(.enabled(if: TestEnvironment.hasTool("cc")))
    func anImageBuiltByXarbuildRuns() throws {
        let fixture = try XarexecFixture()
        _ = try fixture.makeShowXar("t")  // compiles bin/show into t.tree
        let xar = fixture.dir("built.xar")
        let build = try Process.run(
            [TestEnvironment.product("xarbuild"), "dir", fixture.dir("t.tree"), "-o", xar, "--exec", "bin/show"],
            environment: fixture.environment(), timeout: 120)
        #expect(build.status == 0, "\(build)")
        let result = try Process.run([xar, "q", "exit", "11"], environment: fixture.environment(), timeout: 60)
        #expect(result.status == 11, "\(result)")
        #expect(result.stdout.hasPrefix("argv[0]=\(xar)\nargv[1]=q\n"))
    }

    @Test func theHeadersLocalCopyPolicyReachesTheServer() throws {
        let fixture = try XarexecFixture()
        _ = try fixture.makeShowXar("t")
        let xar = fixture.dir("always.xar")
        let build = try Process.run(
            [
                TestEnvironment.product("xarbuild"), "dir", fixture.dir("t.tree"), "-o", xar, "--exec", "bin/show",
                "--local-copy", "always",
            ],
            environment: fixture.environment(), timeout: 120)
        #expect(build.status == 0, "\(build)")
        #expect(try fixture.xarexec([xar]).status == 0)
        let servers = try Process.shell("pgrep -a -f '^xarfs \(xar) '").stdout
        #expect(servers.contains("--local-copy always"), "\(servers)")
    }

    @Test func aFirstLaunchWithTheStandardDescriptorsClosedStillMounts() throws {
        let fixture = try XarexecFixture()
        let xar = try fixture.makeShowXar("t")
        let script = "(exec 0<&- 1>&- 2>&-; \"$XAREXEC\" \"$XAR\" exit 3); echo status=$?"
        let result = try Process.run(
            ["/bin/sh", "-c", script],
            environment: fixture.environment(["XAREXEC": XarexecFixture.xarexec, "XAR": xar]), timeout: 60)
        #expect(result.stdout == "status=3\n", "\(result)")
        #expect(try fixture.mountCount() == 1)
    }
}
