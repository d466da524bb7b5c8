public import ArgumentParser
import Foundation
import XarFormat
import XarSquashFS

/// `xarctl verify FILE.xar`: checks the header, recomputes the image digest, and reads every file of the image.
public struct XarctlVerify: ParsableCommand {
    /// Help text.
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a .xar: header, image digest, every file readable.",
        discussion: """
            Exit status 0 when the file is sound; 1 with one line naming the first problem. Images built by \
            Facebook's tools record no digest; for them the digest check is skipped and said so.

            Example:
              xarctl verify tool.xar && cp tool.xar /usr/local/bin/
            """
    )

    @Argument(help: "The .xar file.")
    public var file: String

    @Flag(help: "Print a JSON object on success.")
    public var json = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Runs the checks in order and stops at the first problem.
    public func run() throws {
        let image = try XarImageFile(path: file)
        let header = image.header
        var digest: String?
        if let recorded = header.imageSHA256 {
            let actual = try image.imageDigest()
            guard actual == recorded else {
                throw CommandFailure(
                    path: file,
                    "the image's SHA-256 is \(actual), but the header records \(recorded): the file is "
                        + "damaged or was changed after it was built.")
            }
            digest = actual
        }
        let reader = try image.reader()
        let census: ImageCensus
        do {
            census = try ImageCensus(reader, readContents: true)
            if let target = header.target {
                guard let inode = try reader.lookup(target), inode.kind == .regularFile || inode.kind == .symlink
                else {
                    throw CommandFailure(
                        path: file, "the header's XAREXEC_TARGET \(target) is not a file in the image.")
                }
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(path: file, "\(error)")
        }
        if json {
            let object: [String: Any] = [
                "path": file, "sound": true, "sha256": digest as Any? ?? NSNull(), "digestChecked": digest != nil,
                "files": census.files, "directories": census.directories, "symlinks": census.symlinks,
                "fileBytes": Int(census.fileBytes),
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let digestText = digest.map { "SHA-256 \($0) matches the header" } ?? "no digest recorded (not checked)"
        print(
            "\(file): sound: header ok, \(digestText), \(census.files) files (\(census.fileBytes) bytes), "
                + "\(census.directories) directories, \(census.symlinks) symlinks read")
    }
}
