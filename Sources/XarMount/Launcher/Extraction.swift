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
        if header.runtime != nil {
            throw LaunchError(
                .noFuse,
                "cannot run \(imagePath): \(why), and images built with --runtime need FUSE (the extraction fallback "
                    + "runs standalone images only)")
        }
        let key = ExtractionCache.key(digest: header.digest, uuid: header.uuid)
        let tree = try ExtractionCache.tree(image: image, offset: header.offset, key: key, imagePath: imagePath) {
            path in
            guard !Settings.current.quiet else { return }
            StandardError.writeLine(
                "\(Launcher.programName): \(why); running \(imagePath) from an "
                    + "extracted copy in \(path)")
        }
        _ = consume image
        let target = TargetArguments(header: header, root: tree, invokedPath: imagePath, userArguments: userArguments)
        let error = Exec.replace(path: target.path, arguments: target.argv)
        throw LaunchError(
            .execFailed,
            "cannot execute \(target.path): \(error); check that XAREXEC_TARGET names an executable file in the image")
    }
}
