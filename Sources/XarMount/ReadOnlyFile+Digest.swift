internal import XarFormat
public import XarSystem

extension ReadOnlyFile {
    /// The SHA-256 of the file's bytes from `offset` to the end, as lowercase hex: an image's digest
    /// (`XAR_IMAGE_SHA256` covers the image, from the header's `OFFSET` on).
    public func sha256(from offset: UInt64) throws(SystemError) -> String {
        var hash = SHA256()
        try forEachChunk(from: offset) { hash.update($0) }
        return hash.finalizeHex()
    }
}
