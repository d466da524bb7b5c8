public import ArgumentParser

/// `xarctl`: what operators use to look into, check and unpack `.xar` files.
public struct XarctlCommand: ParsableCommand {
    /// The subcommands and examples.
    public static let configuration = CommandConfiguration(
        commandName: "xarctl",
        abstract: "Inspect, verify and extract .xar files.",
        discussion: """
            Examples:
              xarctl inspect tool.xar            # header, image summary, the builder's metadata
              xarctl inspect tool.xar --json     # the same for scripts
              xarctl verify tool.xar             # exit 0 when sound, 1 with the first problem
              xarctl extract tool.xar out/       # unpack without FUSE (atomically; out/ must be new or empty)

            Exit status: 0 on success, 1 when the file is bad or the work failed (one line names the file and \
            the problem), 64 for a bad command line.
            """,
        version: XarVersion.current,
        subcommands: [XarctlInspect.self, XarctlVerify.self, XarctlExtract.self]
    )

    /// Creates the command; ArgumentParser calls this.
    public init() {}
}
