/// Paths inside an image that the builder writes and the launcher's side reads: the contract between the two.
public enum XarImageLayout {
    /// The files a start of the image's default entry point reads, in the order it needs them: one path per line,
    /// relative to the image root. `xarbuild python` writes it; without a saved start-up plan the server makes one
    /// from it, so that an image's first cold start on a host reads ahead too (docs/lifecycle.md, "Cold starts").
    public static let startupList = ".xar/startup-files"

    /// What the image is and holds (JSON: `kind` `application` or `runtime`, the interpreter, the packages, a thin
    /// image's runtime), written by `xarbuild python` and `xarbuild runtime`; `xarctl inspect` shows it and
    /// `xarctl warm` tells a runtime by it.
    public static let metadata = ".xar/metadata.json"
}
