public import ArgumentParser
internal import Foundation
internal import XarMount

/// `xarctl mount FILE.xar [--pin] [--json]`: mounts like the launcher's cold path and prints only the mount path;
/// for a thin image, its runtime's mount too (docs/runtimes.md).
public struct XarctlMount: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a .xar (if it is not mounted yet) and print the mount path.",
        discussion: """
            Nothing but the mount path goes to standard output, so scripts can use $(xarctl mount tool.xar). \
            A thin image (one built on a runtime) is a chain: its runtime is found, proven and mounted (or \
            joined) first, as the launcher does, and its mount path is printed on a second line; a runtime \
            found nowhere is one line naming its digest and every place looked, and nothing is mounted. \
            With --pin the mount (and a thin image's runtime's) stays until xarctl unmount, whatever its idle \
            timeout.
            """
    )

    @Argument(help: "The .xar file.")
    public var file: String

    @Flag(help: "Keep it mounted (a thin image's runtime too), whatever the idle timeout, until xarctl unmount.")
    public var pin = false

    @Flag(help: "Print JSON: mount_point, and for a thin image runtime (digest, image_path, mount_point).")
    public var json = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Mounts and prints the path (the image's, then its runtime's).
    public func run() throws {
        let staged: MountStager.Staged
        do { staged = try MountStager.mountChain(imagePath: file, pin: pin) } catch {
            throw CommandFailure(error.message)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(staged), as: UTF8.self))
            return
        }
        print(staged.mountPoint)
        if let runtime = staged.runtime { print(runtime.mountPoint) }
    }

    /// Runs the FUSE server when this executable was started as `xarfs`: `xarctl mount` starts the server the
    /// way the launcher does (`/proc/self/exe` under the name `xarfs`), and that is this binary.
    public static func serveIfStartedAsServer(_ arguments: [String]) {
        if arguments.first?.split(separator: "/").last == "xarfs" {
            XarMount.Server.main(arguments: arguments)
        }
    }
}
