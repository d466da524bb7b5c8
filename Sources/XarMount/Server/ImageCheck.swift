internal import Glibc
internal import XarCompression
internal import XarSquashFS

extension XarMount.Server {
    /// The structural check an image passes before the server hands it to libsquashfuse (see
    /// `SquashFS.Reader.checkStructure`): libsquashfuse 0.1.105 trusts every length, index and offset in the image,
    /// and a crafted one crashes it. The Swift reader checks each of them against the table it belongs to.
    enum ImageCheck {
        /// Checks the image at `offset` in the open file `imageFD`; throws `badImage` with the reader's sentence.
        static func check(imageFD: Int32, offset: UInt64, imagePath: String) throws(XarMount.ServerError) {
            do {
                let reader = try SquashFS.Reader(
                    source: FileImageSource(descriptor: imageFD), imageOffset: offset,
                    decompressor: { id, options in try Codecs.decompressor(for: id, optionsBlock: options) })
                try reader.checkStructure()
            } catch {
                throw .badImage(path: imagePath, reason: "its structure is corrupt: \(error)")
            }
        }
    }
}
