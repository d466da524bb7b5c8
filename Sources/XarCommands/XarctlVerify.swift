public import ArgumentParser
import Foundation
import XarFormat
import XarMount
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
        let runtime = header.dependencies.first.flatMap(RuntimeDependency.init)
        let runtimePath = try runtime.map { try verifyRuntime($0, target: header.target) }
        let reader = try image.reader()
        let census: ImageCensus
        do {
            census = try ImageCensus(reader, readContents: true)
            // A thin image's target is in its runtime (checked below with the runtime).
            if let target = header.target, runtime == nil {
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
                "fileBytes": Int(census.fileBytes), "runtime": runtimePath as Any? ?? NSNull(),
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let digestText = digest.map { "SHA-256 \($0) matches the header" } ?? "no digest recorded (not checked)"
        print(
            "\(file): sound: header ok, \(digestText), \(census.files) files (\(census.fileBytes) bytes), "
                + "\(census.directories) directories, \(census.symlinks) symlinks read"
                + (runtimePath.map { "; runtime \($0): SHA-256 matches DEPENDENCIES, target present" } ?? ""))
    }

    /// The chain of a thin image (docs/runtimes.md): the runtime the launcher would take (the first of its places
    /// whose header claims the digest), its real digest, and the target in it. Returns the runtime's path.
    func verifyRuntime(_ runtime: RuntimeDependency, target: String?) throws -> String {
        let places = runtime.searchPaths(imagePath: file)
        for path in places {
            guard let candidate = try? XarImageFile(path: path), candidate.header.imageSHA256 == runtime.digest else {
                continue
            }
            let actual = try candidate.imageDigest()
            guard actual == runtime.digest else {
                throw CommandFailure(
                    path: file,
                    "its runtime \(path) claims sha256:\(runtime.digest), but its image's SHA-256 is \(actual): the "
                        + "runtime is damaged or was changed after it was built.")
            }
            if let target {
                let reader = try candidate.reader()
                let inode = try? reader.lookup(target)
                guard let inode, inode.kind == .regularFile || inode.kind == .symlink else {
                    throw CommandFailure(
                        path: file, "the header's XAREXEC_TARGET \(target) is not a file in its runtime \(path).")
                }
            }
            return path
        }
        throw CommandFailure(
            path: file,
            "its runtime \(runtime.reference) is in none of \(places.joined(separator: ", ")); put it next to the file "
                + "or in a directory of XAR_RUNTIME_PATH.")
    }
}
