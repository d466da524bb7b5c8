extension SquashFS {
    /// The one error of the SquashFS reader: a sentence saying what is wrong with the image and where.
    ///
    /// The reader never traps on bad data: every offset, size and count read from the image is checked, and what
    /// does not fit throws this. Callers prefix the file's path (the reader does not know it).
    public struct ReadError: Error, Sendable, CustomStringConvertible, Equatable {
        /// The whole sentence, e.g. "The superblock's magic is 0x00000000, not hsqs (0x73717368)."
        public var message: String

        /// Makes an error from a whole sentence.
        public init(_ message: String) { self.message = message }

        /// The sentence, for printing.
        public var description: String { message }
    }
}
