import Foundation
import Testing
import XarFormat
import XarTestSupport

/// `xarctl inspect`, `verify` and `extract` as an operator runs them, on images `xarbuild` made.
@Suite struct XarctlTests {
    static let xarctl = TestEnvironment.product("xarctl")
    static let xarbuild = TestEnvironment.product("xarbuild")

    /// Builds `dir/app` (after `setup` fills it) into `dir/app.xar` and returns its path.
    static func build(_ dir: TemporaryDirectory, extra: [String] = [], setup: String) throws -> String {
        try Process.shell("set -e; mkdir -p '\(dir("app"))'; cd '\(dir("app"))'; \(setup)")
        let out = dir("app.xar")
        let result = try Process.run([xarbuild, "dir", dir("app"), "-o", out] + extra, timeout: 120)
        try #require(result.status == 0, "\(result)")
        return out
    }

    static let sampleTree = """
        mkdir -p bin .xar share
        printf '#!/bin/sh\\necho hi\\n' > bin/tool && chmod 0755 bin/tool
        ln -s bin/tool link && ln bin/tool hard
        printf '{"entry_points": ["tool"], "interpreter": "python3.11"}' > .xar/metadata.json
        seq 1 20000 > share/numbers
        """

    /// Replaces the image's bytes in `path` by `patch(image)` and rewrites the header's digest and UUID to match,
    /// so that only the image's structure, not its digest, is wrong.
    static func patchImage(_ path: String, _ patch: (inout [UInt8]) throws -> Void) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try XarHeader(parsing: bytes)
        var image = Array(bytes[header.offset...])
        try patch(&image)
        var hash = SHA256()
        hash.update(image)
        let digest = hash.finalizeHex()
        let entries = header.entries.map { entry -> XarHeader.Entry in
            switch entry.key {
            case XarHeader.Key.imageSHA256: return .init(key: entry.key, value: digest)
            case XarHeader.Key.uuid: return .init(key: entry.key, value: String(digest.prefix(16)))
            default: return entry
            }
        }
        bytes = try XarHeader(shebang: header.shebang, entries: entries).rendered() + image
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func inspectShowsHeaderImageAndMetadata() throws {
        let dir = TemporaryDirectory()
        let xar = try Self.build(dir, extra: ["--exec", "bin/tool", "--block-size", "64K"], setup: Self.sampleTree)
        let table = try Process.run([Self.xarctl, "inspect", xar], timeout: 60)
        #expect(table.status == 0, "\(table)")
        for expected in [
            "#!/usr/bin/env xarexec", "XAREXEC_TARGET    bin/tool", "compressor        zstd", "block size        64K",
            "4 files, 4 directories, 1 symlinks", "\"interpreter\" : \"python3.11\"",
        ] {
            #expect(table.stdout.contains(expected), "missing \(expected) in \(table.stdout)")
        }
        let json = try Process.run([Self.xarctl, "inspect", "--json", xar], timeout: 60)
        #expect(json.status == 0, "\(json)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let header = try #require(object["header"] as? [String: String])
        let image = try #require(object["image"] as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(header["XAREXEC_TARGET"] == "bin/tool")
        #expect(image["blockSize"] as? Int == 65536)
        #expect(image["files"] as? Int == 4)
        #expect(image["sha256"] as? String == header["XAR_IMAGE_SHA256"])
        #expect(metadata["entry_points"] as? [String] == ["tool"])
    }

