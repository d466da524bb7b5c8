internal import XarSystem

/// Finds the runtime a thin image names (docs/runtimes.md, "Where the launcher looks").
///
/// The places, in order: each directory of `$XAR_RUNTIME_PATH`, the directory holding the application's `.xar`
/// (symlinks resolved), then `systemDirectory`. In each, the runtime's file name from the header, then
/// `<digest>.xar`. Last, the local-copy cache: `<digest>.xar` in `images/` of the per-user directory of each
/// mount root a launch would use, where servers keep the copies of images launched from network file systems
/// (docs/lifecycle.md, "Source loss"), so a runtime whose network directory is gone is still found. A file is taken
/// when its header's `XAR_IMAGE_SHA256` is the digest named (one `pread`); its bytes are hashed before it is first
/// mounted (`Launcher.mountRuntime`), a local copy's like any other file's. When no place has it, one line names
/// the digest and every place looked (and what was found instead), with status 118.
enum RuntimeLocator {
    /// The system-wide directory of runtimes, searched last.
    static let systemDirectory = "/usr/lib/xar/runtimes"

    /// A runtime file found: open, its header read.
    struct Found: ~Copyable {
        let image: FileDescriptor
        let path: String
        let header: LaunchHeader
    }

    /// The directories searched for the runtime of the image at `imagePath`, in order, without repeats.
    static func directories(imagePath: String) -> [String] {
        var list = Settings.current.runtimePath.filter { !$0.isEmpty }
        let real = Launcher.absolute(imagePath)
        if let slash = real.lastIndex(of: "/") {
            list.append(slash == real.startIndex ? "/" : String(real[..<slash]))
        } else {
            list.append(".")
        }
        list.append(systemDirectory)
        var seen: Set<String> = []
        return list.filter { seen.insert($0).inserted }
    }

    /// The local-copy directories searched last: `images/` in `uid-<euid>` of the mount root a launch would use
    /// (`XAR_MOUNT_ROOT`, else each default root), where a server keeps its copy of a network-sourced image under
    /// its digest (`LocalCopier.defaultDirectory`).
    static func localCopyDirectories() -> [String] {
        let roots = MountLocation.explicitRoot().map { [$0] } ?? MountLocation.defaultRoots()
        return roots.map { root in
            (root.hasSuffix("/") ? String(root.dropLast()) : root) + "/uid-\(Processes.effectiveUserID)/images"
        }
    }

    /// Every path where the runtime `dependency` of the image at `imagePath` is looked for, in order.
    static func candidates(_ dependency: RuntimeDependency, imagePath: String) -> [String] {
        var paths: [String] = []
        for directory in directories(imagePath: imagePath) {
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            paths.append(prefix + dependency.fileName)
            if dependency.fileName != dependency.digest + ".xar" { paths.append(prefix + dependency.digest + ".xar") }
        }
        for directory in localCopyDirectories() {
            let copy = directory + "/" + dependency.digest + ".xar"
            if !paths.contains(copy) { paths.append(copy) }
        }
        return paths
    }

    /// Hashes the bytes of the runtime `found` (once per file: `DigestCache`) and checks they are the digest
    /// `dependency` names, as before a runtime is first mounted or warmed; its header's claim alone is not proof.
    static func proveDigest(
        of found: borrowing Found, _ dependency: RuntimeDependency, imagePath: String
    ) throws(LaunchError) {
        guard let real = DigestCache.digest(of: found.image, offset: found.header.offset) else {
            throw LaunchError(.badImage, "cannot read the runtime \(found.path) to compute its digest")
        }
        guard real == dependency.digest else {
            throw LaunchError(
                .runtimeMissing,
                "\(found.path) claims to be the runtime \(dependency.reference) of \(imagePath), but its SHA-256 is "
                    + "\(real): it is corrupt or an impostor (xarctl verify \(found.path))")
        }
    }

    /// Finds the runtime `dependency` of the image at `imagePath`.
    static func find(_ dependency: RuntimeDependency, imagePath: String) throws(LaunchError) -> Found {
        var looked: [String] = []
        var instead: [String] = []
        for path in candidates(dependency, imagePath: imagePath) {
            looked.append(path)
            // A regular file only, and never a wait (a FIFO is refused at once): as for the application.
            guard let file = try? LaunchImage.open(path) else { continue }
            let header: LaunchHeader
            do { header = try Launcher.readHeader(file, path: path) } catch {
                instead.append("\(path) is not a usable .xar")
                continue
            }
            guard header.digest == dependency.digest else {
                instead.append("\(path) is sha256:\(header.digest ?? "none")")
                continue
            }
            return Found(image: file, path: path, header: header)
        }
        let found = instead.isEmpty ? "" : " (\(instead.joined(separator: "; ")))"
        throw LaunchError(
            .runtimeMissing,
            "\(imagePath) runs on the runtime \(dependency.reference), which is not in any of \(looked.joined(separator: ", "))"
                + "\(found); put that runtime (\(dependency.fileName)) next to the application or in a directory of "
                + "XAR_RUNTIME_PATH")
    }
}
