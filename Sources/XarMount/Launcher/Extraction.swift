internal import XarSystem

/// The no-FUSE fallback: extract the image into a per-user content-addressed cache and run from there.
enum Extraction {
    /// Runs the image from its extracted copy; never returns normally.
    static func runFallback(
        reason: String, image: consuming FileDescriptor, header: LaunchHeader, imagePath: String,
        userArguments: ArraySlice<String>
    ) throws(LaunchError) -> Never {
        throw LaunchError(
            .noFuse,
            "FUSE is unavailable (\(reason)) and this build cannot extract images; install fuse3 and make "
                + "/dev/fuse usable")
    }
}
