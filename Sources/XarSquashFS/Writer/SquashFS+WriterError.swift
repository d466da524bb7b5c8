extension SquashFS {
    /// Why the writer refused a tree. Paths are relative to the tree's root.
    public enum WriterError: Error, Sendable, Equatable, CustomStringConvertible {
        case invalidBlockSize(Int)
        case invalidName(path: String)
        case nameTooLong(path: String)
        case duplicateName(path: String)
        case symlinkTargetTooLong(path: String, length: Int)
        case tooManyIDs
        case shortContent
        case unstorableXattr(name: [UInt8])

        public var description: String {
            switch self {
            case .invalidBlockSize(let size):
                return "The block size \(size) is not a power of two between 4096 and 1048576."
            case .invalidName(let path): return "The name of \(path) is empty, '.', '..' or contains '/'."
            case .nameTooLong(let path): return "The name of \(path) is longer than 256 bytes."
            case .duplicateName(let path): return "The name \(path) appears twice in its directory."
            case .symlinkTargetTooLong(let path, let length):
                return "The symbolic link \(path) has a target of \(length) bytes; at most 4095 fit."
            case .tooManyIDs: return "The tree has more than 65536 distinct user and group ids."
            case .shortContent: return "A file's content ended before its size."
            case .unstorableXattr(let name):
                return "The extended attribute \(String(decoding: name, as: UTF8.self)) is not in the user, trusted "
                    + "or security namespace, or its name is too long."
            }
        }
    }
}
