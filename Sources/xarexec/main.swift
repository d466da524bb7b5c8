// xarexec: the launcher, and (invoked as `xarfs`) the FUSE server it starts. See docs/launcher.md.
import XarMount

// A setuid or setgid xarexec would honour the caller's XAR_* paths with another user's rights: refuse first.
Launcher.refuseIfPrivileged()
let arguments = CommandLine.arguments
// The basename of argv[0], without `split` (an array of substrings costs a generic instantiation per launch).
if let first = arguments.first, first == "xarfs" || first.hasSuffix("/xarfs") {
    XarMount.Server.main(arguments: arguments)
}
Launcher.main(arguments: arguments)
