import Foundation
import SystemPackage
import XarFormat
import XarSystem

/// `xarbuild python` as a library call: stages the layout in a temporary directory with `PythonStager`, then
/// writes it as a `.xar` through `XarImageWriter` with the header that starts the bundled interpreter.
public enum PythonImageBuilder {
    /// What a build produced, for the one-line summary.
    public struct Summary: Sendable {
        /// What staging produced (entry points, interpreter, packages, libraries, metadata).
        public var staged: PythonStager.Result
        /// What the image writer produced (sizes, digest).
        public var image: XarImageSummary
    }

    /// Builds `output` from `options`. `stagingDirectory`, when given, is used (and kept) instead of a temporary
    /// directory — for inspecting the layout. `progress` gets short messages; `writeProgress` the writer's bytes.
    public static func build(
        _ options: PythonBuildOptions, imageOptions: XarImageOptions, output: String, stagingDirectory: String? = nil,
        progress: @escaping (String) -> Void = { _ in }, writeProgress: ((Int64, Int64) -> Void)? = nil
    ) throws -> Summary {
        // The output's directory is checked before any work: a typo should not cost a whole build.
        let outputDirectory = (output as NSString).deletingLastPathComponent
        guard FileSystem.isDirectory(outputDirectory.isEmpty ? "." : outputDirectory) else {
            throw PythonBuildError("The output's directory \(outputDirectory) does not exist; create it first.")
        }
        let root: String
        if var stagingDirectory {
            stagingDirectory = FileSystem.absolute(stagingDirectory)
            if FileSystem.exists(stagingDirectory),
                !((try? FileSystem.directoryEntries(stagingDirectory))?.isEmpty ?? true)
            {
                throw PythonBuildError("The staging directory \(stagingDirectory) is not empty.")
            }
            try FileSystem.createDirectories(stagingDirectory)
            root = stagingDirectory
        } else {
            root = "\(FileSystem.temporaryDirectory)/xarbuild-python-\(UUID().uuidString)"
        }
        let cleanup = stagingDirectory == nil ? BuildCleanup.register(path: root) : nil
        if stagingDirectory == nil { try FileSystem.createDirectories(root) }
        defer {
            if let cleanup {
                try? FileSystem.removeTree(root)
                BuildCleanup.unregister(cleanup)
            }
        }

        // --project: the project's wheel, built in a scratch directory of its own, is the application's.
        var options = options
        let scratch = options.project.map { _ in
            "\(FileSystem.temporaryDirectory)/xarbuild-project-\(UUID().uuidString)"
        }
        let scratchCleanup = scratch.map { BuildCleanup.register(path: $0) }
        defer {
            if let scratch { try? FileSystem.removeTree(scratch) }
            if let scratchCleanup { BuildCleanup.unregister(scratchCleanup) }
        }
        if let project = options.project, let scratch {
            try FileSystem.createDirectories(scratch)
            options.adopt(
                try ProjectWheelBuilder(directory: project).build(
                    python: options.python, wheelhouse: options.wheelhouse, scratch: scratch, progress: progress))
        }
        let staged = try PythonStager(options: options, progress: progress).stage(into: root)
        progress("writing \(output)")
        var writerOptions = imageOptions
        writerOptions.sourceDateEpoch = options.sourceDateEpoch ?? imageOptions.sourceDateEpoch ?? 0
        // Locality: the interpreter and what every start reads come first in the image.
        writerOptions.sortFirst = options.runtime == nil ? ["python/bin/python3", "python/lib", ".xar"] : [".xar"]
        let image: XarImageSummary
        do {
            image = try writeImage(
                root: root, staged: staged, options: options, writerOptions: writerOptions,
                output: output, progress: writeProgress)
        } catch let error as XarBuildError {
            throw PythonBuildError("Cannot write \(output): \(error).")
        }
        return Summary(staged: staged, image: image)
    }

    private static func writeImage(
        root: String, staged: PythonStager.Result, options: PythonBuildOptions, writerOptions: XarImageOptions,
        output: String, progress writeProgress: ((Int64, Int64) -> Void)?
    ) throws -> XarImageSummary {
        try XarImageWriter.write(
            directory: FilePath(root), options: writerOptions, to: FilePath(output), executable: true,
            progress: writeProgress
        ) { digest in
            try XarHeader(
                imageSHA256: digest, buildTime: Int64(staged.buildTime), builder: options.builder,
                target: staged.launch.target, trampolineNames: staged.launch.trampolineNames,
                execArgs: staged.launch.argumentsValue,
                dependencies: options.runtime.map { [$0.dependency] } ?? [], glibcFloor: staged.floor.headerGlibcFloor,
                kernelFloor: staged.floor.kernel, shebang: options.shebang
            ).rendered()
        }
    }
}
