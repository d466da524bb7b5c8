public import ArgumentParser
import Foundation
import XarBuild
import XarFormat
import XarSystem

/// `xarbuild runtime`: a shared, pinned Python runtime: the interpreter (portable layout) and a locked set of
/// wheels, which thin applications (`xarbuild python --runtime`) name by digest (docs/runtimes.md).
public struct RuntimeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Build a runtime .xar: an interpreter and locked wheels that thin applications share.",
        discussion: """
            The runtime's identity is its image's SHA-256 (XAR_IMAGE_SHA256); thin images name it in their \
            DEPENDENCIES header. Run, a runtime behaves like the python3 it carries: ./py311.xar -c 'import sys'. \
            See docs/runtimes.md.

            Example:
              xarbuild runtime --python /usr/bin/python3.11 -r runtime.txt --wheelhouse wheels/ -o py311.xar
            """)

    @Option(name: .long, help: "The CPython (3.9 or newer) to bundle, e.g. /usr/bin/python3.11.")
    var python: String = "python3"

    @Option(
        name: [.customShort("r"), .long],
        help:
            "The lock of the wheels the runtime provides: pylock.toml, uv.lock, or a requirements file with --hash values."
    )
    var requirements: String?

    @Option(name: .long, help: "The directory holding the locked wheels.")
    var wheelhouse: String?

    @Option(name: .customLong("keep-stdlib"), help: "A standard-library part to keep (test, tkinter, idlelib, …).")
    var keepStdlib: [String] = []

    @Flag(name: .customLong("no-strip"), help: "Keep debug information in the bundled ELF files.")
    var noStrip = false

    @Option(help: "Absolute path of xarexec for the shebang (default: #!/usr/bin/env xarexec, found on PATH).")
    var launcher: String?

    @OptionGroup(title: "Image")
    var image: BuildOptions

    @Option(name: .shortAndLong, help: "The .xar to write.")
    var output: String

    @Option(
        name: .customLong("depfile"),
        help: "Also write FILE: a Makefile rule naming every input, for Make, Ninja and CMake (docs/building.md).")
    var depfile: String?

    public init() {}

    public func validate() throws {
        if requirements != nil, wheelhouse == nil {
            throw ValidationError("-r/--requirements needs --wheelhouse DIR, the directory holding the locked wheels.")
        }
    }

    public func run() throws {
        var options = PythonBuildOptions(python: try PythonCommand.resolve(python))
        options.isRuntime = true
        options.requirements = requirements
        options.wheelhouse = wheelhouse
        options.keepStdlib = keepStdlib
        options.stripDebugInfo = !noStrip
        options.startupList = false
        options.builder = "xarbuild \(XarVersion.current)"
        if let launcher {
            do { options.shebang = try XarHeader.shebang(launcher: launcher) } catch {
                throw ValidationError("--launcher: \(error)")
            }
        }
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let value = Int(epoch), value >= 0 else {
                throw ValidationError("SOURCE_DATE_EPOCH=\(epoch) is not a number of seconds.")
            }
            options.sourceDateEpoch = value
        }
        let bar = BuildProgress(delay: 0)
        BuildCleanup.removeOnSignal { bar.finish() }
        let progress: (String) -> Void = { message in
            if message.hasPrefix("warning:") {
                bar.finish()
                StandardError.writeLine("xarbuild: \(message)")
            } else {
                bar.status(message)
            }
        }
        let previous = Depfile.PreviousOutput(of: output)
        let summary: PythonImageBuilder.Summary
        do {
            summary = try PythonImageBuilder.build(
                options,
                imageOptions: XarImageOptions(
                    compression: image.choice(zstdLevel: BuildOptions.Defaults.pythonZstdLevel),
                    blockSize: image.blockSize.bytes, threads: image.threads ?? XarImageOptions.allCores),
                output: output, progress: progress, writeProgress: { bar.update(done: $0, total: $1) })
        } catch let error as PythonBuildError {
            bar.finish()
            for line in error.problems { StandardError.writeLine("xarbuild: error: \(line)") }
            throw ExitCode(1)
        }
        bar.finish()
        let staged = summary.staged
        if let depfile {
            var rule = Depfile(output: output)
            rule.add(file: (options.python as NSString).resolvingSymlinksInPath)
            if let requirements { rule.add(file: requirements) }
            for path in staged.lockedWheels { rule.add(file: path) }
            try rule.write(to: depfile, replacing: previous)
        }
        for note in staged.notes { StandardError.writeLine("xarbuild: note: \(note).") }
        let megabytes = String(format: "%.1f", Double(summary.image.outputBytes) / 1_000_000)
        let names: [String] = staged.packages.map { "\($0.0) \($0.1)" }
        let count = names.count == 1 ? "1 package" : "\(names.count) packages"
        let listed: String = names.isEmpty ? "" : " (" + names.joined(separator: ", ") + ")"
        print(
            "\(output): runtime, \(megabytes) MB, Python \(staged.interpreter.fullVersion), \(count)\(listed), "
                + "sha256:\(summary.image.sha256)")
        print("runs on: " + PythonCommand.floorText(staged.floor))
    }
}
