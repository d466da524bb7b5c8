import Testing
import XarFormat
import XarTestSupport

private let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/// Facebook's header, as their `XarParserTest.cpp` writes it: 8-digit UUID, their key order and trailer.
private let facebookHeader = """
    #!/usr/bin/env xarexec_fuse
    OFFSET="4096"
    UUID="d770950c"
    VERSION="1624969851"
    XAREXEC_TARGET="xar_bootstrap.sh"
    XAREXEC_TRAMPOLINE_NAMES="'lookup.xar' 'invoke_xar_via_trampoline'"
    DEPENDENCIES=""
    #xar_stop
    echo This XAR file should not be executed by sh
    exit 1
    # Actual squashfs file begins at 4096

    """

private func parse(_ text: String, fileSize: Int64? = nil) throws(XarHeaderError) -> XarHeader {
    try XarHeader(parsing: Array(text.utf8), fileSize: fileSize)
}

@Suite struct XarHeaderTests {
    @Test func headerRendersGoldenText() throws {
        let header = try XarHeader(
            imageSHA256: digest, buildTime: 1_700_000_000, builder: "xarbuild 0.1.0", target: "bin/tool",
            execArgs: "$MOUNT/lib -S", mountTimeout: 30, localCopyPolicy: .always)
        let bytes = try header.rendered()
        #expect(bytes.count == 4096)
        let expected = """
            #!/usr/bin/env xarexec
            OFFSET="4096"
            UUID="0123456789abcdef"
            VERSION="1700000000"
            DEPENDENCIES=""
            XAREXEC_TARGET="bin/tool"
            XAR_IMAGE_SHA256="\(digest)"
            XAR_BUILDER="xarbuild 0.1.0"
            XAR_BUILD_TIME="1700000000"
            XAREXEC_ARGS="$MOUNT/lib -S"
            XAR_MOUNT_TIMEOUT="30"
            XAR_LOCAL_COPY="always"
            #xar_stop
            echo "$0: this is a XAR executable. To run it, install xarexec (the XAR launcher) on PATH and run \
            the file itself." >&2
            exit 1
            # The SquashFS image begins at byte 4096 (OFFSET).

            """
        #expect(Array(bytes.prefix(expected.utf8.count)) == Array(expected.utf8))
        #expect(bytes.dropFirst(expected.utf8.count).allSatisfy { $0 == 10 })
    }

    @Test func headerRoundTripsThroughTheParser() throws {
        let header = try XarHeader(
            imageSHA256: digest, buildTime: 42, builder: "xarbuild 0.1.0", target: "run.sh", mountRoot: "/mnt/xar",
            trampolineNames: ["tool", "tool-admin"], execArgs: "$ARGV0 --entry $ENTRY", mountTimeout: 0,
            localCopyPolicy: .never, dependencies: ["a.xar", "b.xar"], offset: 8192)
        let bytes = try header.rendered()
        #expect(bytes.count == 8192)
        let parsed = try XarHeader(parsing: bytes, fileSize: 8192 + 4096)
        #expect(parsed == header)
        #expect(parsed.offset == 8192)
        #expect(parsed.uuid == "0123456789abcdef")
        #expect(parsed.version == "42")
        #expect(parsed.target == "run.sh")
        #expect(parsed.mountRoot == "/mnt/xar")
        #expect(parsed.trampolineNames == ["tool", "tool-admin", "invoke_xar_via_trampoline"])
        #expect(parsed.execArgs == ["$ARGV0", "--entry", "$ENTRY"])
        #expect(parsed.imageSHA256 == digest)
        #expect(parsed.builder == "xarbuild 0.1.0")
        #expect(parsed.buildTime == 42)
        #expect(parsed.mountTimeout == 0)
        #expect(parsed.localCopyPolicy == .never)
        #expect(parsed.dependencies == ["a.xar", "b.xar"])
    }

