import Foundation
import Testing
import XarFormat
import XarTestSupport

/// `ELFFile` against `readelf` (binutils) as the oracle, on this machine's own C library and programs.
@Suite(.enabled(if: TestEnvironment.hasTool("readelf")))
struct ELFFileTests {
    static func elf(_ path: String, prefix: Int? = nil) throws -> ELFFile {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        if let prefix { bytes = Array(bytes.prefix(prefix)) }
        return try ELFFile { offset, count in
            guard offset < UInt64(bytes.count) else { return [] }
            return Array(bytes[Int(offset)..<min(Int(offset) + count, bytes.count)])
        }
    }

    /// The `GLIBC_x.y` names `readelf -V` prints in the section named `section`.
    static func readelfVersions(_ path: String, section: String) throws -> Set<String> {
        let result = try XarTestSupport.Process.run(["readelf", "-V", "-W", path])
        try #require(result.status == 0, "\(result)")
        var inSection = false
        var names = Set<String>()
        for line in result.stdout.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("Version") { inSection = line.contains("'\(section)'") }
            guard inSection else { continue }
            for word in line.split(separator: " ") where word.hasPrefix("GLIBC_") && word != "GLIBC_PRIVATE" {
                names.insert(String(word))
            }
        }
        return names
    }

    @Test(arguments: ["/bin/sh", "/usr/bin/python3.11", "/usr/bin/tar"])
    func neededGlibcVersionsMatchReadelf(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let elf = try Self.elf(path)
        let ours = Set(elf.neededVersions.values.joined().filter { $0.hasPrefix("GLIBC_") && $0 != "GLIBC_PRIVATE" })
        #expect(ours == (try Self.readelfVersions(path, section: ".gnu.version_r")))
        #expect(elf.interpreter == "/lib64/ld-linux-x86-64.so.2")
        #expect(elf.kernelABI == [3, 2, 0])
    }

    @Test func theCLibraryDefinesItsOwnVersion() throws {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        let elf = try Self.elf(libc)
        let defined = try Self.readelfVersions(libc, section: ".gnu.version_d")
        #expect(Set(elf.definedVersions.filter { $0.hasPrefix("GLIBC_") && $0 != "GLIBC_PRIVATE" }) == defined)
        let confstr = try XarTestSupport.Process.run(["getconf", "GNU_LIBC_VERSION"])
        let newest = try #require(ELFFile.newestGlibcVersion(elf.definedVersions))
        #expect(confstr.stdout == "glibc \(ELFFile.versionText(newest))\n")
    }

    @Test func versionsCompareNumerically() {
        #expect(ELFFile.parseVersion("2.9") == [2, 9])
        #expect(ELFFile.parseVersion("6.1.0-18-amd64") == [6, 1, 0])
        #expect(ELFFile.isOlder([2, 9], than: [2, 17]))
        #expect(!ELFFile.isOlder([3, 2, 0], than: [3, 2]))
        #expect(ELFFile.newestGlibcVersion(["GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_PRIVATE", "GCC_3.0"]) == [2, 17])
    }

    @Test func aCutOrForeignFileIsRefused() throws {
        #expect(throws: ELFFile.Failure.truncated) { try Self.elf("/usr/bin/python3.11", prefix: 40) }
        #expect(throws: ELFFile.Failure.notELF) { try Self.elf("/etc/passwd") }
    }
}
