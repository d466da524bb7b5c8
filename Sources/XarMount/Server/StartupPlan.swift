import Glibc
import XarFormat
import XarSystem

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
    struct StartupPlan {
        let path: String
        let enabled: Bool

        init(_ configuration: Configuration) {
            path = configuration.mountPoint + ".startup"
            enabled = getenv("XAR_STARTUP_PLAN").map { String(cString: $0) != "0" } ?? true
        }

        /// Loads the plan saved by the last server of this image; without one (the image's first start here, or a
        /// plan that does not fit), makes one from the image's own list of start-up files, if it has one.
        func load(into session: borrowing FuseSession) {
            guard enabled else { return }
            if loadSaved(into: session) { return }
            if session.planFromImage(list: XarImageLayout.startupList) {
                log("reading ahead from the image's start-up list /\(XarImageLayout.startupList)")
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
                log("\(error.step(target: path)) (the start-up plan): \(XarMount.ServerError.text(errno: error.code))")
            }
        }
    }
}
