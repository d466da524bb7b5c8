import Testing
import XarFormat
@testable import XarMount

/// How the launcher builds the target's `argv` from the header and the invocation.
@Suite struct LauncherTargetArgumentsTests {
    static let digest = String(repeating: "ab", count: 32)

    func header(execArgs: String? = nil, trampolines: [String] = [], facebook: Bool = false) throws -> LaunchHeader {
        let parsed: XarHeader
        if facebook {
            var entries = [
                XarHeader.Entry(key: "OFFSET", value: "4096"), XarHeader.Entry(key: "UUID", value: "d770950c"),
                XarHeader.Entry(key: "VERSION", value: "1"),
                XarHeader.Entry(key: "XAREXEC_TARGET", value: "xar_bootstrap.sh"),
            ]
            if !trampolines.isEmpty {
                entries.append(
                    XarHeader.Entry(
                        key: "XAREXEC_TRAMPOLINE_NAMES", value: trampolines.map { "'\($0)'" }.joined(separator: " ")))
            }
            parsed = try XarHeader(shebang: "#!/usr/bin/env xarexec_fuse", entries: entries)
        } else {
            parsed = try XarHeader(
                imageSHA256: Self.digest, buildTime: 1, builder: "test", target: "bin/python3",
                trampolineNames: trampolines, execArgs: execArgs)
        }
        return try LaunchHeader(path: "t.xar", header: parsed)
    }

    @Test func withoutExecArgsArgv0IsTheInvokedPath() throws {
        let arguments = TargetArguments(
            header: try header(), root: "/m", invokedPath: "./link", userArguments: ["a", "b c"])
        #expect(arguments.path == "/m/bin/python3")
        #expect(arguments.argv == ["./link", "a", "b c"])
    }

    @Test func execArgsPutTheTargetFirstAndSubstitute() throws {
        let h = try header(execArgs: "-I $MOUNT/app.py --name=$ARGV0 -m $ENTRY", trampolines: ["tool", "other"])
        let arguments = TargetArguments(header: h, root: "/m", invokedPath: "/usr/bin/other", userArguments: ["x"])
        #expect(arguments.argv == ["/m/bin/python3", "-I", "/m/app.py", "--name=/usr/bin/other", "-m", "other", "x"])
    }

    @Test func entryDefaultsToTheFirstTrampolineName() throws {
        let h = try header(execArgs: "$ENTRY", trampolines: ["tool"])
        let arguments = TargetArguments(header: h, root: "/m", invokedPath: "./t.xar", userArguments: [])
        #expect(arguments.argv == ["/m/bin/python3", "tool"])
    }

    @Test func facebookImagesGetTheXarPathFirst() throws {
        let h = try header(trampolines: ["lookup.xar", "invoke_xar_via_trampoline"], facebook: true)
        #expect(h.isFacebookImage)
        let arguments = TargetArguments(header: h, root: "/m", invokedPath: "./lookup.xar", userArguments: ["-v"])
        #expect(arguments.argv == ["/m/xar_bootstrap.sh", "./lookup.xar", "-v"])
    }

    @Test func unknownDollarWordsStayAsTheyAre() {
        #expect(TargetArguments.substitute("$HOME/$MOUNTx", mount: "/m", argv0: "a", entry: "e") == "$HOME//mx")
    }

    @Test func aHeaderWithoutTargetIsRefused() throws {
        let parsed = try XarHeader(imageSHA256: Self.digest, buildTime: 1, builder: "test")
        #expect(throws: LaunchError.self) { try LaunchHeader(path: "t.xar", header: parsed) }
    }

    /// The message names the option that exists (`xarbuild dir --exec`), not a made-up one.
    @Test func theMissingTargetMessageNamesTheRealBuildOption() throws {
        let parsed = try XarHeader(imageSHA256: Self.digest, buildTime: 1, builder: "test")
        let error = try #require(throws: LaunchError.self) { try LaunchHeader(path: "t.xar", header: parsed) }
        #expect(error.message.hasPrefix("t.xar has no XAREXEC_TARGET"), "\(error)")
        #expect(error.message.contains("xarbuild dir --exec"), "\(error)")
        #expect(!error.message.contains("--entry"), "\(error)")
    }
}
