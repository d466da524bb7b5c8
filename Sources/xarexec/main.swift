import XarMount

// Interim dispatch (the launcher's branch owns this file): run as the FUSE server when invoked as `xarfs`.
if CommandLine.arguments.first?.split(separator: "/").last == "xarfs" {
    XarMount.Server.main(arguments: CommandLine.arguments)
}
