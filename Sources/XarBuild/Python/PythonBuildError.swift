/// Why `xarbuild python` stopped: every case renders as whole sentences naming the file and what to do.
///
/// One error type for the Python builder, so the command can print one clear line (or, for a lock that does
/// not match the wheelhouse, one line per problem) and exit non-zero without leaving anything half-written.
public struct PythonBuildError: Error, Sendable, CustomStringConvertible {
    /// The sentences to show, one problem per line.
    public var problems: [String]

    /// An error with a single problem.
    public init(_ message: String) { problems = [message] }

    /// An error listing several problems found together (missing wheels, hash mismatches, sdists).
    public init(problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}
