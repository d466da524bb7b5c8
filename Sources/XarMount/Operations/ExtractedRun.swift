internal import XarSystem

/// `xarctl run`: runs a `.xar` from its extracted copy in the `ExtractionCache`, never through FUSE (for
/// containers without `/dev/fuse`, and for debugging an image without a mount). The launcher's fallback, chosen
/// on purpose: the same cache, the same key, the same argument rules; a thin image's runtime is found, proven
/// and extracted under its digest as the fallback does (`Extraction.extractRuntime`), and its loader runs with
/// `$RUNTIME` naming that tree.
public enum ExtractedRun {
    /// Execs the image's target from the extracted tree with `arguments` after it; returns only by throwing.
    /// Says on stderr when it extracted (not when `quiet`).
    public static func run(imagePath: String, arguments: [String], quiet: Bool) throws(OperationError) -> Never {
        do { try runExtracted(imagePath, arguments, quiet: quiet) } catch { throw OperationError(error) }
    }

    static func runExtracted(_ imagePath: String, _ arguments: [String], quiet: Bool) throws(LaunchError) -> Never {
        let image = try LaunchImage.open(imagePath)
        let header = try Launcher.readHeader(image, path: imagePath)
        // The runtime first: when it is missing, nothing of the image is extracted.
        var runtimeTree: String?
        if let dependency = header.runtime {
            var extractedRuntime: String?
            let tree = try Extraction.extractRuntime(dependency, imagePath: imagePath) { runtimePath, _ in
                extractedRuntime = runtimePath
            }
            // Said after the extraction succeeded, as for the image.
            if let extractedRuntime, !quiet {
                StandardError.writeLine(
                    "xarctl: extracted the runtime \(extractedRuntime) of \(imagePath) into \(tree)")
            }
            runtimeTree = tree
        }
        let key = ExtractionCache.key(digest: header.digest, uuid: header.uuid)
        var extracted = false
        let tree = try ExtractionCache.tree(image: image, offset: header.offset, key: key, imagePath: imagePath) {
            _ in extracted = true
        }
        // Said after the extraction succeeded, so a corrupt image gives one line, the error.
        if extracted && !quiet {
            StandardError.writeLine(
                "xarctl: extracted \(imagePath) into \(tree)")
        }
        _ = consume image
        let target = TargetArguments(
            header: header, root: tree, runtimeRoot: runtimeTree, invokedPath: imagePath, userArguments: arguments[...])
        let error = Exec.replace(path: target.path, arguments: target.argv)
        throw LaunchError(
            .execFailed,
            "cannot execute \(target.path): \(error); check that XAREXEC_TARGET names an executable file in the image")
    }
}
