internal import XarSystem

extension Launcher {
    /// Creates the mount's pin file, `<mount>.pin` (`xarctl mount --pin`): while it exists the server counts the
    /// mount as used and never unmounts it when idle (docs/lifecycle.md, "Who uses a mount").
    ///
    /// Called with the image's lock held, so the server cannot unmount between the mount and the pin.
    static func createPinFile(_ location: borrowing MountLocation) throws(LaunchError) {
        do {
            _ = try location.userDirectory.open(
                location.name + ".pin", .writeOnly, options: [.create, .noFollow], permissions: 0o600)
        } catch {
            throw LaunchError(.unsafePath, "cannot create \(location.mountPoint).pin: \(error)")
        }
    }
}
