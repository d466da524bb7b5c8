// xarexec: the launcher, and (as argv[0] "xarfs") the FUSE server it starts. See docs/launcher.md.
import XarMount

let arguments = CommandLine.arguments
let name = arguments.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? "xarexec"
if name == "xarfs" {
    Launcher.fail(LaunchError(.serverFailed, "this xarexec was built without the FUSE server"))
}
Launcher.main(arguments: arguments)
