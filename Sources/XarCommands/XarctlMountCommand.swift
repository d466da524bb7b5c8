public import ArgumentParser
internal import XarMount

/// `xarctl mount FILE.xar [--pin]`: mounts like the launcher's cold path and prints only the mount path.
public struct XarctlMount: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a .xar (if it is not mounted yet) and print the mount path.",
        discussion: """
            Nothing but the mount path goes to standard output, so scripts can use $(xarctl mount tool.xar). \
            With --pin the mount stays until xarctl unmount, whatever its idle timeout.
            """
    )

    @Argument(help: "The .xar file.")
    public var file: String

    @Flag(help: "Keep it mounted, whatever the idle timeout, until xarctl unmount.")
    public var pin = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Mounts and prints the path.
    public func run() throws {
        do {
            print(try MountStager.mount(imagePath: file, pin: pin))
        } catch {
            throw CommandFailure(error.message)
        }
    }

    /// Runs the FUSE server when this executable was started as `xarfs`: `xarctl mount` starts the server the
    /// way the launcher does (`/proc/self/exe` under the name `xarfs`), and that is this binary.
    public static func serveIfStartedAsServer(_ arguments: [String]) {
        if arguments.first?.split(separator: "/").last == "xarfs" {
            XarMount.Server.main(arguments: arguments)
        }
    }
}
