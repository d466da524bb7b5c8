import Foundation
import XarFormat
import XarSystem

/// The oldest host a staged image runs on, from its ELF files (`ELFFile`): the newest `GLIBC_` symbol version any
/// of them needs and the newest kernel an `NT_GNU_ABI_TAG` names (glibc's own tag: the oldest kernel it was
/// built to support). Recorded in `/.xar/metadata.json` and, for what the launcher checks, in the header.
public struct ImageFloor: Sendable, Equatable {
    /// The newest glibc symbol version an ELF file of the image needs (`2.35`).
    public var glibc: String?
    /// The newest kernel an ELF file's ABI tag names (`3.2.0`).
    public var kernel: String?
    /// The glibc the image carries (`2.36`), for the portable layout.
    public var carriedGlibc: String?
    /// The file that needs `glibc`, relative to the root, for the summary and errors.
    public var glibcNeededBy: String?

    /// What the host must have, as the launcher checks it: with a carried C library the host's glibc does not
    /// matter, only the kernel.
    public var headerGlibcFloor: String? { carriedGlibc == nil ? glibc : nil }

    /// Reads every ELF file under `root`.
    static func measure(root: String, carriedLibc: String?) throws -> ImageFloor {
        var floor = ImageFloor()
        var newestGlibc: [Int]?, newestKernel: [Int]?
        for file in try SharedLibraryBundler.elfFiles(under: root) {
            guard let elf = try Self.read("\(root)/\(file)") else { continue }
            if let needed = elf.newestNeededGlibc, newestGlibc.map({ ELFFile.isOlder($0, than: needed) }) ?? true {
                newestGlibc = needed
                floor.glibcNeededBy = file
            }
            if let kernel = elf.kernelABI, newestKernel.map({ ELFFile.isOlder($0, than: kernel) }) ?? true {
                newestKernel = kernel
            }
        }
        floor.glibc = newestGlibc.map(ELFFile.versionText)
        floor.kernel = newestKernel.map(ELFFile.versionText)
        if let carriedLibc {
            guard let libc = try Self.read("\(root)/\(carriedLibc)"),
                let defined = ELFFile.newestGlibcVersion(libc.definedVersions)
            else { throw PythonBuildError("The carried C library \(root)/\(carriedLibc) defines no GLIBC_ version.") }
            floor.carriedGlibc = ELFFile.versionText(defined)
        }
        return floor
    }

    /// The ELF file at `path`, or nil when it is not one we read (32-bit, big-endian).
    static func read(_ path: String) throws -> ELFFile? {
        guard let file = try? ReadOnlyFile(opening: path) else { throw PythonBuildError("Cannot read \(path).") }
        do {
            return try ELFFile { offset, count in (try? file.bytes(at: offset, count: count)) ?? [] }
        } catch .notELF, .unsupportedClass {
            return nil
        } catch {
            throw PythonBuildError("\(path) is a damaged ELF file: a table points past its end.")
        }
    }
}
