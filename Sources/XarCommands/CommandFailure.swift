import Glibc
import struct SystemPackage.Errno

/// A command that could not do its job because of its input: printed as one line `tool: error: <message>`,
/// exit status 1.
///
/// The message names the path first (`tool.xar: the header has no UUID key.`), so a user sees which file to fix.
public struct CommandFailure: Error, CustomStringConvertible, Sendable {
    /// The whole message, path first.
    public var message: String

    /// A failure with `message`, which already names the path.
    public init(_ message: String) { self.message = message }

    /// A failure about `path`: `"<path>: <problem>"`.
    public init(path: String, _ problem: String) { self.message = "\(path): \(problem)" }

    /// The message.
    public var description: String { message }

    /// The reason in a system error: `strerror`'s text for an `Errno`, the error's description otherwise.
    static func reason(_ error: any Error) -> String {
        if let errno = error as? Errno { return String(cString: strerror(errno.rawValue)) }
        return "\(error)"
    }
}
