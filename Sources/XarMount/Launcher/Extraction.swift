internal import XarSystem

/// The no-FUSE fallback of the launcher: run the image from its extracted copy in the `ExtractionCache`.
enum Extraction {
    /// Execs the target from the extracted tree (extracting it first if needed); never returns normally.
    ///
    /// Says once on stderr, when it extracts, `why` (a clause: "FUSE is unavailable (…)") and where (not with `XAR_QUIET=1`); later runs find the
    /// tree and exec without a word and without reading the image. A thin image's runtime is extracted the same way
    /// (one more line when it is), and its loader runs with `$RUNTIME` naming its extracted tree.
    static func runFallback(
        why: String, image: consuming FileDescriptor, header: LaunchHeader, imagePath: String,
        userArguments: ArraySlice<String>
    ) throws(LaunchError) -> Never {
        // A thin image's runtime first, into the same cache under its own digest (proven before it is published):
        // every thin image on one runtime shares its one extracted tree.
        var runtimeTree: String?
        if let dependency = header.runtime {
            runtimeTree = try extractRuntime(dependency, imagePath: imagePath) { runtimePath, path in
                guard !Settings.current.quiet else { return }
                StandardError.writeLine(
                    "\(Launcher.programName): \(why); running the runtime \(runtimePath) of \(imagePath) from an "
                        + "extracted copy in \(path)")
            }
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
        let target = TargetArguments(
            header: header, root: tree, runtimeRoot: runtimeTree, invokedPath: imagePath,
            userArguments: userArguments)
        let error = Exec.replace(path: target.path, arguments: target.argv)
        throw LaunchError(
            .execFailed,
            "cannot execute \(target.path): \(error); check that XAREXEC_TARGET names an executable file in the image")
    }

    /// Finds the runtime `dependency` of the thin image at `imagePath` where the launcher looks (`RuntimeLocator`)
    /// and returns its extracted tree in the `ExtractionCache`, under its digest (its bytes hashed to that digest
    /// before the tree is published); `announce` is called with the runtime file's path and the tree's path once,
    /// before extracting. The launcher's fallback and `xarctl run` share it.
    static func extractRuntime(
        _ dependency: RuntimeDependency, imagePath: String, announce: (String, String) -> Void
    ) throws(LaunchError) -> String {
        let found = try RuntimeLocator.find(dependency, imagePath: imagePath)
        let runtimePath = found.path
        try HostFloor.check(found.header, path: runtimePath)
        return try ExtractionCache.tree(
            image: found.image, offset: found.header.offset, key: dependency.digest, imagePath: runtimePath
        ) { path in announce(runtimePath, path) }
    }
}
