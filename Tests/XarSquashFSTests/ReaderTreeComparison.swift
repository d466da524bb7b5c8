import Glibc
import Testing
import XarSquashFS
import XarTestSupport

/// Compares what a `SquashFS.Reader` shows with the tree on disk the image was made from.
struct TreeComparison {
    let reader: SquashFS.Reader
    let sourceRoot: String
    /// Compare the root directory's own metadata (gensquashfs gives the root defaults).
    let compareRoot: Bool
    /// Expect hard links to share an inode and link counts as on disk (mksquashfs; gensquashfs neither detects
    /// hard links in a packed directory nor counts a directory's links as the kernel does: it counts all entries).
    let hardLinks: Bool
    /// Which of the source's extended attributes the image should hold.
    var xattrs = XattrExpectation.all

    /// Which extended attributes a tool keeps.
    enum XattrExpectation {
        /// All of them (mksquashfs).
        case all
        /// Those with a value (gensquashfs drops empty values).
        case nonEmpty
        /// None (a writer that drops them).
        case none
    }

    func run() throws {
        var seen = Set<[UInt8]>()
        var numbersBySourceInode: [UInt64: UInt32] = [:]
        var sourceInodeByNumber: [UInt32: UInt64] = [:]
        try reader.walk { path, inode in
            seen.insert(path)
            if path.isEmpty && !compareRoot { return }
            let where_ = printableName(path)
            let full = Array(sourceRoot.utf8) + (path.isEmpty ? [] : [UInt8(ascii: "/")] + path)
            var st = stat()
            let rc = (full + [0]).withUnsafeBufferPointer {
                $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) }
            }
            try #require(rc == 0, "\(where_) is in the image but not in the source")
            #expect(
                inode.mode == st.st_mode,
                "\(where_): mode \(String(inode.mode, radix: 8)) vs \(String(st.st_mode, radix: 8))")
            #expect(inode.uid == st.st_uid && inode.gid == st.st_gid, "\(where_): owner")
            #expect(Int(inode.modificationTime) == st.st_mtim.tv_sec, "\(where_): mtime")
            if hardLinks {
                #expect(
                    UInt64(inode.linkCount) == UInt64(st.st_nlink),
                    "\(where_): link count \(inode.linkCount) vs \(st.st_nlink)")
            }
            if hardLinks && !inode.isDirectory {
                if let number = numbersBySourceInode[UInt64(st.st_ino)] {
                    #expect(number == inode.inodeNumber, "\(where_): hard link has another inode")
                } else {
                    numbersBySourceInode[UInt64(st.st_ino)] = inode.inodeNumber
                    #expect(
                        sourceInodeByNumber.updateValue(UInt64(st.st_ino), forKey: inode.inodeNumber) == nil,
                        "\(where_): inode number reused")
                }
            }
            let attributes = try reader.extendedAttributes(of: inode).sorted {
                $0.name.lexicographicallyPrecedes($1.name)
            }
            let expected = sourceXattrs(full).filter {
                xattrs == .all || (xattrs == .nonEmpty && !$0.value.isEmpty)
            }
            #expect(attributes.map(\.name) == expected.map(\.name), "\(where_): extended attribute names")
            #expect(attributes.map(\.value) == expected.map(\.value), "\(where_): extended attribute values")
            switch inode.kind {
            case .regularFile:
                #expect(inode.size == UInt64(st.st_size), "\(where_): size")
                try compareContents(inode, full, where_)
            case .symlink:
                var buffer = [CChar](repeating: 0, count: 8192)
                let n = (full + [0]).withUnsafeBufferPointer {
                    $0.withMemoryRebound(to: CChar.self) { readlink($0.baseAddress!, &buffer, buffer.count) }
                }
                #expect(try reader.readLink(inode) == buffer[0..<n].map { UInt8(bitPattern: $0) }, "\(where_): target")
            case .blockDevice, .characterDevice:
                let major = UInt32((st.st_rdev >> 8) & 0xFFF) | UInt32((st.st_rdev >> 32) & 0xFFFF_F000)
                let minor = UInt32(st.st_rdev & 0xFF) | UInt32((st.st_rdev >> 12) & 0xFFFF_FF00)
                #expect(inode.deviceMajor == major && inode.deviceMinor == minor, "\(where_): device")
            case .directory, .fifo, .socket:
                break
            }
        }
        let expected = try sourcePaths()
        #expect(
            seen == expected,
            "only in source: \(expected.subtracting(seen).map(printableName).sorted().prefix(5)); only in image: \(seen.subtracting(expected).map(printableName).sorted().prefix(5))"
        )
    }

    private func compareContents(_ inode: SquashFS.Reader.Inode, _ full: [UInt8], _ where_: String) throws {
        let source = try readWhole(full)
        var streamed: [UInt8] = []
        try reader.forEachBlock(of: inode) { streamed += $0 }
        #expect(streamed == source, "\(where_): contents differ (\(streamed.count) vs \(source.count) bytes)")
        #expect(try reader.readFile(inode) == source, "\(where_): readFile differs")
        let b = Int(reader.superblock.blockSize)
        for (offset, count) in [(b - 3, 7), (source.count - 1, 10), (source.count, 5), (b * 2 + 1, b + 5), (1, 1)] {
            guard offset >= 0 else { continue }
            let want = offset >= source.count ? [] : Array(source[offset..<min(source.count, offset + count)])
            #expect(
                try reader.readFile(inode, offset: UInt64(offset), count: count) == want,
                "\(where_): readFile(\(offset), \(count))")
        }
    }

    private func readWhole(_ path: [UInt8]) throws -> [UInt8] {
        let fd = (path + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        }
        guard fd >= 0 else { throw TestFailure("cannot open \(printableName(path))") }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Every path under the source root, relative, as bytes, the root as the empty path.
    private func sourcePaths() throws -> Set<[UInt8]> {
        var result: Set<[UInt8]> = [[]]
        var pending: [[UInt8]] = [[]]
        while let relative = pending.popLast() {
            let full = Array(sourceRoot.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
            guard
                let handle = (full + [0]).withUnsafeBufferPointer({
                    $0.withMemoryRebound(to: CChar.self) { opendir($0.baseAddress!) }
                })
            else { throw TestFailure("opendir \(printableName(full))") }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name == [0x2E] || name == [0x2E, 0x2E] { continue }
                let path = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
                result.insert(path)
                if entry.pointee.d_type == UInt8(DT_DIR) { pending.append(path) }
            }
        }
        return result
    }
}
