import Foundation
import struct SystemPackage.Errno
import XarSystem

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

    /// The reason in a system error, for the commands: `Errno`'s text for an `Errno`, a `SystemError` or a
    /// Foundation error that wraps a POSIX code (without Foundation's boilerplate), the error's description
    /// otherwise.
    static func reason(_ error: any Error) -> String {
        if error is Errno || error is SystemError { return Errno.reason(of: error) }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Errno(rawValue: Int32(underlying.code)).description
        }
        if ns.domain == NSPOSIXErrorDomain { return Errno(rawValue: Int32(ns.code)).description }
        if ns.domain == NSCocoaErrorDomain { return ns.localizedDescription }
        return "\(error)"
    }
}
