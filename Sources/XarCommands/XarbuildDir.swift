public import ArgumentParser
import Foundation
import XarBuild
import XarFormat
import XarSystem

/// `xarbuild dir DIR -o OUT.xar`: packs any directory into a `.xar`.
public struct XarbuildDir: ParsableCommand {
    /// Help text and examples.
    public static let configuration = CommandConfiguration(
        commandName: "dir",
        abstract: "Pack a directory into a .xar file.",
        discussion: """
            The output appears atomically (temporary file next to it, fsync, rename); a failed build leaves \
            nothing behind. With SOURCE_DATE_EPOCH set, mtimes are clamped to it and it is the build time, so \
            the same tree gives a byte-identical file.

            Examples:
              xarbuild dir app/ -o app.xar --exec bin/app        # runs as ./app.xar through xarexec
              xarbuild dir data/ -o data.xar --compression xz --block-size 1M
              xarbuild dir app/ -o app.xar --exec run.sh --sort hot-files.txt --json
            """
    )

    @Argument(help: "The directory to pack; it becomes the image's root.")
    public var directory: String

    @Option(name: [.short, .customLong("output")], help: "The .xar file to write.")
    public var output: String

    @Option(
        name: .customLong("depfile"),
        help: "Also write FILE: a Makefile rule naming every input, for Make, Ninja and CMake (docs/building.md).")
    public var depfile: String?

    @Option(name: .customLong("exec"), help: "The program to run, relative to DIR; makes the output executable (0755).")
    public var executable: String?

    @Option(
        name: .customLong("mount-root"), help: "Mount under this absolute directory instead of the launcher's default.")
    public var mountRoot: String?

    @Option(
        name: .customLong("exec-args"),
        help: "Arguments the launcher passes before the user's ($MOUNT, $ARGV0, $ENTRY are replaced).")
    public var execArgs: String?

    @Option(
        name: .customLong("mount-timeout"), help: "Seconds an unused mount stays before it is unmounted (0 = never).")
    public var mountTimeout: Int?

    @Option(name: .customLong("local-copy"), help: "When to copy the image locally: always, never, network.")
    public var localCopy: String?

    @Option(
        help: "Absolute path of xarexec for the shebang (default: #!/usr/bin/env xarexec, found on PATH).")
    public var launcher: String?

    @Flag(help: "Print a JSON summary on standard output instead of the summary line.")
    public var json = false

    @OptionGroup public var options: BuildOptions

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Checks the header options by rendering a header with them, so a bad value fails before the build.
    public func validate() throws {
        do {
            _ = try makeHeader(digest: String(repeating: "0", count: 64), buildTime: 0)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The header for an image whose SHA-256 is `digest`.
    func makeHeader(digest: String, buildTime: Int64) throws(XarHeaderError) -> XarHeader {
        var policy: XarHeader.LocalCopyPolicy?
        if let localCopy {
            guard let parsed = XarHeader.LocalCopyPolicy(rawValue: localCopy) else {
                throw .badLocalCopyPolicy(localCopy)
            }
            policy = parsed
        }
        return try XarHeader(
            imageSHA256: digest, buildTime: buildTime, builder: "xarbuild \(XarVersion.current)",
            target: executable.map(Self.normalized), mountRoot: mountRoot, execArgs: execArgs,
            mountTimeout: mountTimeout, localCopyPolicy: policy,
            shebang: try launcher.map { path throws(XarHeaderError) in try XarHeader.shebang(launcher: path) }
                ?? XarHeader.defaultShebang)
    }

    /// `./bin/tool` and `bin//tool` name the same file as `bin/tool`.
    static func normalized(_ path: String) -> String {
        path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    /// Builds the file.
    public func run() throws {
        try BuildInput.check(directory: directory, executable: executable.map(Self.normalized))
        let sortFirst = try sortFile()
        let epoch = try BuildInput.sourceDateEpoch()
        let buildTime = epoch.map(Int64.init) ?? Int64(Date().timeIntervalSince1970)
        let request = BuildRequest(
            directory: directory, output: output, executable: executable != nil, options: options,
            sortFirst: sortFirst, sourceDateEpoch: epoch,
            header: { digest in try makeHeader(digest: digest, buildTime: buildTime).rendered() })
        let previous = Depfile.PreviousOutput(of: output)
        // Ctrl-C or SIGTERM mid-build removes the image's temporary file (registered by TemporaryOutput) and dies
        // of the signal, as `xarbuild python` does.
        BuildCleanup.removeOnSignal()
        let report = try request.build()
        if let depfile {
            var rule = Depfile(output: output)
            rule.add(tree: directory)
            if let sortFile = options.sortFile { rule.add(file: sortFile) }
            try rule.write(to: depfile, replacing: previous)
        }
        if json {
            print(try report.json())
        } else {
            StandardError.writeLine(report.line)
        }
    }

    /// The `--sort` file's paths, relative to DIR, in order; blank lines skipped.
    private func sortFile() throws -> [String] {
        guard let path = options.sortFile else { return [] }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CommandFailure(path: path, "cannot read the sort file: \(CommandFailure.reason(error)).")
        }
        return text.split(whereSeparator: \.isNewline)
            .map { Self.normalized(String($0)) }
            .filter { !$0.isEmpty }
    }
}
