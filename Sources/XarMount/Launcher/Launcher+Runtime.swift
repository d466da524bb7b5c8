internal import XarSystem

/// A thin image's runtime, mounted (docs/runtimes.md): its mount point and its open root, which pins the mount
/// until the launcher's `exec`; from then on the process's executable (the runtime's loader) pins it.
struct RuntimeMount: ~Copyable {
    let mountPoint: String
    let pin: FileDescriptor
    /// The runtime file mounted or joined (where `RuntimeLocator` found it).
    let imagePath: String
}

/// What mounting a thin image's runtime came to: mounted (or joined), or not possible because FUSE is unavailable
/// (`why`, the clause the extraction fallback's notice begins with).
enum RuntimeMountOutcome: ~Copyable {
    case mounted(RuntimeMount)
    case noFuse(why: String)
}

extension Launcher {
    /// Finds the runtime that `header` names, and mounts it or joins its mount: the same per-user mount, lock and
    /// state file as any image, so every thin image on one runtime shares one mount and one page cache.
    ///
    /// Before a runtime file is first mounted its bytes are hashed (once per file: `DigestCache`) and must be the
    /// digest named; a live mount is joined as any image's is (`MountIdentity`). Without FUSE (as the launcher decides
    /// for any image, `FuseAvailability`), `.noFuse`: the caller runs both images from the extraction cache.
    /// With `pinFile` (`xarctl mount --pin`), the runtime's mount is pinned too, its pin file written under its lock.
    static func mountRuntime(
        _ dependency: RuntimeDependency, imagePath: String, pinFile: Bool = false
    ) throws(LaunchError) -> RuntimeMountOutcome {
        let found = try RuntimeLocator.find(dependency, imagePath: imagePath)
        let path = found.path, header = found.header
        try HostFloor.check(header, path: path)
        guard let location = try MountLocation.find(header: header) else {
            throw LaunchError(.unsafePath, "no mount root is usable for the runtime \(path)")
        }
        let lock = try openLock(location)
        var sourceLost = false
        var probe = try MountProbe.probe(location, header: header, sourceLost: &sourceLost)
        try MountIdentity.admit(&probe, location, header: header, image: found.image, imagePath: path)
        if !probe.isLive {
            sourceLost = false
            if let reason = FuseAvailability.unavailableReason() {
                return .noFuse(why: "FUSE is unavailable (\(reason))")
            }
            try RuntimeLocator.proveDigest(of: found, dependency, imagePath: imagePath)
            try take(lock, .exclusive, location)
            probe = try MountProbe.probe(location, header: header)
            try MountIdentity.replaceForeign(&probe, location, header: header, image: found.image, imagePath: path)
            if probe.isDead { try removeDeadMount(location) }
            if !probe.isLive {
                do {
                    try mount(location, header: header, image: found.image, imagePath: path)
                } catch let error where FuseAvailability.isRefusedMount(error) {
                    return .noFuse(why: "FUSE is unavailable (mounting failed: \(error.message))")
                }
                probe = try MountProbe.probe(location, header: header)
            }
        }
        let pin: FileDescriptor
        switch consume probe {
        case .live(let root): pin = root
        default:
            throw LaunchError(
                .serverFailed,
                "the FUSE server reported \(location.mountPoint) (the runtime \(path)) mounted, but it is not; see "
                    + "xarctl list")
        }
        if sourceLost { _ = SourceHealing.offer(location, imagePath: path) }
        if pinFile { try createPinFile(location) }
        _ = consume lock
        return .mounted(RuntimeMount(mountPoint: location.mountPoint, pin: pin, imagePath: path))
    }
}
