public import ArgumentParser
internal import XarMount

/// `xarctl run FILE.xar [-- ARGS]`: runs through the no-FUSE extraction cache.
public struct XarctlRun: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a .xar from an extracted copy, without FUSE (containers, debugging).",
        discussion: """
            The image is extracted once into the per-user cache ($XDG_CACHE_HOME/xar/extract, else \
            ~/.cache/xar/extract), as the launcher does when FUSE is unavailable; later runs reuse it. The \
            program replaces xarctl, so its exit status is the program's. XAR_QUIET=1 silences the extraction note.
            """
    )

    @Argument(help: "The .xar file.")
    public var file: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the program (after --).")
    public var arguments: [String] = []

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Extracts if needed and execs the target.
    public func run() throws {
        let passed = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        do {
            try ExtractedRun.run(imagePath: file, arguments: passed, quiet: Settings.current.quiet)
        } catch {
            throw CommandFailure(error.message)
        }
    }
}
