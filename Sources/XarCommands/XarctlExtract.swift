public import ArgumentParser
import Foundation
import struct SystemPackage.Errno
import XarMount
import XarSystem

/// `xarctl extract FILE.xar DIR`: unpacks the image without FUSE, atomically.
///
/// The tree is written into a fresh temporary directory next to `DIR` by the launcher's own extractor (the
/// no-FUSE fallback's code), flushed, then renamed to `DIR`: `DIR` either appears complete or not at all. Entries
/// that would land outside it (names with `/`, `.`, `..`) are refused by the reader and the extractor.
public struct XarctlExtract: ParsableCommand {
    /// Help text.
    public static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Unpack a .xar's image into a new directory, without FUSE.",
        discussion: """
            DIR must not exist, or be an empty directory. Regular files, directories, symlinks, hard links and \
            FIFOs are restored with their modes and modification times; device nodes and sockets are skipped. \
            Setuid and setgid bits are dropped unless --keep-setuid is given; runs of zeros in files are written \
            as holes (sparse files), never as zeros.

            Example:
              xarctl extract tool.xar /tmp/tool && ls /tmp/tool
            """
    )

    @Argument(help: "The .xar file.")
    public var file: String

    @Argument(help: "The directory to create.")
    public var directory: String

    @Flag(help: "Keep setuid and setgid bits (dropped by default: as root they would hand local users root's rights).")
    public var keepSetuid = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Extracts into a temporary sibling of `directory`, then renames it into place.
    public func run() throws {
        let image = try XarImageFile(path: file)
        let reader = try image.reader()
        var destination = directory
        while destination.count > 1 && destination.hasSuffix("/") { destination.removeLast() }
        let url = URL(fileURLWithPath: destination)
        let name = url.lastPathComponent
        let parentPath = url.deletingLastPathComponent().path
        try Self.checkDestination(destination)

        let parent: XarSystem.FileDescriptor
        do {
            parent = try XarSystem.FileDescriptor.open(parentPath, .readOnly, options: .directory)
        } catch {
            throw CommandFailure(path: parentPath, "cannot be opened: \(CommandFailure.reason(error)).")
        }
        let temporaryPath: String
        do { temporaryPath = try FileSystem.createTemporaryDirectory(prefix: "\(parentPath)/.\(name).xarctl-") } catch {
            throw CommandFailure(path: parentPath, "cannot hold a temporary directory: \(error.reason).")
        }
        let temporaryName = String(temporaryPath.split(separator: "/").last ?? "")
        do {
            let tree: XarSystem.FileDescriptor
            do {
                tree = try parent.open(temporaryName, .readOnly, options: .directory)
            } catch {
                throw CommandFailure(path: temporaryPath, "cannot be opened: \(CommandFailure.reason(error)).")
            }
            do {
                try ImageExtractor.extract(reader, into: tree, keepSetID: keepSetuid)
            } catch {
                throw CommandFailure(path: file, "\(error)")
            }
            do {
                try TreeRemoval.syncFileSystem(of: tree.rawValue)
            } catch {
                throw CommandFailure(path: temporaryPath, "cannot be flushed: \(CommandFailure.reason(error)).")
            }
            do { try parent.rename(temporaryName, to: name) } catch {
                throw CommandFailure(
                    path: destination, "cannot be created: \(error.description) (is it new or empty?).")
            }
        } catch {
            try? TreeRemoval.remove(temporaryName, in: parent.rawValue)
            throw error
        }
        print("\(file): extracted into \(destination)")
    }

    /// `destination` must not exist, or be an empty directory (which the rename replaces).
    private static func checkDestination(_ destination: String) throws {
        let status: FileStatus
        do { status = try FileSystem.fileStatus(destination, followSymlinks: false) } catch {
            if error.errno == .noSuchFileOrDirectory { return }
            throw CommandFailure(path: destination, "cannot be checked: \(error.reason).")
        }
        let isEmptyDirectory = status.kind == .directory && ((try? FileSystem.entryNames(destination).isEmpty) ?? false)
        guard isEmptyDirectory else {
            throw CommandFailure(
                path: destination, "already exists and is not an empty directory; extract into a new directory.")
        }
    }
}