    @Test func headerKeepsUnknownKeysInOrder() throws {
        let text =
            "#!/usr/bin/env xarexec\nOFFSET=\"4096\"\nNEW_KEY=\"x y\"\nUUID=\"abcdef01\"\nVERSION=\"1\"\n#xar_stop\n"
        let header = try parse(text)
        #expect(header.entries.map(\.key) == ["OFFSET", "NEW_KEY", "UUID", "VERSION"])
        #expect(header.value(for: "NEW_KEY") == "x y")
        #expect(header.localCopyPolicy == .network)
        #expect(header.execArgs == nil)
        #expect(try XarHeader(parsing: header.rendered()) == header)
    }

    @Test func facebookHeaderParses() throws {
        let header = try parse(facebookHeader, fileSize: 1 << 20)
        #expect(header.shebang == "#!/usr/bin/env xarexec_fuse")
        #expect(header.offset == 4096)
        #expect(header.uuid == "d770950c")
        #expect(header.version == "1624969851")
        #expect(header.target == "xar_bootstrap.sh")
        #expect(header.trampolineNames == ["lookup.xar", "invoke_xar_via_trampoline"])
        #expect(header.dependencies == [])
        #expect(header.imageSHA256 == nil)
    }

    @Test func facebookMakeXarHeaderParses() throws {
        // Exactly what `make_xar --raw DIR --raw-executable bin/run --xar-mount-root /mnt/xarfuse` (PyPI `xar`)
        // wrote: shebang, OFFSET, UUID, VERSION, then DEPENDENCIES, MOUNT_ROOT, XAREXEC_TARGET.
        let text = """
            #!/usr/bin/env xarexec_fuse
            OFFSET="4096"
            UUID="25d01b4e"
            VERSION="1795707388"
            DEPENDENCIES=""
            MOUNT_ROOT="/mnt/xarfuse"
            XAREXEC_TARGET="bin/run"
            #xar_stop
            echo This XAR file should not be executed by sh
            exit 1
            # Actual squashfs file begins at 4096

            """
        let header = try parse(text, fileSize: 8192)
        #expect(header.uuid == "25d01b4e")
        #expect(header.mountRoot == "/mnt/xarfuse")
        #expect(header.target == "bin/run")
        #expect(header.dependencies == [])
        #expect(header.imageSHA256 == nil)
    }

    @Test func headerParsesFromTheFirstBlockOnly() throws {
        let rendered = try XarHeader(imageSHA256: digest, buildTime: 1, builder: "b").rendered()
        let bytes = rendered + [0x68, 0x73, 0x71, 0x73]
        let header = try XarHeader(parsing: bytes, fileSize: Int64(bytes.count))
        #expect(header.uuid == String(digest.prefix(16)))
    }

