public import ArgumentParser
internal import XarMount

/// `xarctl unmount FILE.xar|MOUNTPATH [--force]`.
public struct XarctlUnmount: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a .xar mount, named by its .xar file or its mount path.",
        discussion: """
            Refuses, naming the processes (pid, command, how), while anything uses the mount. --force detaches \
            it lazily anyway: it leaves the tree at once and goes away when its last user does. Removes the pin \
            of xarctl mount --pin.
            """
    )

    @Argument(help: "The .xar file or the mount path.")
    public var target: String

    @Flag(help: "Detach it lazily even while processes use it.")
    public var force = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Unmounts.
    public func run() throws {
        do {
            let record = try MountRemover.find(target)
            try MountRemover.unmount(record, force: force)
        } catch {
            throw CommandFailure(error.message)
        }
    }
}
