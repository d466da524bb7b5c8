internal import XarSystem
internal import struct SystemPackage.Errno

/// `xarctl mount`: the launcher's cold path without the exec. Mounts an image if it is not mounted yet and
/// returns the mount path; with `pin`, leaves `<mount>.pin` so the server keeps it mounted until
/// `xarctl unmount`.
///
/// Every step is the launcher's own function (`Launcher.readHeader`, `MountLocation`, `Launcher.openLock`,
/// `MountProbe`, `Launcher.removeDeadMount`, `Launcher.mount`, and for a thin image's runtime
/// `Launcher.mountRuntime`), in the launcher's order, so a staged mount is exactly the mount the next launch finds.
public enum MountStager {
    /// A thin image's runtime, mounted (or joined) before the image itself.
    public struct StagedRuntime: Sendable, Equatable, Codable {
        /// The runtime's digest, as the image's `DEPENDENCIES` names it.
        public var digest: String
        /// The runtime file found where the launcher looks (`RuntimeLocator`).
        public var imagePath: String
        /// The runtime's mount path.
        public var mountPoint: String
    }

    /// What `mountChain` mounted: the image's mount path, and its runtime's for a thin image.
    public struct Staged: Sendable, Equatable, Codable {
        /// The image's mount path.
        public var mountPoint: String
        /// The runtime's, for a thin image; nil for any other image.
        public var runtime: StagedRuntime?
    }

    /// Mounts `imagePath` (if needed) and returns its mount path. A thin image's runtime is not mounted: see
    /// `mountChain`.
    public static func mount(imagePath: String, pin: Bool) throws(OperationError) -> String {
        do { return try stage(imagePath, pin: pin, chain: false).mountPoint } catch { throw OperationError(error) }
    }

    /// Mounts `imagePath` (if needed), and first, for a thin image, its runtime as the launcher finds, proves and
    /// mounts (or joins) it; returns both mount paths. A runtime found nowhere is the launcher's one line (the
    /// digest and every place looked), and nothing of the image is mounted. With `pin`, both mounts are pinned.
    public static func mountChain(imagePath: String, pin: Bool) throws(OperationError) -> Staged {
        do { return try stage(imagePath, pin: pin, chain: true) } catch { throw OperationError(error) }
    }

    static func stage(_ imagePath: String, pin: Bool, chain: Bool) throws(LaunchError) -> Staged {
        let image = try LaunchImage.open(imagePath)
        let header = try Launcher.readHeader(image, path: imagePath)
        let location = try MountLocation(header: header)
        // The runtime first, as the launcher does: when it is missing, nothing of the image is mounted. Its root
        // stays open (`runtimePin`) until the image is mounted, so an idle runtime cannot go in between.
        var staged: StagedRuntime?
        var runtimePin: FileDescriptor?
        if chain, let dependency = header.runtime {
            let outcome = try Launcher.mountRuntime(dependency, imagePath: imagePath, pinFile: pin)
            switch consume outcome {
            case .mounted(let mounted):
                staged = StagedRuntime(
                    digest: dependency.digest, imagePath: mounted.imagePath, mountPoint: mounted.mountPoint)
                runtimePin = consume mounted.pin
            case .noFuse(let why):
                throw LaunchError(
                    .noFuse,
                    "cannot mount the runtime of \(imagePath): \(why); run it from extracted copies with xarctl run "
                        + imagePath)
            }
        }
        let lock = try Launcher.openLock(location)
        var sourceLost = false
        var probe = try MountProbe.probe(location, header: header, sourceLost: &sourceLost)
        try MountIdentity.admit(&probe, location, header: header, image: image, imagePath: imagePath)
        if !probe.isLive { sourceLost = false }  // not joined: a fresh mount is made
        if !probe.isLive {
            if let reason = FuseAvailability.unavailableReason() {
                throw LaunchError(
                    .noFuse,
                    "cannot mount \(imagePath): FUSE is unavailable (\(reason)); run it from an extracted copy with "
                        + "xarctl run \(imagePath)")
            }
            try Launcher.take(lock, .exclusive, location)
            probe = try MountProbe.probe(location, header: header)
            try MountIdentity.replaceForeign(&probe, location, header: header, image: image, imagePath: imagePath)
            if probe.isDead { try Launcher.removeDeadMount(location) }
            if !probe.isLive {
                try Launcher.mount(location, header: header, image: image, imagePath: imagePath)
                probe = try MountProbe.probe(location, header: header)
            }
        }
        guard probe.isLive else {
            throw LaunchError(
                .serverFailed, "the FUSE server reported \(location.mountPoint) mounted, but it is not; see xarctl list"
            )
        }
        // (Not `sourceLost && offer(…)`: the right side would be an autoclosure capturing the noncopyable location.)
        let healed = sourceLost ? SourceHealing.offer(location, imagePath: imagePath) : true
        if !healed {
            throw LaunchError(
                .serverFailed,
                "\(location.mountPoint) lost its source and did not take \(imagePath) as the new one; see xarctl list")
        }
        // Written while the lock is held, so the server cannot unmount between the mount and the pin.
        if pin { try Launcher.createPinFile(location) }
        _ = consume lock
        _ = consume runtimePin
        return Staged(mountPoint: location.mountPoint, runtime: staged)
    }
}
