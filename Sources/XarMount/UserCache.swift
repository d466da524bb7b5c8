internal import XarSystem

/// The user's cache directory for xar: `$XDG_CACHE_HOME/xar`, else `$HOME/.cache/xar`, each level owned by the
/// user with mode 0700. It holds the no-FUSE extraction cache (`extract/`, `ExtractionCache`) and, when the
/// mount root is a tmpfs, the servers' saved start-up blocks (`startup-blocks/`, docs/lifecycle.md).
enum UserCache {
    /// Opens (creating) `<home>/xar/<leaf>`; `xar` and `leaf` must be ours with mode 0700.
    static func open(_ leaf: String, home: String) throws(LaunchError) -> FileDescriptor {
        if FileSystem.statusIfAny(home) == nil {
            // mkdir -p for the cache home itself (~/.cache), mode 0700 as the XDG spec asks.
            var prefix = ""
            for component in home.split(separator: "/") {
                prefix += "/" + component
                try? FileSystem.createDirectory(prefix, mode: 0o700)
            }
        }
        let homeFD: FileDescriptor
        do { homeFD = try FileDescriptor.open(home, .readOnly, options: .directory) } catch {
            throw LaunchError(.noFuse, "cannot open the cache directory \(home): \(error)")
        }
        do {
            let xar = try SecureDirectory.openOwnedDirectory("xar", in: homeFD.rawValue, mode: 0o700, create: true)
            return try SecureDirectory.openOwnedDirectory(leaf, in: xar.rawValue, mode: 0o700, create: true)
        } catch let refusal {
            throw LaunchError(.unsafePath, "unsafe cache directory: " + refusal.message(for: "\(home)/xar/\(leaf)"))
        }
    }
}
