internal import Glibc
internal import XarSystem

/// The no-FUSE fallback of the launcher: run the image from its extracted copy in the `ExtractionCache`.
enum Extraction {
    /// Execs the target from the extracted tree (extracting it first if needed); never returns normally.
    ///
    /// Says once on stderr, when it extracts, `why` (a clause: "FUSE is unavailable (…)") and where (not with `XAR_QUIET=1`); later runs find the
    /// tree and exec without a word and without reading the image.
    static func runFallback(
        why: String, image: consuming FileDescriptor, header: LaunchHeader, imagePath: String,
        userArguments: ArraySlice<String>
    ) throws(LaunchError) -> Never {
        let quiet = getenv("XAR_QUIET").map { String(cString: $0) == "1" } ?? false
        let key = ExtractionCache.key(digest: header.digest, uuid: header.uuid)
        let tree = try ExtractionCache.tree(image: image, offset: header.offset, key: key, imagePath: imagePath) {
            path in
            guard !quiet else { return }
            let line =
                "\(Launcher.programName): \(why); running \(imagePath) from an "
                + "extracted copy in \(path)\n"
            line.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
        }
        _ = consume image
        let target = TargetArguments(header: header, root: tree, invokedPath: imagePath, userArguments: userArguments)
        let error = Exec.replace(path: target.path, arguments: target.argv)
        throw LaunchError(
            .execFailed,
            "cannot execute \(target.path): \(error); check that XAREXEC_TARGET names an executable file in the image")
    }
}