    @Test func inspectRejectsAFileThatIsNotXar() throws {
        let dir = TemporaryDirectory()
        try "just text\n".write(toFile: dir("plain.xar"), atomically: true, encoding: .utf8)
        let result = try Process.run([Self.xarctl, "inspect", dir("plain.xar")], timeout: 60)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "xarctl: error: \(dir("plain.xar")): the file does not start with a '#!' line, so it is not a XAR file.\n"
        )
    }

    @Test func verifyPassesASoundImage() throws {
        let dir = TemporaryDirectory()
        let xar = try Self.build(dir, extra: ["--exec", "bin/tool"], setup: Self.sampleTree)
        let result = try Process.run([Self.xarctl, "verify", xar], timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("\(xar): sound: header ok, SHA-256 "))
        let json = try Process.run([Self.xarctl, "verify", "--json", xar], timeout: 60)
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["sound"] as? Bool == true)
        #expect(object["files"] as? Int == 4)
    }

    @Test func verifyCatchesOneFlippedImageByte() throws {
        let dir = TemporaryDirectory()
        let xar = try Self.build(dir, setup: Self.sampleTree)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: xar)))
        bytes[4096 + 200] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: xar))
        let result = try Process.run([Self.xarctl, "verify", xar], timeout: 60)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("xarctl: error: \(xar): the image's SHA-256 is "), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func verifyReadsEveryFileEvenWhenTheDigestMatches() throws {
        let dir = TemporaryDirectory()
        // One compressible file: its first data block is a zstd frame right after the 96-byte superblock.
        let xar = try Self.build(dir, setup: "seq 1 50000 > numbers")
        try Self.patchImage(xar) { image in
            try #require(Array(image[96..<100]) == [0x28, 0xB5, 0x2F, 0xFD], "expected a zstd frame at byte 96")
            image.replaceSubrange(96..<100, with: [0, 0, 0, 0])
        }
        let result = try Process.run([Self.xarctl, "verify", xar], timeout: 60)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("xarctl: error: \(xar): "))
        #expect(!result.stderr.contains("SHA-256"))
    }

    @Test func extractRecreatesTheTreeAtomically() throws {
        let dir = TemporaryDirectory()
        let xar = try Self.build(dir, setup: Self.sampleTree)
        let result = try Process.run([Self.xarctl, "extract", xar, dir("out")], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let diff = try Process.run(["diff", "-r", "--no-dereference", dir("app"), dir("out")], timeout: 60)
        #expect(diff.status == 0, "\(diff)")
        let links = try Process.shell("stat -c %h '\(dir("out/hard"))' '\(dir("out/bin/tool"))'").stdout
        #expect(links == "2\n2\n")
        let again = try Process.run([Self.xarctl, "extract", xar, dir("out")], timeout: 60)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists and is not an empty directory"))
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(entries == ["app", "app.xar", "out"])
    }

    @Test(arguments: [("QQ", ".."), ("QQQQ", "../x")])
    func extractRefusesNamesThatLeaveTheDirectory(name: String, crafted: String) throws {
        let dir = TemporaryDirectory()
        // Uncompressed, so the name can be patched in the directory table in place.
        let xar = try Self.build(dir, extra: ["--compression", "none"], setup: "mkdir sub; echo data > sub/\(name)")
        try Self.patchImage(xar) { image in
            let needle = Array(name.utf8)
            let hits = image.indices.filter { image[$0...].starts(with: needle) }
            try #require(hits.count == 1, "the name should appear once in the image, found \(hits.count)")
            image.replaceSubrange(hits[0]..<(hits[0] + needle.count), with: Array(crafted.utf8))
        }
        let result = try Process.run([Self.xarctl, "extract", xar, dir("out")], timeout: 60)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("xarctl: error: \(xar): "), "\(result)")
        #expect(result.stderr.contains("unsafe name"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(entries == ["app", "app.xar"])
        #expect(!FileManager.default.fileExists(atPath: dir("sub")))
    }

    @Test func xarctlExitsWithUsageStatusOnBadCommandLine() throws {
        for arguments in [["verify"], ["extract", "a.xar"], ["inspect", "--bogus", "a.xar"], ["frobnicate"]] {
            let result = try Process.run([Self.xarctl] + arguments, timeout: 60)
            #expect(result.status == 64, "\(arguments): \(result)")
        }
    }
}
