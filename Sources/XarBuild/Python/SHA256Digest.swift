import Foundation
import XarFormat

/// The two spellings of SHA-256 the Python builder needs, over `XarFormat.SHA256`: lowercase hex (locks,
/// metadata) and unpadded URL-safe base64 (wheel `RECORD` files).
enum SHA256Digest {
    /// The 32-byte digest of `data`.
    static func digest(of data: Data) -> [UInt8] {
        var hash = SHA256()
        data.withUnsafeBytes { hash.update($0) }
        return hash.finalize()
    }

    /// The digest as lowercase hex, the form locks use.
    static func hex(of data: Data) -> String {
        var hash = SHA256()
        data.withUnsafeBytes { hash.update($0) }
        return hash.finalizeHex()
    }

    /// The digest as URL-safe base64 without padding, the form wheel `RECORD` files use.
    static func recordForm(of data: Data) -> String {
        Data(digest(of: data)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
