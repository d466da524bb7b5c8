public import XarFormat

/// What the launcher needs from a `.xar` header, checked: where the image starts, its identity, what to run.
///
/// Built from the parsed header's keys (see docs/architecture.md, "The header"). An image without
/// `XAR_IMAGE_SHA256` was made by Facebook's tools; it is run the way their launcher runs it.
public struct LaunchHeader: Sendable, Equatable {
    /// Byte offset of the SquashFS image in the file (`OFFSET`).
    public var offset: UInt64
    /// The image identity used in mount point names (`UUID`): hex digits only.
    public var uuid: String
    /// The program to run, relative to the image root (`XAREXEC_TARGET`).
    public var target: String
    /// `MOUNT_ROOT`, when the header names one.
    public var mountRoot: String?
    /// `XAREXEC_TRAMPOLINE_NAMES`: names under which a symlink to the `.xar` selects an entry point.
    public var trampolineNames: [String]
    /// `XAREXEC_ARGS` split at spaces, or nil when absent.
    public var execArguments: [String]?
    /// `XAR_IMAGE_SHA256`, lowercase hex; nil for Facebook's images.
    public var digest: String?
    /// `XAR_MOUNT_TIMEOUT` in seconds, when given.
    public var mountTimeout: Int?
    /// `XAR_LOCAL_COPY` (`network` when absent).
    public var localCopy: String
    /// `DEPENDENCIES` of a thin image (docs/runtimes.md): the runtime it runs on; nil for a standalone image.
    public var runtime: RuntimeDependency?
    /// `XAR_GLIBC_FLOOR` and `XAR_KERNEL_FLOOR`: the oldest host the image runs on (`HostFloor`).
    public var glibcFloor: String?, kernelFloor: String?

    /// True for images made by Facebook's `xar` tools: their target is a bootstrap script that receives the
    /// `.xar` path as its first argument.
    public var isFacebookImage: Bool { digest == nil }

    /// Takes what the launcher needs from a parsed (and so already validated) header; `path` names the file in
    /// errors.
    public init(path: String, header: XarHeader) throws(LaunchError) {
        guard let target = header.target else {
            throw LaunchError(
                .badImage,
                "\(path) has no XAREXEC_TARGET in its header, so there is nothing to run; rebuild it naming "
                    + "the program to run (xarbuild dir --exec PROGRAM)")
        }
        offset = UInt64(header.offset)
        uuid = header.uuid
        self.target = target
        mountRoot = header.mountRoot
        trampolineNames = header.trampolineNames
        execArguments = header.execArgs
        digest = header.imageSHA256
        mountTimeout = header.mountTimeout
        localCopy = header.localCopyPolicy.rawValue
        glibcFloor = header.value(for: XarHeader.Key.glibcFloor)
        // Facebook's launcher never read DEPENDENCIES; for their images it stays unread.
        let words = header.dependencies
        if digest != nil, !words.isEmpty {
            guard words.count == 1, let dependency = RuntimeDependency(words[0]) else {
                throw LaunchError(
                    .badImage,
                    "\(path) has DEPENDENCIES=\"\(words.joined(separator: " "))\", which is not one runtime "
                        + "FILE@sha256:HEX (docs/header.md); rebuild it with xarbuild python --runtime")
            }
            runtime = dependency
        }
        kernelFloor = header.value(for: XarHeader.Key.kernelFloor)
    }
}
