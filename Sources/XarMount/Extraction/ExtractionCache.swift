internal import struct SystemPackage.Errno
internal import XarCompression
internal import XarSquashFS
public import XarSystem

/// The per-user, content-addressed cache of extracted images, for hosts without FUSE:
/// `$XDG_CACHE_HOME/xar/extract/<XAR_IMAGE_SHA256>` (else `~/.cache/…`).
///
/// An image is extracted once into a temporary directory next to its final place (`.tmp-<key>-<pid>`), flushed
/// with `syncfs`, then renamed into place: a directory under its final name is always complete. Launches that
/// race each extract privately; the first rename wins and the others remove their copy and use the winner's.
/// `xarctl run` and `xarctl extract` use the same function.
public enum ExtractionCache {
    /// The cache directory's path: `$XDG_CACHE_HOME/xar/extract`, else `$HOME/.cache/xar/extract`.
    public static func path() throws(LaunchError) -> String {
        guard let home = Settings.current.cacheHome else {
            throw LaunchError(
                .noFuse, "neither XDG_CACHE_HOME nor HOME is set, so there is no cache to extract into; set one")
        }
        return home + "/xar/extract"
    }

    /// The cache key of an image: its `XAR_IMAGE_SHA256`, or `uuid-<UUID>` for Facebook's images, which have
    /// no digest (`tree` adds their real digest: `uuid-<UUID>-<SHA-256>`).
    public static func key(digest: String?, uuid: String) -> String { digest ?? "uuid-\(uuid)" }

    /// Returns the path of the complete extracted tree of the image that starts at `offset` in `image` (its
    /// `.xar` at `imagePath`, for messages), extracting it first when the cache has no tree under `key`;
    /// `announce` is called with the tree's path once, before extracting.
    public static func tree(
        image: borrowing FileDescriptor, offset: UInt64, key claimedKey: String, imagePath: String,
        announce: (String) -> Void
    ) throws(LaunchError) -> String {
        // A key is published only for bytes shown to have it: a digest key once the image hashed to it, and
        // Facebook's images (no digest to check) under their real digest too, so no file can poison another's entry.
        var key = claimedKey
        var proven: String?
        if key.hasPrefix("uuid-") {
            guard let actual = DigestCache.digest(of: image, offset: offset) else {
                throw LaunchError(.badImage, "cannot read \(imagePath) to compute its digest")
            }
            key += "-" + actual
            proven = actual
        }
        let cachePath = try path()
        let cache = try openCache(cachePath)
        let final = cachePath + "/" + key
        if let existing = try? cache.open(key, .readOnly, options: [.directory, .noFollow]),
            let status = try? existing.fileStatus(), status.uid == Processes.effectiveUserID
        {
            return final
        }
        announce(final)
        let temporary = ".tmp-\(key)-\(Processes.currentID)"
        try? TreeRemoval.remove(temporary, in: cache.rawValue)
        do { try cache.createDirectory(temporary, permissions: 0o700) } catch {
            throw LaunchError(.noFuse, "cannot create \(cachePath)/\(temporary): \(error)")
        }
        do {
            let target = try cache.open(temporary, .readOnly, options: [.directory, .noFollow])
            let file = ReadOnlyFile(adopting: try image.duplicate(), path: imagePath)
            let reader = try SquashFS.Reader(
                source: FileImageSource(file: file), imageOffset: offset,
                decompressor: { id, options in try Codecs.decompressor(for: id, optionsBlock: options) })
            try ImageExtractor.extract(reader, into: target)
            try TreeRemoval.syncFileSystem(of: target.rawValue)
        } catch {
            try? TreeRemoval.remove(temporary, in: cache.rawValue)
            throw LaunchError(.badImage, "cannot extract \(imagePath): \(error)")
        }
        if proven == nil { proven = DigestCache.digest(of: image, offset: offset) }
        guard proven == key || key.hasPrefix("uuid-") else {
            try? TreeRemoval.remove(temporary, in: cache.rawValue)
            throw LaunchError(
                .badImage,
                "\(imagePath) is not the image its header names: its SHA-256 is \(proven ?? "unreadable"), its "
                    + "XAR_IMAGE_SHA256 says \(key); it is corrupt or an impostor (xarctl verify \(imagePath))")
        }
        do { try cache.rename(temporary, to: key) } catch {
            try? TreeRemoval.remove(temporary, in: cache.rawValue)
            // Another launch published the same tree first: use the winner's.
            guard error == .directoryNotEmpty || error == .fileExists else {
                throw LaunchError(.noFuse, "cannot rename the extraction into \(final): \(error)")
            }
        }
        return final
    }

    /// Opens (creating) the cache directory; `xar` and `extract` must be ours with mode 0700.
    static func openCache(_ cachePath: String) throws(LaunchError) -> FileDescriptor {
        try UserCache.open("extract", home: String(cachePath.dropLast("/xar/extract".count)))
    }
}
