internal import XarSystem

/// `xarctl gc`'s pruning of the two identity caches in the caller's cache directory (docs/lifecycle.md,
/// "Identity"): `digests/` (`DigestCache`, an image's proven SHA-256 per file identity) and `checked/`
/// (`XarMount.Server.ImageCheck`, the file that passed the structural check, per digest).
///
/// Launches and servers only ever add entries (a few dozen bytes each, one per file version ever started), so gc
/// removes an entry whose file is gone (the path recorded with it names nothing) or changed (the file there has
/// another device, inode, size or change time: the entry can never match again), any entry written more than
/// `maximumAge` ago, and temporary files abandoned by a writer. Removing a valid entry costs only the next first
/// start of its file a hash or a check again; the recorded path is a hint for this and nothing else.
public enum IdentityCacheInventory {
    /// Entries written longer ago than this (30 days) are removed whatever they record.
    public static let maximumAge = 30 * 86_400
    /// A writer's temporary file (`.tmp-…`) older than this (an hour) is abandoned.
    static let temporaryAge = 3_600

    /// Removes (or, with `dryRun`, lists) the stale entries of both caches under the caller's cache directory,
    /// judged at `now` (seconds since the epoch; default: the current time).
    public static func prune(dryRun: Bool, now: Int? = nil) -> [Pruning.Removal] {
        guard let home = Settings.current.cacheHome else { return [] }
        let now = now ?? Int(WallClock.now())
        let digests = prune(
            "\(home)/xar/\(DigestCache.leaf)", dryRun: dryRun, now: now, verdict: digestEntryVerdict)
        let checked = prune(
            "\(home)/xar/\(XarMount.Server.ImageCheck.cacheLeaf)", dryRun: dryRun, now: now,
            verdict: checkedEntryVerdict)
        return digests + checked
    }

    /// Judges each regular file in `directory`: `verdict` gets its name and contents and says why it should go
    /// (nil: keep); age and abandoned temporary files are judged here.
    private static func prune(
        _ directory: String, dryRun: Bool, now: Int, verdict: (String, [UInt8]) -> String?
    ) -> [Pruning.Removal] {
        guard let names = try? FileSystem.entryNames(directory) else { return [] }
        var removals: [Pruning.Removal] = []
        for raw in names {
            guard let name = String(validating: raw, as: UTF8.self) else { continue }
            let path = directory + "/" + name
            guard let st = FileSystem.statusIfAny(path, followSymlinks: false) else { continue }
            let status = FileStatus(st)
            guard status.kind == .regular else { continue }
            let age = now - status.modificationTime
            let reason: String?
            if name.hasPrefix(".tmp-") {
                reason = age > temporaryAge ? "an abandoned temporary file" : nil
            } else if age > maximumAge {
                reason = "written more than \(maximumAge / 86_400) days ago"
            } else {
                reason = SmallFile.read(path, followSymlinks: false).flatMap { verdict(name, $0) }
            }
            guard let reason else { continue }
            if !dryRun { _ = try? FileSystem.removeFile(path) }
            removals.append(Pruning.Removal(path: path, reason: reason))
        }
        return removals
    }

    /// A digest entry, named `dev-ino-size-sec.nsec`, holds the digest and, on its second line, the path.
    static func digestEntryVerdict(_ name: String, _ contents: [UInt8]) -> String? {
        guard let identity = FileIdentity(text: name) else { return nil }
        return fileVerdict(identity: identity, pathLine: line(1, of: contents))
    }

    /// A checked marker, named after a digest, holds `dev ino size sec nsec offset` and, on its second line, the
    /// path.
    static func checkedEntryVerdict(_ name: String, _ contents: [UInt8]) -> String? {
        guard let first = line(0, of: contents) else { return nil }
        let fields = first.split(separator: " ")
        guard fields.count == 6,
            let identity = FileIdentity(text: "\(fields[0])-\(fields[1])-\(fields[2])-\(fields[3]).\(fields[4])")
        else { return nil }
        return fileVerdict(identity: identity, pathLine: line(1, of: contents))
    }

    /// Why an entry for `identity` whose file was at `pathLine` is stale, nil when it may still match (or records
    /// no path: only its age removes it).
    private static func fileVerdict(identity: FileIdentity, pathLine: String?) -> String? {
        guard let path = pathLine, path.hasPrefix("/") else { return nil }
        guard let status = try? FileSystem.fileStatus(path) else { return "its file \(path) is gone" }
        return FileIdentity(status) == identity ? nil : "its file \(path) changed"
    }

    /// Line `index` (from 0) of `contents`, nil when there is none or it is empty.
    private static func line(_ index: Int, of contents: [UInt8]) -> String? {
        let lines = contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard index < lines.count, !lines[index].isEmpty else { return nil }
        return String(validating: lines[index], as: UTF8.self)
    }
}
