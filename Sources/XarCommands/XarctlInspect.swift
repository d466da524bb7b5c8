public import ArgumentParser
import Foundation
import XarFormat
import XarMount
import XarSquashFS

/// `xarctl inspect FILE.xar`: the header, the image's summary, and the metadata the builder stored in
/// `/.xar/metadata.json`.
public struct XarctlInspect: ParsableCommand {
    /// Help text.
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a .xar's header, image summary and stored metadata.",
        discussion: """
            The digest shown is the one the header records; `xarctl verify` recomputes it.

            Examples:
              xarctl inspect tool.xar
              xarctl inspect tool.xar --json | jq .image.compressor
            """
    )

    /// Where the builder stores its metadata inside the image (the Python builder fills it).
    static let metadataPath = ".xar/metadata.json"

    @Argument(help: "The .xar file.")
    public var file: String

    @Flag(help: "Print one JSON object instead of the table.")
    public var json = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Reads the file and prints what it holds.
    public func run() throws {
        let image = try XarImageFile(path: file)
        let reader = try image.reader()
        let census: ImageCensus
        let metadata: Any?
        do {
            census = try ImageCensus(reader, readContents: false)
            metadata = try Self.metadata(in: reader)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(path: file, "\(error)")
        }
        let block = reader.superblock
        let compressor = SquashFS.CompressorID(rawValue: block.compressionID).map { "\($0)" } ?? "unknown"
        let created = Date(timeIntervalSince1970: TimeInterval(block.modificationTime))
        let imageFields: [String: Any] = [
            "compressor": compressor, "blockSize": Int(block.blockSize), "bytesUsed": Int(block.bytesUsed),
            "imageBytes": Int(image.size) - image.header.offset, "inodes": Int(block.inodeCount),
            "files": census.files, "directories": census.directories, "symlinks": census.symlinks,
            "others": census.others, "fileBytes": Int(census.fileBytes),
            "created": ISO8601DateFormatter().string(from: created),
            "sha256": image.header.imageSHA256 as Any? ?? NSNull(),
        ]
        // A thin image's runtime (docs/runtimes.md): the DEPENDENCIES word, and where the launcher looks for it.
        let runtime = image.header.dependencies.first.flatMap(RuntimeDependency.init)
        if json {
            var header: [String: Any] = [:]
            for entry in image.header.entries { header[entry.key] = entry.value }
            let object: [String: Any] = [
                "path": file, "fileBytes": Int(image.size), "shebang": image.header.shebang, "header": header,
                "image": imageFields, "metadata": metadata ?? NSNull(),
                "runtime": runtime.map { ["file": $0.fileName, "sha256": $0.digest] as [String: Any] } ?? NSNull(),
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        var lines = ["\(file) (\(image.size) bytes)", "header:", "  \(image.header.shebang)"]
        let width = max(16, (image.header.entries.map(\.key.count).max() ?? 0) + 2)
        for entry in image.header.entries { lines.append("  " + Self.padded(entry.key, width) + entry.value) }
        lines.append("image:")
        let rows: [(String, String)] = [
            ("compressor", compressor),
            ("block size", "\(ByteSize(bytes: Int(block.blockSize)))"),
            ("image bytes", "\(Int(image.size) - image.header.offset) (\(block.bytesUsed) used)"),
            (
                "entries",
                "\(census.files) files, \(census.directories) directories, \(census.symlinks) symlinks, "
                    + "\(census.others) other"
            ),
            ("file data", "\(census.fileBytes) bytes (\(ByteSize.human(Int64(census.fileBytes))))"),
            ("created", ISO8601DateFormatter().string(from: created)),
            ("sha256", image.header.imageSHA256.map { "\($0) (recorded; xarctl verify checks it)" } ?? "not recorded"),
        ]
        for (name, value) in rows { lines.append("  " + Self.padded(name, width) + value) }
        if let runtime {
            lines.append(
                "runtime:\n  " + Self.padded("file", width) + runtime.fileName + "\n  " + Self.padded("sha256", width)
                    + runtime.digest + "\n  " + Self.padded("looked for in", width)
                    + "$XAR_RUNTIME_PATH, this file's directory, /usr/lib/xar/runtimes (by name, then as SHA256.xar), "
                    + "then the local copies of network-sourced images (SHA256.xar)")
        }
        if let metadata {
            lines.append("metadata (/\(Self.metadataPath)):")
            let data = try JSONSerialization.data(
                withJSONObject: metadata, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") { lines.append("  " + line) }
        } else {
            lines.append("metadata: none (no /\(Self.metadataPath) in the image)")
        }
        print(lines.joined(separator: "\n"))
    }

    /// The parsed `/.xar/metadata.json`, or nil when the image has none.
    static func metadata(in reader: SquashFS.Reader) throws -> Any? {
        guard let inode = try reader.lookup(metadataPath), inode.kind == .regularFile else { return nil }
        let bytes = try reader.readFile(inode)
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw SquashFS.ReadError("/\(metadataPath) in the image is not valid JSON.")
        }
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }
}
