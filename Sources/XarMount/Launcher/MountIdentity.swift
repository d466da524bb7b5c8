internal import XarSystem

/// Whether a launch may join the live mount at its image's mount point: the header's `UUID` and
/// `XAR_IMAGE_SHA256` name the mount, but anyone can copy them into another file (docs/lifecycle.md, "Identity").
///
/// The launch joins when the mount serves the very file being launched (the server's state file names its
/// file's device, inode, size and change time, `image_id`: one `fstat` on the hot path), or when both files'
/// real digests are known and equal (`DigestCache`: each file is hashed at most once). A mount that serves
/// other bytes (an impostor the user mounted) is never joined: it is unmounted and mounted afresh.
enum MountIdentity {
    /// What a launch found at its mount point.
    enum Verdict: Equatable {
        /// The mount serves this file, or a file with the same real digest.
        case join
        /// The mount serves other bytes, or bytes not proven to be the same: replace it.
        case replace(String)
    }

    /// Drops a live `probe` that this launch may not join (it then takes the exclusive lock and `replaceForeign`s).
    static func admit(
        _ probe: inout MountProbe, _ location: borrowing MountLocation, header: LaunchHeader,
        image: borrowing FileDescriptor, imagePath: String
    ) throws(LaunchError) {
        if probe.isLive, try judge(location, header: header, image: image, imagePath: imagePath) != .join {
            probe = .absent
        }
    }

    /// With the exclusive lock held and `probe` fresh: replaces a live mount this launch may not join, and leaves
    /// `probe` as what is there afterwards (never a live mount of other bytes).
    static func replaceForeign(
        _ probe: inout MountProbe, _ location: borrowing MountLocation, header: LaunchHeader,
        image: borrowing FileDescriptor, imagePath: String
    ) throws(LaunchError) {
        guard probe.isLive,
            case .replace(let reason) = try judge(location, header: header, image: image, imagePath: imagePath)
        else { return }
        probe = .absent
        try replace(location, because: reason)
        probe = try MountProbe.probe(location, header: header)
        guard !probe.isLive else {
            throw LaunchError(.stuck, "\(location.mountPoint) still serves another image; unmount it")
        }
    }

    /// Judges the live mount at `location` for the launch of `image` (`imagePath`, with `header`).
    ///
    /// Throws when the launched file itself is not the image its header claims (its real digest differs from
    /// `XAR_IMAGE_SHA256`): such a file must not take or replace another image's mount.
    static func judge(
        _ location: borrowing MountLocation, header: LaunchHeader, image: borrowing FileDescriptor, imagePath: String
    ) throws(LaunchError) -> Verdict {
        guard let state = MountProbe.readState(location) else { return .join }
        // A server from before `image_id` was recorded: nothing to compare with (its mount is as trusted as before).
        if state.imageID.isEmpty { return .join }
        guard let mine = FileIdentity(of: image) else {
            throw LaunchError(.badImage, "cannot read \(imagePath): fstat failed")
        }
        if state.imageID == mine.text { return .join }
        guard let own = DigestCache.digest(of: image, offset: header.offset) else {
            throw LaunchError(.badImage, "cannot read \(imagePath) to compute its digest")
        }
        if let claimed = header.digest, own != claimed {
            throw LaunchError(
                .badImage,
                "\(imagePath) is not the image its header names: its SHA-256 is \(own), its XAR_IMAGE_SHA256 says "
                    + "\(claimed); it is corrupt or an impostor, so it gets no mount (xarctl verify \(imagePath))")
        }
        guard let served = servedDigest(state) else {
            return .replace("its server's file (\(state.imageID)) could not be hashed")
        }
        if served == own { return .join }
        return .replace("it serves an image whose SHA-256 is \(served), not \(own)")
    }

    /// The real digest of the file the server serves: recorded by the server or an earlier launch, else computed
    /// now from the path in the state file, if that path still is the same file.
    static func servedDigest(_ state: MountProbe.StateFields) -> String? {
        if let recorded = FileIdentity(text: state.imageID), let known = DigestCache.lookup(recorded) { return known }
        guard !state.imagePath.isEmpty,
            let file = try? FileDescriptor.open(state.imagePath, .readOnly, options: [.nonBlocking, .noFollow]),
            let identity = FileIdentity(of: file), identity.text == state.imageID,
            let header = try? Launcher.readHeader(file, path: state.imagePath)
        else { return nil }
        return DigestCache.digest(of: file, offset: header.offset)
    }

    /// Takes the mount at `location` away (the exclusive lock is held): unmounted when nobody uses it, else
    /// detached (`MNT_DETACH`), so its users keep what they have open while new launches get a new mount.
    /// Says so in one line.
    static func replace(_ location: borrowing MountLocation, because reason: String) throws(LaunchError) {
        StandardError.writeLine(
            "\(Launcher.programName): not joining the mount at \(location.mountPoint): \(reason); mounting this "
                + "file afresh")
        do { try XarMount.MountTable.unmount(location.mountPoint, lazy: false) } catch {
            do { try XarMount.MountTable.unmount(location.mountPoint, lazy: true) } catch {
                throw LaunchError(
                    .stuck,
                    "cannot unmount \(location.mountPoint), which serves another image (\(error)); run "
                        + "fusermount3 -u -z \(location.mountPoint)")
            }
        }
        _ = try? location.userDirectory.removeFile(location.stateName)
    }
}
