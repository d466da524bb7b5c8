public import XarCompression
import XarSystem

/// How `XarImageWriter` builds an image.
public struct XarImageOptions: Sendable {
    /// The compressor and its setting.
    public var compression: CompressionChoice
    /// The data block size: a power of two from 4 KiB to 1 MiB.
    public var blockSize: Int
    /// Compression threads; the output is the same for any count.
    public var threads: Int
    /// Keep files' owners; otherwise everything belongs to root.
    public var keepOwners: Bool
    /// Keep extended attributes. Not written yet: the caller says once that they are dropped.
    public var keepXattrs: Bool
    /// Paths (relative to the input directory) whose data goes first, for locality; a directory stands for
    /// all the files under it.
    public var sortFirst: [String]
    /// `SOURCE_DATE_EPOCH`: clamps mtimes and sets the image's time.
    public var sourceDateEpoch: Int?

    /// The defaults, chosen by measurement (docs/benchmarks.md): zstd level 15, 128 KiB blocks, all cores.
    public init(
        compression: CompressionChoice = .zstd(level: 15), blockSize: Int = 131_072,
        threads: Int = XarImageOptions.allCores, keepOwners: Bool = false, keepXattrs: Bool = false,
        sortFirst: [String] = [], sourceDateEpoch: Int? = nil
    ) {
        self.compression = compression
        self.blockSize = blockSize
        self.threads = threads
        self.keepOwners = keepOwners
        self.keepXattrs = keepXattrs
        self.sortFirst = sortFirst
        self.sourceDateEpoch = sourceDateEpoch
    }

    /// The number of online cores.
    public static var allCores: Int { FileSystem.processorCount }
}

/// What `XarImageWriter.write` produced.
public struct XarImageSummary: Sendable, Codable, Equatable {
    /// The bytes of regular file content in the input.
    public var inputBytes: Int64
    /// The image's size (after the header), padding included.
    public var imageBytes: Int64
    /// The whole output file: header plus image.
    public var outputBytes: Int64
    /// The number of regular files.
    public var fileCount: Int
    /// The image's SHA-256, lowercase hex.
    public var sha256: String
    /// Wall time of the build.
    public var seconds: Double
    /// With `keepXattrs`: the attribute names left out because SquashFS cannot store their namespace (such
    /// as `system.posix_acl_access`), sorted, each once. Nil when none were.
    public var skippedXattrs: [String]?
    /// Without `keepXattrs`: true when some entry of the input carried extended attributes, which the image does
    /// not keep (the scan's own report; not part of the JSON summary).
    public var droppedXattrs = false

    private enum CodingKeys: String, CodingKey {
        case inputBytes, imageBytes, outputBytes, fileCount, sha256, seconds, skippedXattrs
    }

    /// A summary with the given figures.
    public init(
        inputBytes: Int64, imageBytes: Int64, outputBytes: Int64, fileCount: Int, sha256: String, seconds: Double,
        skippedXattrs: [String]? = nil, droppedXattrs: Bool = false
    ) {
        self.inputBytes = inputBytes
        self.imageBytes = imageBytes
        self.outputBytes = outputBytes
        self.fileCount = fileCount
        self.sha256 = sha256
        self.seconds = seconds
        self.skippedXattrs = skippedXattrs
        self.droppedXattrs = droppedXattrs
    }
}
