// xarctl: operators' commands; started as `xarfs` (by `xarctl mount`), the FUSE server. See docs/operations.md.
import XarCommands

XarctlMount.serveIfStartedAsServer(CommandLine.arguments)
ToolMain.run(XarctlCommand.self, name: "xarctl")
