public import ArgumentParser

/// `xarctl`: what operators use to see, stage, clean and check `.xar` files and their mounts.
public struct XarctlCommand: ParsableCommand {
    /// The subcommands, one file each, and examples.
    public static let configuration = CommandConfiguration(
        commandName: "xarctl",
        abstract: "See, stage, clean up, check and unpack .xar files and their mounts.",
        discussion: """
            Examples:
              xarctl mount tool.xar             mount (if needed) and print the mount path
              xarctl mount --pin tool.xar       ... and keep it mounted until xarctl unmount
              xarctl list                       every .xar mount: image, server, users, idle time
              xarctl list --json                the same for scripts
              xarctl unmount tool.xar           unmount, unless a process still uses it
              xarctl gc --idle 15m --dry-run    what a clean-up would do
              xarctl warm tool.xar              after a deploy: make its first cold start here a fast one
              xarctl run tool.xar -- --help     run without FUSE, from the extraction cache
              xarctl inspect tool.xar           header, image summary, the builder's metadata
              xarctl verify tool.xar            exit 0 when sound, 1 with the first problem
              xarctl extract tool.xar out/      unpack without FUSE (atomically; out/ must be new or empty)

            Shell completion: xarctl --generate-completion-script bash|zsh|fish.
            Exit status: 0 on success, 1 when the file is bad or the command could not do its job (one line \
            names the file and the problem; nothing was changed), 64 for a bad command line; xarctl run exits \
            with the program's status.
            """,
        version: XarVersion.current,
        subcommands: [
            XarctlMount.self, XarctlUnmount.self, XarctlList.self, XarctlGC.self, XarctlWarm.self, XarctlRun.self,
            XarctlInspect.self, XarctlVerify.self, XarctlExtract.self,
        ]
    )

    /// Creates the command; ArgumentParser calls this.
    public init() {}
}