    static let malformed: [(String, String, XarHeaderError)] = [
        ("no shebang", "OFFSET=\"4096\"\n", .missingShebang),
        ("empty file", "", .missingShebang),
        ("no stop line", "#!/bin/sh\nOFFSET=\"4096\"\nUUID=\"abcdef01\"\nVERSION=\"1\"\n", .missingStop),
        ("no newline at all", "#!/usr/bin/env xarexec", .missingStop),
        ("line without =", "#!/x\nOFFSET \"4096\"\n#xar_stop\n", .malformedLine(line: 2)),
        ("comment line", "#!/x\nOFFSET=\"4096\"\n# hello\n#xar_stop\n", .malformedLine(line: 3)),
        ("empty name", "#!/x\n=\"4096\"\n#xar_stop\n", .malformedLine(line: 2)),
        ("name with a dash", "#!/x\nMY-KEY=\"1\"\n#xar_stop\n", .malformedLine(line: 2)),
        ("unquoted value", "#!/x\nOFFSET=4096\n#xar_stop\n", .badQuoting(key: "OFFSET", line: 2)),
        ("one quote", "#!/x\nOFFSET=\"\n#xar_stop\n", .badQuoting(key: "OFFSET", line: 2)),
        ("quote inside", "#!/x\nVERSION=\"1\"2\"\n#xar_stop\n", .badQuoting(key: "VERSION", line: 2)),
        ("single quotes", "#!/x\nVERSION='1'\n#xar_stop\n", .badQuoting(key: "VERSION", line: 2)),
        ("command substitution", "#!/x\nVERSION=\"$(reboot)\"\n#xar_stop\n", .unsafeValue(key: "VERSION")),
        ("backquote", "#!/x\nVERSION=\"`id`\"\n#xar_stop\n", .unsafeValue(key: "VERSION")),
        ("backslash", "#!/x\nVERSION=\"a\\\\b\"\n#xar_stop\n", .unsafeValue(key: "VERSION")),
        ("tab", "#!/x\nVERSION=\"a\tb\"\n#xar_stop\n", .unsafeValue(key: "VERSION")),
        ("not UTF-8", "#!/x\nVERSION=\"\u{FFFD}\"\n#xar_stop\n", .notUTF8(key: "VERSION")),
        (
            "duplicate OFFSET", "#!/x\nOFFSET=\"4096\"\nOFFSET=\"8192\"\nUUID=\"abcdef01\"\nVERSION=\"1\"\n#xar_stop\n",
            .duplicateKey("OFFSET")
        ),
        ("missing OFFSET", "#!/x\nUUID=\"abcdef01\"\nVERSION=\"1\"\n#xar_stop\n", .missingKey("OFFSET")),
        ("missing UUID", "#!/x\nOFFSET=\"4096\"\nVERSION=\"1\"\n#xar_stop\n", .missingKey("UUID")),
        ("missing VERSION", "#!/x\nOFFSET=\"4096\"\nUUID=\"abcdef01\"\n#xar_stop\n", .missingKey("VERSION")),
        ("OFFSET not a number", header(offset: "4096X"), .offsetNotNumber("4096X")),
        ("OFFSET empty", header(offset: ""), .offsetNotNumber("")),
        ("OFFSET huge", header(offset: "999999999999999999999"), .offsetNotNumber("999999999999999999999")),
        ("OFFSET unaligned", header(offset: "1234"), .offsetNotAligned(1234)),
        ("OFFSET zero", header(offset: "0"), .offsetNotAligned(0)),
        ("UUID not hex", header(uuid: "d770950g"), .uuidNotHex("d770950g")),
        ("UUID upper case", header(uuid: "D770950C"), .uuidNotHex("D770950C")),
        ("UUID too short", header(uuid: "abc"), .uuidNotHex("abc")),
        ("VERSION empty", header(version: ""), .emptyVersion),
        ("digest not hex", header(extra: "XAR_IMAGE_SHA256=\"xyz\"\n"), .badImageDigest("xyz")),
        (
            "UUID not from digest", header(extra: "XAR_IMAGE_SHA256=\"\(digest)\"\n"),
            .uuidDoesNotMatchDigest(uuid: "abcdef01", digest: digest)
        ),
        ("build time", header(extra: "XAR_BUILD_TIME=\"-5\"\n"), .notANumber(key: "XAR_BUILD_TIME", value: "-5")),
        ("timeout", header(extra: "XAR_MOUNT_TIMEOUT=\"1h\"\n"), .notANumber(key: "XAR_MOUNT_TIMEOUT", value: "1h")),
        ("absolute target", header(extra: "XAREXEC_TARGET=\"/bin/sh\"\n"), .badTarget("/bin/sh")),
        ("escaping target", header(extra: "XAREXEC_TARGET=\"bin/../../x\"\n"), .badTarget("bin/../../x")),
        ("relative mount root", header(extra: "MOUNT_ROOT=\"mnt\"\n"), .badMountRoot("mnt")),
        (
            "trampolines without the required name", header(extra: "XAREXEC_TRAMPOLINE_NAMES=\"'tramp'\"\n"),
            .badTrampolineNames(reason: "'invoke_xar_via_trampoline' is missing")
        ),
        (
            "trampolines two spaces apart",
            header(extra: "XAREXEC_TRAMPOLINE_NAMES=\"'invoke_xar_via_trampoline'  'tramp'\"\n"),
            .badTrampolineNames(reason: "names are quoted one by one, one space apart, with no quotes inside")
        ),
        (
            "trampolines unquoted", header(extra: "XAREXEC_TRAMPOLINE_NAMES=\"invoke_xar_via_trampoline\"\n"),
            .badTrampolineNames(reason: "the list must start and end with a single quote")
        ),
        ("local copy", header(extra: "XAR_LOCAL_COPY=\"sometimes\"\n"), .badLocalCopyPolicy("sometimes")),
    ]

