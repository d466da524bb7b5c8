// xarexec: the launcher, and (invoked as `xarfs`) the FUSE server it starts. See docs/launcher.md.
import XarMount

let arguments = CommandLine.arguments
if arguments.first?.split(separator: "/").last == "xarfs" {
    XarMount.Server.main(arguments: arguments)
}
Launcher.main(arguments: arguments)
