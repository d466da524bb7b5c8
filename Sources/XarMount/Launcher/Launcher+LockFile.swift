internal import XarSystem

extension Launcher {
    /// Opens the image's lock file and takes it shared, within the launcher's bound.
    ///
    /// `xarctl gc` removes a leftover lock file only while it holds it exclusively and no process has it open,
    /// but a launcher may open it in the instant before the unlink. Such a launcher gets the lock once gc lets go
    /// and finds it unlinked (link count 0): it opens the file afresh, so that every launcher of an image
    /// always locks the same file.
    static func openLock(_ location: borrowing MountLocation) throws(LaunchError) -> FileLock {
        while true {
            let lock: FileLock
            do {
                lock = FileLock(
                    file: try SecureDirectory.openOwnedFile(location.lockName, in: location.userDirectory, mode: 0o600))
            } catch let refusal {
                throw LaunchError(
                    .unsafePath,
                    "unsafe lock file: " + refusal.message(for: location.userDirectoryPath + "/" + location.lockName))
            }
            try take(lock, .shared, location)
            if let status = try? lock.file.fileStatus(), status.linkCount == 0 { continue }
            return lock
        }
    }
}
