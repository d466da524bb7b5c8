internal import XarCompression
internal import XarSquashFS
internal import XarSystem
internal import struct SystemPackage.Errno

extension XarMount.Server {
    /// The structural check an image passes before the server hands it to libsquashfuse (see
    /// `SquashFS.Reader.checkStructure`): libsquashfuse 0.1.105 trusts every length, index and offset in the image,
    /// and a crafted one crashes it. The Swift reader checks each of them against the table it belongs to.
    ///
    /// The check reads every directory and inode (a few milliseconds for an application with its interpreter, in a
    /// release build), so it is remembered: a marker in the user's cache, `<cache>/xar/checked/<digest>`, holds the
    /// device, inode number, size and change time of the file that passed (and, on a second line, the path it was
    /// open under, for `xarctl gc`, never trusted). The next server of the same file finds it and skips the check;
    /// a file changed in place has another change time, and a copy (or an impostor claiming the same digest) is
    /// another file, so either is checked again.
    enum ImageCheck {
        /// The user cache's directory of markers.
        static let cacheLeaf = "checked"

        /// Checks the image unless the marker for `digest` names this very file; writes the marker after a check
        /// that passed. Returns the seconds the check took (0 when it was skipped).
        static func checkOnce(imageFD: Int32, offset: UInt64, imagePath: String, digest: String?)
            throws(XarMount.ServerError) -> Double
        {
            let marker = digest.flatMap { markerPath(digest: $0) }
            let identity = FileIdentity(descriptor: imageFD).map {
                "\($0.device) \($0.inode) \($0.size) \($0.changeSeconds) \($0.changeNanoseconds) \(offset)\n"
            }
            if let marker, let identity, let recorded = SmallFile.read(marker, followSymlinks: false),
                recorded.starts(with: identity.utf8)
            {
                return 0
            }
            let seconds = try check(imageFD: imageFD, offset: offset, imagePath: imagePath)
            if let marker, let identity {
                let path = DigestCache.openedPath(imageFD).map { $0 + "\n" } ?? ""
                try? SmallFile.replace(marker, with: Array((identity + path).utf8))
            }
            return seconds
        }

        /// `<cache>/xar/checked/<digest>`, its directory made if need be; nil without a usable cache directory or
        /// for a digest that is not a plain hexadecimal name.
        static func markerPath(digest: String) -> String? {
            guard !digest.isEmpty, digest.count <= 128, digest.utf8.allSatisfy(Self.isHexDigit),
                let home = Settings.current.cacheHome
            else { return nil }
            do { _ = try UserCache.open(cacheLeaf, home: home) } catch { return nil }
            return "\(home)/xar/\(cacheLeaf)/\(digest)"
        }

        /// True for the ASCII digits and letters of hexadecimal, either case (`isxdigit` in the C locale).
        private static func isHexDigit(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
        }

        /// Checks the image at `offset` in the open file `imageFD`; throws `badImage` with the reader's sentence.
        /// Returns the seconds it took (for the server's log).
        static func check(imageFD: Int32, offset: UInt64, imagePath: String) throws(XarMount.ServerError) -> Double {
            let started = MonotonicClock.now()
            let status: FileStatus
            do {
                status = try FileDescriptor.withUnowned(imageFD) { (image) throws(Errno) in try image.fileStatus() }
            } catch {
                throw .badImage(path: imagePath, reason: "it cannot be examined (\(error))")
            }
            guard status.size >= offset + UInt64(SquashFS.Superblock.size) else {
                throw .badImage(
                    path: imagePath, reason: "it is truncated: no complete SquashFS superblock at byte \(offset)")
            }
            let reader: SquashFS.Reader
            do {
                reader = try SquashFS.Reader(
                    source: FileImageSource(file: try ReadOnlyFile(duplicating: imageFD, path: imagePath)),
                    imageOffset: offset,
                    decompressor: { id, options in try Codecs.decompressor(for: id, optionsBlock: options) })
            } catch {
                throw .badImage(path: imagePath, reason: "its superblock or tables are corrupt: \(error)")
            }
            do { try reader.checkStructure() } catch {
                throw .badImage(path: imagePath, reason: "its structure is corrupt: \(error)")
            }
            return MonotonicClock.now() - started
        }
    }
}
