internal import XarSystem

/// `xarctl gc`: unmounts idle and dead mounts, removes what crashed servers left behind, and prunes the
/// extraction cache, the servers' local copies of images and their saved start-up blocks.
///
/// Safe at any moment while launches happen: every change to a mount is made holding the image's lock
/// exclusively without waiting (a launch in progress holds it shared, so its mount is skipped this round),
/// users are looked up again under the lock, and an idle mount is unmounted without `MNT_DETACH`, so the
/// kernel refuses (EBUSY) if a user arrived after all. Mounts that are not ours (another file system type at
/// the place, or outside the `uid-<uid>` directories) are never touched; stopped servers are reported, not
/// touched (their mounts block).
public enum GarbageCollector {
    /// One thing gc did, would do (dry run) or left alone, and why.
    public struct Action: Sendable, Codable, Equatable {
        /// `unmount`, `detach-dead`, `remove-leftover`, `prune-cache`, `prune-copy`, `prune-blocks`,
        /// `prune-identity` (`IdentityCacheInventory`), or `keep`.
        public var action: String
        /// The mount point or cache entry.
        public var path: String
        /// Why, in a few words.
        public var reason: String
        /// False for `keep`, and for every action in a dry run.
        public var done: Bool
    }

    /// Runs one collection: mounts idle for at least `idleSeconds`, dead mounts, leftovers; then the cache down
    /// to `cacheLimit` bytes (nil: leave the cache alone); then the local copies of images down to `copyLimit`
    /// bytes (nil: leave them alone), after the unmounts, so a copy whose server just went is prunable at
    /// once; then the saved start-up blocks of unmounted images down to `blocksLimit` bytes (nil: leave them
    /// alone); then the stale entries of the digest and structural-check caches. With `dryRun` nothing is changed.
    public static func collect(
        idleSeconds: Int, cacheLimit: Int64?, copyLimit: Int64? = nil, blocksLimit: Int64? = nil, dryRun: Bool
    ) -> [Action] {
        var actions: [Action] = []
        for record in MountInventory.records() {
            actions.append(collect(record, idleSeconds: idleSeconds, dryRun: dryRun))
        }
        if let cacheLimit {
            actions += ExtractionCacheInventory.prune(limit: cacheLimit, dryRun: dryRun).map {
                Action(action: "prune-cache", path: $0.path, reason: $0.reason, done: !dryRun)
            }
        }
        if let copyLimit {
            actions += LocalCopyInventory.prune(limit: copyLimit, dryRun: dryRun).map {
                Action(action: "prune-copy", path: $0.path, reason: $0.reason, done: !dryRun)
            }
        }
        if let blocksLimit {
            actions += StartupBlocksInventory.prune(limit: blocksLimit, dryRun: dryRun).map {
                Action(action: "prune-blocks", path: $0.path, reason: $0.reason, done: !dryRun)
            }
        }
        actions += IdentityCacheInventory.prune(dryRun: dryRun).map {
            Action(action: "prune-identity", path: $0.path, reason: $0.reason, done: !dryRun)
        }
        return actions
    }

    static func collect(_ record: MountRecord, idleSeconds: Int, dryRun: Bool) -> Action {
        func keep(_ reason: String) -> Action {
            Action(action: "keep", path: record.mountPoint, reason: reason, done: false)
        }
        if let namespace = otherNamespace(of: record.name) {
            // This process's mount table says nothing about another namespace's mounts: there the name may be a
            // live mount, and removing its directory here would detach it there. Only what no server serves goes.
            if record.pinned { return keep("pinned (mount namespace \(namespace))") }
            if let pid = record.serverPid, Processes.exists(pid) {
                return keep("mounted in mount namespace \(namespace) by server pid \(pid), which unmounts it when idle")
            }
        }
        let action: String
        let reason: String
        switch record.status {
        case .foreign: return keep("not a .xar mount")
        case .stopped: return keep("server pid \(record.serverPid ?? 0) is stopped; kill -CONT or kill -KILL it")
        case .live:
            if record.pinned { return keep("pinned") }
            if !record.users.isEmpty { return keep("in use by \(record.users.count) process(es)") }
            if record.idleTimeout == 0 { return keep("idle timeout 0 (never unmounted when idle)") }
            guard let idle = record.idleSeconds, idle >= idleSeconds else {
                return keep("idle \(record.idleSeconds ?? 0) s")
            }
            (action, reason) = ("unmount", "idle \(idle) s")
        case .dead: (action, reason) = ("detach-dead", "server gone (transport endpoint is not connected)")
        case .leftover: (action, reason) = ("remove-leftover", "not mounted: " + record.files.joined(separator: ", "))
        }
        if dryRun { return Action(action: action, path: record.mountPoint, reason: reason, done: false) }
        // Never wait: a launch holds the lock shared for milliseconds; the next round gets it.
        guard let fd = try? FileDescriptor.open(record.mountPoint + ".lock", .readWrite, options: .noFollow) else {
            if record.status == .leftover {
                MountRemover.removeLeftovers(of: record.mountPoint)
                return Action(action: action, path: record.mountPoint, reason: reason, done: true)
            }
            return keep("no lock file to take")
        }
        let lock = FileLock(file: fd)
        guard (try? lock.lock(.exclusive, timeout: 0)) == true else { return keep("a launch holds its lock") }
        switch record.status {
        case .live:
            if FileSystem.exists(record.mountPoint + ".pin") { return keep("pinned") }
            if !MountInventory.users(of: record.mountPoint).isEmpty { return keep("in use") }
            do { try XarMount.MountTable.unmount(record.mountPoint, lazy: false) } catch {
                return keep("in use (the kernel refused: \(error))")
            }
        case .dead:
            do { try XarMount.MountTable.removeDeadMount(record.mountPoint) } catch {
                return keep("cannot detach: \(error)")
            }
        default: break
        }
        MountRemover.removeLeftovers(of: record.mountPoint)
        if record.status == .leftover && MountInventory.users(of: record.mountPoint + ".lock").isEmpty {
            // Nobody has it open, and we hold it: a launcher that opens it in the next instant finds it unlinked
            // once it gets the lock and opens a new one (`Launcher.openLock`).
            try? FileSystem.removeFile(record.mountPoint + ".lock")
        }
        return Action(action: action, path: record.mountPoint, reason: reason, done: true)
    }

    /// The mount namespace in `name` (`<UUID>-ns-<namespace>`) when it is not this process's, else nil.
    static func otherNamespace(of name: String) -> UInt64? {
        let parts = name.split(separator: "-")
        guard parts.count == 3, parts[1] == "ns", let namespace = UInt64(parts[2]) else { return nil }
        return namespace == MountNamespace.current() ? nil : namespace
    }
}
