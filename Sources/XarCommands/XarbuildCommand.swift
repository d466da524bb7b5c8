public import ArgumentParser

/// `xarbuild`: makes `.xar` files. Subcommands: `dir` (any directory); the Python builder adds its own.
public struct XarbuildCommand: ParsableCommand {
    /// The subcommands; other modules' builders are listed here as they land.
    public static let configuration = CommandConfiguration(
        commandName: "xarbuild",
        abstract: "Build single-file .xar executables: a shell-safe header followed by a SquashFS image.",
        discussion: """
            Exit status: 0 on success, 1 when the build failed (one line names the file and the problem; \
            nothing is left behind), 64 for a bad command line.
            """,
        version: XarVersion.current,
        subcommands: [XarbuildDir.self, PythonCommand.self, RuntimeCommand.self]
    )

    /// Creates the command; ArgumentParser calls this.
    public init() {}
}

/// The project's version, written into every header's `XAR_BUILDER` and printed by `--version`.
public enum XarVersion {
    /// The version string.
    public static let current = "0.1.0"
}
