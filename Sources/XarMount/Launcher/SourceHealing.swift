internal import XarSystem

/// Heals a mount whose server lost its source before its local copy was complete (docs/lifecycle.md, "Source
/// loss"): the launcher of a file with the same identity offers that file as the new source.
enum SourceHealing {
    /// How long a launch waits for the server to hash the offered file and take it.
    static let timeout = 15.0

    /// Writes the absolute path of `imagePath` into `<mount>.source` (a temporary file renamed into place) and
    /// waits until the server's state no longer says `source lost` (it hashes the file first: a file whose
    /// SHA-256 is not the image's is refused). True when the mount took it (or found another source).
    static func offer(_ location: borrowing MountLocation, imagePath: String) -> Bool {
        let path = location.mountPoint + ".source"
        do {
            try SmallFile.replace(path, with: Array((Launcher.absolute(imagePath) + "\n").utf8))
        } catch {
            return false
        }
        let deadline = MonotonicClock.now() + timeout
        while MonotonicClock.now() < deadline {
            guard let state = MountProbe.readState(location) else { return false }
            if !state.sourceLost { return true }
            MonotonicClock.sleep(0.02)
        }
        return false
    }
}
