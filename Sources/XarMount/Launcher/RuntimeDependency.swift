/// The runtime a thin image names in its header: `DEPENDENCIES="FILE@sha256:HEX"` (docs/header.md).
///
/// `HEX` (64 lowercase hex digits) is the runtime image's SHA-256, its identity; `FILE` is the runtime's file name
/// when the image was built, the first name the launcher looks for in each directory (`RuntimeLocator`), before
/// `HEX.xar`.
public struct RuntimeDependency: Sendable, Equatable {
    /// The runtime's file name at build time (no directory).
    public var fileName: String
    /// The runtime image's SHA-256, lowercase hex.
    public var digest: String

    /// Parses one `DEPENDENCIES` word; nil when it is not `FILE@sha256:HEX`.
    public init?(_ word: String) {
        guard let at = word.lastIndex(of: "@") else { return nil }
        let name = String(word[..<at]), rest = word[word.index(after: at)...]
        guard rest.hasPrefix("sha256:") else { return nil }
        let hex = String(rest.dropFirst("sha256:".count))
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", hex.utf8.count == 64,
            hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return nil }
        fileName = name
        digest = hex
    }

    /// Every path where the launcher looks for this runtime of the image at `imagePath`, in order
    /// (`RuntimeLocator`; `xarctl verify` checks the chain through the same places).
    public func searchPaths(imagePath: String) -> [String] {
        RuntimeLocator.candidates(self, imagePath: imagePath)
    }

    /// `sha256:HEX`, as messages name the runtime.
    public var reference: String { "sha256:\(digest)" }
}
