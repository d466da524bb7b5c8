import Glibc

/// Whole-file reads of the small files the runtime consults: `/proc` entries, state files, mount tables.
public enum SmallFile {
    /// The whole contents of the file at `path`, or nil when it cannot be opened.
    ///
    /// `/proc` files report a size of 0, so this reads until end of file instead of trusting `fstat`. With
    /// `followSymlinks: false` a symbolic link in the last component is refused (`O_NOFOLLOW`), for files in
    /// directories other users could write to. The corresponding C functions are `open` and `read`.
    public static func read(_ path: String, followSymlinks: Bool = true) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            contents += chunk[0..<n]
        }
        return contents
    }

    /// The whole text of the file at `path`, decoded as UTF-8; "" when it cannot be opened.
    public static func text(_ path: String) -> String {
        String(decoding: read(path) ?? [], as: UTF8.self)
    }
}
