public import struct SystemPackage.Errno
internal import Glibc

/// A system call that failed, with what was being done and to which path: the one I/O error below the commands.
///
/// The wrappers in this module throw the bare `Errno` (swift-system's style); the layer that knows the path and
/// the purpose wraps it once, here, so every message reads the same way: `cannot open /x/y: No such file or
/// directory`. The errno's text is always `Errno`'s own description (`strerror`), never computed again elsewhere.
/// swift-nio's `IOError(errnoCode:reason:)` is the model.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error the kernel reported.
    public let errno: Errno
    /// What was being done, as a verb phrase that reads after "cannot": "open", "read", "create the directory".
    public let operation: String
    /// The path it was done to, when there is one.
    public let path: String?

    /// `errno` from `operation` on `path`.
    public init(_ errno: Errno, _ operation: String, path: String? = nil) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    /// `errno` from `operation` on `path`, from the raw code a C function reported.
    public init(code: Int32, _ operation: String, path: String? = nil) {
        self.init(Errno(rawValue: code), operation, path: path)
    }

    /// The errno's text alone ("No such file or directory"), for messages that name the path themselves.
    public var reason: String { errno.description }

    /// "cannot `operation` `path`: `reason`".
    public var description: String {
        if let path { return "cannot \(operation) \(path): \(reason)" }
        return "cannot \(operation): \(reason)"
    }
}

/// Runs `body` and gives a thrown `Errno` its context: what was being done, to which path.
@inline(__always)
public func withContext<T: ~Copyable>(
    _ operation: String, path: String? = nil, _ body: () throws(Errno) -> T
) throws(SystemError) -> T {
    do { return try body() } catch { throw SystemError(error, operation, path: path) }
}

extension Errno {
    /// The text of an error from a system call: `strerror`'s text for an `Errno` or a `SystemError`'s errno,
    /// the error's own description otherwise. The one way errno becomes text above this module.
    public static func reason(of error: any Error) -> String {
        if let errno = error as? Errno { return errno.description }
        if let system = error as? SystemError { return system.reason }
        return "\(error)"
    }

    /// The calling thread's current `errno`, for the few callers of C code that reports through it.
    public static var lastError: Errno { Errno(rawValue: Glibc.errno) }
}
