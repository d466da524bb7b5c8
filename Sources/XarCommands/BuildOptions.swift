public import ArgumentParser
public import XarCompression

/// The image options shared by every `xarbuild` subcommand: compression, block size, order, owners, xattrs.
public struct BuildOptions: ParsableArguments {
    /// The compressor families `--compression` accepts.
    public enum Compression: String, ExpressibleByArgument, CaseIterable, Sendable {
        case zstd, xz, gzip, none
    }

    /// The default compressor, level and block size, chosen by measurement (see docs/building.md).
    public enum Defaults {
        /// zstd decompresses 650–780 MB/s here, ~10× faster than xz, for a size within 10 % of it.
        public static let compression = Compression.zstd
        /// zstd's level; the squashfs tools use 15 too.
        public static let zstdLevel = 15
        /// zstd's level for `xarbuild python`: 19 makes black's image 1 % smaller than 15 for twice the
        /// compression time and the same decompression speed (docs/benchmarks.md, "Python applications").
        public static let pythonZstdLevel = 19
        /// zlib's level; the squashfs tools use 9 too.
        public static let gzipLevel = 9
        /// 128 KiB, the squashfs tools' default: every read of a file not yet in the page cache decompresses
        /// whole blocks, so larger blocks make random reads (Python's imports, a cold start) dearer.
        public static let blockSize = 128 << 10
    }

    @Option(help: "Compressor: zstd, xz, gzip or none.")
    public var compression: Compression = Defaults.compression

    @Option(
        help:
            "Compression level: zstd 1-22 (default 15; 19 for xarbuild python), gzip 1-9 (default 9); not for xz or none."
    )
    public var level: Int?

    @Flag(help: "With xz, also try the x86 BCJ filter on each block and keep the smaller result.")
    public var bcj = false

    @Option(
        name: .customLong("block-size"),
        help: "Data block size, a power of two from 4K to 1M (4096, 4K, 128K, 1M).",
        transform: { text in
            guard let size = ByteSize(parsing: text) else {
                throw ValidationError("'\(text)' is not a size; write e.g. 4096, 4K, 128K or 1M.")
            }
            return size
        })
    public var blockSize = ByteSize(bytes: Defaults.blockSize)

    @Option(name: .customLong("sort"), help: "A file listing paths (one per line, relative to DIR) to place first.")
    public var sortFile: String?

    @Flag(name: .customLong("keep-owners"), help: "Keep file owners and groups (default: everything owned by root).")
    public var keepOwners = false

    @Flag(help: "Keep extended attributes (default: drop them, saying so once).")
    public var xattrs = false

    @Option(help: "Compression threads (default: every core).")
    public var threads: Int?

    /// Creates the options; ArgumentParser calls this.
    public init() {}

    /// Rejects combinations that make no sense before any work starts (exit 64).
    public func validate() throws {
        let size = blockSize.bytes
        guard size >= Codecs.minimumBlockSize, size <= Codecs.maximumBlockSize, size & (size - 1) == 0 else {
            throw ValidationError("--block-size \(blockSize) is not a power of two from 4K to 1M.")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if let level {
            switch compression {
            case .zstd where !(1...22).contains(level):
                throw ValidationError("--level \(level) is outside zstd's 1-22.")
            case .gzip where !(1...9).contains(level):
                throw ValidationError("--level \(level) is outside gzip's 1-9.")
            case .xz, .none:
                throw ValidationError("--level applies only to zstd and gzip.")
            default: break
            }
        }
        if bcj && compression != .xz { throw ValidationError("--bcj applies only to --compression xz.") }
    }

    /// The compressor setting the writer takes.
    public var choice: CompressionChoice { choice(zstdLevel: Defaults.zstdLevel) }

    /// The compressor setting, with `zstdLevel` when zstd is chosen without `--level`.
    public func choice(zstdLevel: Int) -> CompressionChoice {
        switch compression {
        case .zstd: return .zstd(level: level ?? zstdLevel)
        case .xz: return .xz(bcj: bcj)
        case .gzip: return .gzip(level: level ?? Defaults.gzipLevel)
        case .none: return .none
        }
    }

    /// A short name for summaries: `zstd-15`, `xz`, `xz+bcj`, `gzip-9`, `none`.
    public var choiceName: String {
        switch choice {
        case .zstd(let level): return "zstd-\(level)"
        case .xz(let bcj): return bcj ? "xz+bcj" : "xz"
        case .gzip(let level): return "gzip-\(level)"
        case .none: return "none"
        }
    }
}
