internal import XarSystem
internal import struct SystemPackage.Errno

/// `xarctl mount`: the launcher's cold path without the exec. Mounts an image if it is not mounted yet and
/// returns the mount path; with `pin`, leaves `<mount>.pin` so the server keeps it mounted until
/// `xarctl unmount`.
///
/// Every step is the launcher's own function (`Launcher.readHeader`, `MountLocation`, `Launcher.openLock`,
/// `MountProbe`, `Launcher.removeDeadMount`, `Launcher.mount`), in the launcher's order, so a staged mount is
/// exactly the mount the next launch finds.
public enum MountStager {
    /// Mounts `imagePath` (if needed) and returns its mount path.
    public static func mount(imagePath: String, pin: Bool) throws(OperationError) -> String {
        do { return try stage(imagePath, pin: pin) } catch { throw OperationError(error) }
    }

    static func stage(_ imagePath: String, pin: Bool) throws(LaunchError) -> String {
        let image = try LaunchImage.open(imagePath)
        let header = try Launcher.readHeader(image, path: imagePath)
        let location = try MountLocation(header: header)
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
        if pin {
            // Written while the lock is held, so the server cannot unmount between the mount and the pin.
            do {
                _ = try location.userDirectory.open(
                    location.name + ".pin", .writeOnly, options: [.create, .noFollow], permissions: 0o600)
            } catch {
                throw LaunchError(.unsafePath, "cannot create \(location.mountPoint).pin: \(error)")
            }
        }
        _ = consume lock
        return location.mountPoint
    }
}
