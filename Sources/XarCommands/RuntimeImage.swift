import Foundation
import XarBuild
import XarFormat
import XarMount
import XarSystem

/// Reading a runtime `.xar` for a thin build (`xarbuild python --runtime RT.xar`): its header and real digest,
/// and its tree, extracted with the launcher's own extractor (the SquashFS reader; nothing is mounted) into a
/// scratch directory the caller removes.
enum RuntimeImage {
    /// Extracts the runtime at `path` into `scratch` (an empty directory) and reads what it provides.
    static func read(_ path: String, scratch: String) throws -> PythonRuntimeBase {
        let image = try XarImageFile(path: path)
        guard let claimed = image.header.imageSHA256 else {
            throw CommandFailure(
                path: path, "has no XAR_IMAGE_SHA256, so it is not a runtime made by xarbuild runtime.")
        }
        let real = try image.imageDigest()
        guard real == claimed else {
            throw CommandFailure(
                path: path,
                "is not the image its header names: its SHA-256 is \(real), XAR_IMAGE_SHA256 says \(claimed).")
        }
        guard let target = image.header.target else {
            throw CommandFailure(path: path, "has no XAREXEC_TARGET, so it is not a runtime made by xarbuild runtime.")
        }
        let reader = try image.reader()
        let tree: XarSystem.FileDescriptor
        do { tree = try XarSystem.FileDescriptor.open(scratch, .readOnly, options: .directory) } catch {
            throw CommandFailure(path: scratch, "cannot be opened: \(CommandFailure.reason(error)).")
        }
        do { try ImageExtractor.extract(reader, into: tree, keepSetID: false) } catch {
            throw CommandFailure(path: path, "cannot be extracted: \(error)")
        }
        return try PythonRuntimeBase.read(
            root: scratch, path: path, digest: real, target: target,
            kernelFloor: image.header.value(for: "XAR_KERNEL_FLOOR"))
    }
}
