import XarFormat
import XarSystem
import struct SystemPackage.Errno

extension XarMount.Server {
    /// The start-up plan kept next to a mount point (`<mount point>.startup`): which image blocks the application
    /// read, and which names it looked up, in the first seconds after the last mount of this image, in order (see
    /// docs/lifecycle.md, "Cold starts").
    ///
    /// The server loads it before mounting, so its read-ahead thread decompresses those blocks while the kernel
    /// mounts and the application starts, and it looks the names up as soon as the mount is ready, ahead of the
    /// application; when the session ends it saves what this start needed, for the next one. The file lives in the
    /// user's checked mount directory, is read and replaced without following symbolic links, and is only a hint: a
    /// missing, damaged or foreign file costs the read-ahead, never a wrong byte (every block is checked as it is
    /// decompressed, and names are looked up only under the mount point). `XAR_STARTUP_PLAN=0` in the server's
    /// environment neither loads nor saves one.
    ///
    /// Next to it (or in the user's cache directory, on a tmpfs: `blocksPath`), `<mount point>.startup-blocks` keeps
    /// the plan's blocks decompressed (at most `savedBlocksMaximumBytes`), so that the next cold start reads them
    /// instead of decompressing them: the image travels compressed, the host that runs it keeps its start-up set
    /// ready. It is a cache, checked block by block (`Sources/CXarFuse/saved.c`); `XAR_STARTUP_BLOCKS=0` neither
    /// loads nor saves it.
    struct StartupPlan {
        let path: String
        let enabled: Bool
        /// Where the saved blocks are read from and written to; nil when they are not kept.
        let blocksPath: String?

        /// The most block data a `.startup-blocks` file holds; the plan's blocks past it are decompressed.
        static let savedBlocksMaximumBytes = 64 << 20

        init(_ configuration: Configuration, settings: Settings) {
            path = configuration.mountPoint + ".startup"
            enabled = settings.startupPlan
            blocksPath =
                settings.startupBlocks
                ? Self.blocksPath(mountPoint: configuration.mountPoint, cacheHome: settings.cacheHome) : nil
        }

        /// Where the saved blocks of the mount at `mountPoint` live: beside it, unless its directory is a tmpfs
        /// (`/dev/shm`, `$XDG_RUNTIME_DIR`), whose pages are memory the kernel cannot reclaim; then in the user's
        /// cache directory, `$XDG_CACHE_HOME/xar/startup-blocks/<mount name>.startup-blocks` (else `~/.cache/…`),
        /// where they are ordinary file pages. nil (none read, none saved) when that directory is unusable.
        static func blocksPath(mountPoint: String, cacheHome: String?) -> String? {
            let slash = mountPoint.lastIndex(of: "/") ?? mountPoint.startIndex
            let directory = String(mountPoint[..<slash]), name = String(mountPoint[slash...].dropFirst())
            guard let fd = try? FileDescriptor.open(directory, .readOnly, options: .directory),
                (try? FileSystemType.of(fd)) == .tmpfs
            else { return mountPoint + StartupBlocksInventory.suffix }
            guard let home = cacheHome else { return nil }
            do { _ = try UserCache.open(StartupBlocksInventory.cacheLeaf, home: home) } catch { return nil }
            return "\(home)/xar/\(StartupBlocksInventory.cacheLeaf)/\(name)\(StartupBlocksInventory.suffix)"
        }

        /// Loads the plan saved by the last server of this image; without one (the image's first start here, or a
        /// plan that does not fit), makes one from the image's own list of start-up files, if it has one. Then
        /// takes the saved blocks, if there are any.
        func load(into session: borrowing FuseSession) {
            guard enabled else { return }
            if !loadSaved(into: session) && session.planFromImage(list: XarImageLayout.startupList) {
                log("reading ahead from the image's start-up list /\(XarImageLayout.startupList)")
            }
            if let blocksPath { loadBlocks(from: blocksPath, into: session) }
        }

        private func loadBlocks(from blocksPath: String, into session: borrowing FuseSession) {
            guard let file = try? FileDescriptor.open(blocksPath, .readOnly, options: .noFollow) else { return }
            // Its access time says when it was last used (`xarctl gc --blocks-limit` removes the least recent).
            _ = try? file.setAccessTimeToNow()
            do throws(FuseSession.PlanRefusal) {
                try session.useSavedBlocks(file)
                log("reading saved start-up blocks from \(blocksPath)")
            } catch .otherImage {
                log("ignoring \(blocksPath): it was saved for another image (it is replaced when this mount ends)")
            } catch {
                log("ignoring \(blocksPath): not a saved-blocks file, or damaged (it is replaced when this mount ends)")
            }
        }

        private func loadSaved(into session: borrowing FuseSession) -> Bool {
            guard let bytes = SmallFile.read(path, followSymlinks: false), !bytes.isEmpty else { return false }
            guard bytes.count <= FuseSession.startupPlanMaximumSize else {
                log("ignoring \(path): too large for a start-up plan")
                return false
            }
            do throws(FuseSession.PlanRefusal) {
                try session.setStartupPlan(bytes)
                log("reading ahead from the start-up plan \(path)")
                return true
            } catch .otherImage {
                log("ignoring \(path): it was recorded on another image (it is replaced when this mount ends)")
            } catch {
                log("ignoring \(path): not a start-up plan")
            }
            return false
        }

        func save(from session: borrowing FuseSession) {
            guard enabled else { return }
            let record = session.startupRecord()
            guard !record.isEmpty else { return }
            do throws(SmallFile.WriteError) {
                try SmallFile.replace(path, with: record)
            } catch {
                log("\(error.step(target: path)) (the start-up plan): \(Errno(rawValue: error.code).description)")
            }
        }

        /// Saves the start-up record's blocks, decompressed, unless the saved ones already are exactly those. Slower
        /// than `save` (it decompresses what the cache no longer holds, writes and syncs some MB): call it once the
        /// image's lock is released, so that no launcher waits for it.
        func saveBlocks(from session: borrowing FuseSession) {
            guard let blocksPath, !session.savedBlocksAreCurrent else { return }
            do throws(SmallFile.WriteError) {
                try SmallFile.replace(blocksPath, sync: true) {
                    session.saveBlocks(to: $0, maxBytes: Self.savedBlocksMaximumBytes)
                }
            } catch {
                // Nothing was recorded: the saved blocks stay.
                guard Errno(rawValue: error.code) != .noData else { return }
                log(
                    "\(error.step(target: blocksPath)) (the saved start-up blocks): "
                        + Errno(rawValue: error.code).description)
            }
        }
    }
}
