/// The one error type of `XarCompression`: a sentence saying what failed (a bad setting, a corrupt block, a
/// library failure).
public struct CompressionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The whole sentence.
    public var message: String

    /// Makes an error from a whole sentence.
    public init(_ message: String) { self.message = message }

    /// The sentence, for printing.
    public var description: String { message }
}