    private static func header(
        offset: String = "4096", uuid: String = "abcdef01", version: String = "1", extra: String = ""
    ) -> String {
        "#!/usr/bin/env xarexec\nOFFSET=\"\(offset)\"\nUUID=\"\(uuid)\"\nVERSION=\"\(version)\"\n\(extra)#xar_stop\n"
    }

    @Test(arguments: malformed)
    func headerRejectsMalformedInput(name: String, text: String, error: XarHeaderError) {
        var bytes = Array(text.utf8)
        if name == "not UTF-8" {
            // Replace the encoded U+FFFD with a lone continuation byte.
            let marker = Array("\u{FFFD}".utf8)
            if let at = bytes.indices.first(where: { bytes[$0...].starts(with: marker) }) {
                bytes.replaceSubrange(at..<(at + marker.count), with: [0x80])
            }
        }
        #expect(throws: error, "\(name)") { try XarHeader(parsing: bytes) }
        #expect(error.description.hasSuffix("."))
    }

    @Test func headerRejectsStopLinePastFirstBlock() {
        let filler = (0..<100).map { "K\($0)=\"\(String(repeating: "x", count: 40))\"\n" }.joined()
        #expect(throws: XarHeaderError.missingStop) { try parse(Self.header(extra: filler)) }
    }

    @Test func headerRejectsOffsetAtOrPastTheEnd() {
        #expect(throws: XarHeaderError.offsetPastEnd(offset: 4096, fileSize: 4096)) {
            try parse(Self.header(), fileSize: 4096)
        }
        #expect(throws: XarHeaderError.offsetPastEnd(offset: 8192, fileSize: 5000)) {
            try parse(Self.header(offset: "8192"), fileSize: 5000)
        }
    }

    @Test func builderRejectsWhatTheParserWould() {
        #expect(throws: XarHeaderError.badImageDigest("abc")) {
            try XarHeader(imageSHA256: "abc", buildTime: 1, builder: "b")
        }
        #expect(throws: XarHeaderError.unsafeValue(key: "XAREXEC_ARGS")) {
            try XarHeader(imageSHA256: digest, buildTime: 1, builder: "b", execArgs: "say \"hi\"")
        }
        #expect(throws: XarHeaderError.badKeyName("A B")) {
            try XarHeader(entries: [XarHeader.Entry(key: "A B", value: "")])
        }
        #expect(throws: XarHeaderError.shebangTooLong(length: 200)) {
            try XarHeader(
                shebang: "#!" + String(repeating: "x", count: 198),
                entries: [
                    .init(key: "OFFSET", value: "4096"), .init(key: "UUID", value: "abcdef01"),
                    .init(key: "VERSION", value: "1"),
                ])
        }
        let long = String(repeating: "a", count: 4000)
        #expect(throws: XarHeaderError.self) {
            _ = try XarHeader(imageSHA256: digest, buildTime: 1, builder: long).rendered()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func headerRunBySHPrintsWhatToInstallAndFails() throws {
        let dir = TemporaryDirectory()
        let file = dir("tool.xar")
        let bytes = try XarHeader(imageSHA256: digest, buildTime: 1, builder: "b", target: "x").rendered()
        // A few image-like bytes after the header, including a NUL, a newline and shell syntax.
        try writeFile(file, bytes + [0x68, 0x73, 0x71, 0x73, 0, 0xff, 0x0a, 0x28, 0x29, 0x0a])
        let result = try Process.run(["/bin/sh", file], timeout: 30)
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout == "")
        #expect(
            result.stderr == "\(file): this is a XAR executable. To run it, install xarexec (the XAR launcher) "
                + "on PATH and run the file itself.\n")
    }
}
