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

    @OptionGroup
    var interpreter: InterpreterArguments

    @Option(
        name: [.customShort("r"), .long],
        help:
            "The lock of the wheels the runtime provides: pylock.toml, uv.lock, or a requirements file with --hash values."
    )
    var requirements: String?

    @OptionGroup(title: "Image")
    var image: BuildOptions

    @OptionGroup
    var destination: OutputArguments

    public init() {}

    public func validate() throws { try interpreter.validate(lock: requirements) }

    public func run() throws {
        var options = PythonBuildOptions(python: try InterpreterArguments.resolve(interpreter.python))
        options.isRuntime = true
        options.requirements = requirements
        options.startupList = false
        try interpreter.apply(to: &options)
        let output = destination.output
        let previous = Depfile.PreviousOutput(of: output)
        let summary = try PythonBuildRun.run { reporter in
            try PythonImageBuilder.build(
                options, imageOptions: PythonBuildRun.imageOptions(image), output: output,
                progress: reporter.progress, writeProgress: reporter.writeProgress)
        }
        let staged = summary.staged
        if let depfile = destination.depfile {
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
