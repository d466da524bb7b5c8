/// Why an operator's command (`xarctl mount`, `unmount`, `gc`, `run`) could not do its job: one sentence that
/// names the file or mount, what is wrong and what to do.
///
/// `xarctl` prints it as `xarctl: error: <message>` and exits non-zero; nothing was changed when it is thrown
/// before the operation started.
public struct OperationError: Error, Sendable, CustomStringConvertible {
    /// The sentence, path first.
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    /// An error carrying a launcher error's sentence (the same rules, so the same words).
    public init(_ error: LaunchError) { self.message = error.message }

    /// `message`.
    public var description: String { message }
}
