import Foundation
import Testing
import XarFormat
import XarTestSupport

/// `xarbuild` as a user runs it: the real binary on real directories, read back with `unsquashfs`.
@Suite struct XarbuildTests {
    static let xarbuild = TestEnvironment.product("xarbuild")

    /// A small application: an executable script, a data file, a subdirectory, a symlink.
    static func makeApp(in dir: TemporaryDirectory) throws -> String {
        let app = dir("app")
        try Process.shell(
            """
            set -e
            mkdir -p '\(app)/bin' '\(app)/share/doc'
            printf '#!/bin/sh\\necho hello "$@"\\n' > '\(app)/bin/hello'
            chmod 0755 '\(app)/bin/hello'
            printf 'some data\\n' > '\(app)/share/data.txt'
            head -c 300000 /dev/urandom > '\(app)/share/doc/blob'
            ln -s ../share/data.txt '\(app)/bin/data-link'
            touch -d @1600000000 '\(app)/bin/hello' '\(app)/share/data.txt' '\(app)/share/doc/blob'
            """)
        return app
    }

    static let usageErrors: [[String]] = [
        ["dir", "app"],
        ["dir", "app", "-o", "x.xar", "--block-size", "3K"],
        ["dir", "app", "-o", "x.xar", "--block-size", "2M"],
        ["dir", "app", "-o", "x.xar", "--block-size", "lots"],
        ["dir", "app", "-o", "x.xar", "--compression", "lz4"],
        ["dir", "app", "-o", "x.xar", "--level", "23"],
        ["dir", "app", "-o", "x.xar", "--compression", "gzip", "--level", "10"],
        ["dir", "app", "-o", "x.xar", "--compression", "xz", "--level", "6"],
        ["dir", "app", "-o", "x.xar", "--bcj"],
        ["dir", "app", "-o", "x.xar", "--threads", "0"],
        ["dir", "app", "-o", "x.xar", "--mount-root", "relative/dir"],
        ["dir", "app", "-o", "x.xar", "--local-copy", "sometimes"],
        ["dir", "app", "-o", "x.xar", "--exec-args", "$(reboot)"],
        ["frobnicate"],
    ]

    @Test(arguments: usageErrors)
    func xarbuildExitsWithUsageStatusOnBadCommandLine(arguments: [String]) throws {
        let dir = TemporaryDirectory()
        let result = try Process.run([Self.xarbuild] + arguments, directory: dir.path, timeout: 60)
        #expect(result.status == 64, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir("x.xar")))
    }

    @Test func xarbuildHelpShowsExamples() throws {
        let result = try Process.run([Self.xarbuild, "dir", "--help"], timeout: 60)
        #expect(result.status == 0)
        #expect(result.stdout.contains("Examples:"))
        #expect(result.stdout.contains("--block-size"))
    }

    @Test func xarbuildRejectsMissingDirectoryInOneLine() throws {
        let dir = TemporaryDirectory()
        let result = try Process.run([Self.xarbuild, "dir", dir("nope"), "-o", dir("x.xar")], timeout: 60)
        #expect(result.status == 1)
        #expect(
            result.stderr == "xarbuild: error: \(dir("nope")): cannot read the directory: No such file or directory.\n")
        #expect(!FileManager.default.fileExists(atPath: dir("x.xar")))
    }

    @Test func xarbuildRejectsBadExecTargets() throws {
        let dir = TemporaryDirectory()
        let app = try Self.makeApp(in: dir)
        let cases: [(String, String)] = [
            ("bin/missing", "the --exec target does not exist in the directory."),
            ("share/data.txt", "the --exec target is not executable (chmod +x it)."),
            ("share", "the --exec target is not a regular file."),
        ]
        for (target, problem) in cases {
            let result = try Process.run(
                [Self.xarbuild, "dir", app, "-o", dir("x.xar"), "--exec", target], timeout: 60)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr == "xarbuild: error: \(app)/\(target): \(problem)\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir("x.xar")))
    }

    @Test func xarbuildRejectsUnreadableSortFile() throws {
        let dir = TemporaryDirectory()
        let app = try Self.makeApp(in: dir)
        let result = try Process.run(
            [Self.xarbuild, "dir", app, "-o", dir("x.xar"), "--sort", dir("no-such-list")], timeout: 60)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("xarbuild: error: \(dir("no-such-list")): cannot read the sort file"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test(.tags(.root), .enabled(if: TestEnvironment.isRoot && TestEnvironment.hasTool("runuser")))
    func xarbuildNamesAnUnreadableFileAndLeavesNothing() throws {
        let dir = TemporaryDirectory()
        // As an unprivileged user (root reads everything), with a copy of the binary it can reach.
        try Process.shell(
            """
            set -e
            chmod 0777 '\(dir.path)'
            cp '\(Self.xarbuild)' '\(dir("xarbuild"))'
            mkdir -m 0755 '\(dir("app"))'
            echo fine > '\(dir("app/fine"))'
            echo secret > '\(dir("app/locked"))' && chmod 000 '\(dir("app/locked"))'
            """)
        let result = try Process.run(
            ["runuser", "-u", "nobody", "--", dir("xarbuild"), "dir", dir("app"), "-o", dir("out.xar")], timeout: 120)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr == "xarbuild: error: \(dir("app/locked")): cannot be read: Permission denied.\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(left == ["app", "xarbuild"])
    }

    /// Ctrl-C or SIGTERM while the image is written: the process dies of the signal (130, 143 in the shell) and
    /// the output's directory holds nothing, neither the image nor its temporary file.
    @Test(arguments: [("INT", 130), ("TERM", 143)])
    func aSignalMidBuildLeavesNoPartialImage(signal: String, status: Int) throws {
        let dir = TemporaryDirectory(prefix: "xar-dir-signal")
        // 48 MiB that zstd 22 cannot shrink: several seconds of work on any machine, so the signal lands mid-write.
        try Process.shell(
            """
            set -e
            mkdir -p '\(dir("app"))' '\(dir("out"))'
            for i in 1 2 3; do head -c 16777216 /dev/urandom > '\(dir("app"))/blob$i'; done
            """)
        let build = [Self.xarbuild, "dir", dir("app"), "--level", "22", "--threads", "1", "-o", dir("out/app.xar")]
            .map { "'\($0)'" }.joined(separator: " ")
        // A shell starts background commands with SIGINT ignored, which the build (rightly) keeps ignoring.
        let result = try Process.shell(
            """
            python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \(build) 2>'\(dir("log"))' &
            pid=$!
            for i in $(seq 1 600); do [ -n "$(ls -A '\(dir("out"))')" ] && break; sleep 0.05; done
            sleep 0.3
            kill -\(signal) $pid
            wait $pid
            echo "status=$?"
            ls -A '\(dir("out"))'
            cat '\(dir("log"))'
            """, timeout: 300)
        #expect(result.stdout.hasPrefix("status=\(status)\n"), "\(result)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir("out")).isEmpty, "\(result)")
    }
}
