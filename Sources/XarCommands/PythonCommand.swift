public import ArgumentParser
import Foundation
import XarBuild
import XarFormat
import XarSystem

/// `xarbuild python`: an application, its own CPython and its pinned wheels in one `.xar`.
///
/// Argument parsing and terminal output only; the work is `XarBuild.PythonImageBuilder`.
public struct PythonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "python",
        abstract: "Build a .xar holding a Python application, its interpreter and its locked wheels.",
        discussion: """
            No resolution and no network (unless --download): every package in the lock must be in the wheelhouse \
            as a wheel for the bundled interpreter, with a hash the lock allows. See docs/python.md.

            Entry points are the --entry-point and --module ones, then the console scripts of the application's \
            own --wheel (or --project); a dependency's console scripts only with --entry-point NAME (one of them) \
            or --all-scripts. The default entry point (run when the image is invoked under a name that is not an \
            entry point) is --default, else the first --entry-point or --module, else the --wheel's (or \
            --project's) console script named after its project (or its first one).

            Examples:
              xarbuild python --python /usr/bin/python3.11 -r requirements.txt --wheelhouse wheels/ \\
                  --entry-point http -o httpie.xar
              xarbuild python --source src/ --wheel dist/mytool-1.0-py3-none-any.whl \\
                  -r requirements.txt --wheelhouse wheels/ --module serve=mytool.server -o mytool.xar
            """)

    @OptionGroup
    var interpreter: InterpreterArguments

    @Option(
        name: .long,
        help:
            "A runtime built with xarbuild runtime: build a thin image holding only the application and the wheels the runtime does not provide (--python is then the runtime's; docs/runtimes.md)."
    )
    var runtime: String?

    @Option(name: .long, help: "The application's source directory (copied to /app, first on sys.path).")
    var source: String?

    @Option(name: .long, help: "The application's own wheel (repeatable); its console scripts become entry points.")
    var wheel: [String] = []

    @Option(
        name: .long,
        help:
            "A project directory with a pyproject.toml: its wheel is built offline (PEP 517) with the build backend from the wheelhouse; its scripts are the entry points."
    )
    var project: String?

    @Option(
        name: [.customShort("r"), .long],
        help:
            "The lock, by file name: pylock.toml (PEP 751), uv.lock, or a requirements file with --hash values (default: the project's pylock.toml or uv.lock)."
    )
    var requirements: String?

    @Flag(
        help:
            "First download the locked wheels (and the project's build backend) for the bundled interpreter into the wheelhouse with pip; the only step that uses the network."
    )
    var download = false

    @Option(
        name: .customLong("entry-point"),
        help:
            "NAME=module:function, or NAME for that console script of an installed wheel (repeatable; the first is the default)."
    )
    var entryPoints: [String] = []

    @Flag(name: .customLong("all-scripts"), help: "Make every console script of every installed wheel an entry point.")
    var allScripts = false

    @Option(name: .customLong("module"), help: "[NAME=]MODULE: an entry point that runs MODULE like python -m.")
    var modules: [String] = []

    @Option(name: .customLong("default"), help: "The entry point run when invoked under another name.")
    var defaultEntry: String?

    @Option(name: .long, help: "The source revision to record (default: from git in --source).")
    var revision: String?

    @Flag(
        name: .customLong("no-check"),
        help: "Build even when an entry point does not import or a changed library does not load (a note instead).")
    var noCheck = false

    @Flag(
        name: .customLong("no-startup-list"),
        help: "Do not import the default entry point's module at build time to list the files a start reads.")
    var noStartupList = false

    @Option(
        help: ArgumentHelp(
            "portable: carry the interpreter's C library and dynamic loader, so the image runs on older hosts; "
                + "host: use the host's (the build host's glibc or newer).", valueName: "portable|host"))
    var layout: String = PythonLayout.portable.rawValue

    @Option(name: .customLong("staging-dir"), help: "Stage the layout here (must be empty) and keep it.")
    var stagingDirectory: String?

    @OptionGroup(title: "Image")
    var image: BuildOptions

    @OptionGroup
    var destination: OutputArguments

    public init() {}

    public func validate() throws { try interpreter.validate(lock: requirements) }

    public func run() throws {
        let python = interpreter.python, output = destination.output
        var options = PythonBuildOptions(python: runtime == nil ? try InterpreterArguments.resolve(python) : python)
        // --runtime: the runtime's tree, extracted for the build's own runs of its interpreter, removed after.
        let runtimeScratch = runtime.map { _ in
            "\(FileSystem.temporaryDirectory)/xarbuild-runtime-\(UUID().uuidString)"
        }
        defer { if let runtimeScratch { try? FileSystem.removeTree(runtimeScratch) } }
        if let runtime, let runtimeScratch {
            try FileSystem.createDirectories(runtimeScratch)
            do {
                options.runtime = try RuntimeImage.read(runtime, scratch: runtimeScratch)
            } catch let error as PythonBuildError {
                throw PythonBuildRun.report(error)
            }
        }
        options.source = source
        options.wheels = wheel
        let lock = requirements ?? project.flatMap(ProjectWheelBuilder.projectLock(in:))
        options.project = project
        options.requirements = lock
        options.defaultEntry = defaultEntry
        options.revision = revision
        options.startupList = !noStartupList
        guard let chosenLayout = PythonLayout(rawValue: layout) else {
            throw ValidationError("--layout must be portable or host, not \(layout).")
        }
        options.layout = chosenLayout
        options.allScripts = allScripts
        options.check = !noCheck
        try interpreter.apply(to: &options)
        for spec in entryPoints {
            guard let eq = spec.firstIndex(of: "=") else {
                // A console script of an installed wheel, looked up when the wheels are installed.
                options.entryPoints.append(.function(name: spec, target: ""))
                continue
            }
            options.entryPoints.append(
                .function(name: String(spec[..<eq]), target: String(spec[spec.index(after: eq)...])))
        }
        for spec in modules {
            if let eq = spec.firstIndex(of: "=") {
                options.entryPoints.append(
                    .module(name: String(spec[..<eq]), module: String(spec[spec.index(after: eq)...])))
            } else {
                options.entryPoints.append(.module(name: String(spec.split(separator: ".").last ?? ""), module: spec))
            }
        }
        let previous = Depfile.PreviousOutput(of: output)
        let summary = try PythonBuildRun.run { reporter in
            if download {
                try fetch(lock: lock, python: options.runtime?.interpreter ?? options.python, reporter: reporter)
            }
            return try PythonImageBuilder.build(
                options, imageOptions: PythonBuildRun.imageOptions(image), output: output,
                stagingDirectory: stagingDirectory, progress: reporter.progress, writeProgress: reporter.writeProgress)
        }
        let staged = summary.staged
        if let depfile = destination.depfile {
            try dependencies(of: staged, python: options.python).write(to: depfile, replacing: previous)
        }
        for note in staged.notes { StandardError.writeLine("xarbuild: note: \(note).") }
        let megabytes = String(format: "%.1f", Double(summary.image.outputBytes) / 1_000_000)
        let (packages, libraries) = (staged.packages.count, staged.bundledLibraries.count)
        let on = options.runtime.map { " on the runtime \($0.fileName) (sha256:\($0.digest.prefix(16))…)" } ?? ""
        print(
            "\(output): \(megabytes) MB\(on), Python \(staged.interpreter.fullVersion), "
                + "\(packages) \(packages == 1 ? "package" : "packages"), "
                + "\(libraries) \(libraries == 1 ? "bundled library" : "bundled libraries"), entry points: "
                + staged.entryPoints.map(\.name).joined(separator: ", ") + " (default \(staged.entryPoints[0].name))")
        if let base = options.runtime {
            print("runs on: where the runtime \(base.fileName) runs (Linux ≥ \(staged.floor.kernel ?? "any"))")
        } else {
            print("runs on: " + Self.floorText(staged.floor))
        }
    }

    /// `Linux ≥ 3.2.0 (carries glibc 2.36)` or `glibc ≥ 2.35, Linux ≥ 3.2.0`.
    static func floorText(_ floor: ImageFloor) -> String {
        let kernel = "Linux ≥ \(floor.kernel ?? "any")"
        if let carried = floor.carriedGlibc { return "\(kernel), any glibc (carries glibc \(carried))" }
        return "glibc ≥ \(floor.glibc ?? "any"), \(kernel)"
    }

    /// What the build read: the interpreter's executable, the lock and the wheels installed from it, the
    /// application's wheels and source tree.
    func dependencies(of staged: PythonStager.Result, python: String) -> Depfile {
        var rule = Depfile(output: destination.output)
        if let runtime {
            rule.add(file: runtime)
        } else {
            rule.add(file: (python as NSString).resolvingSymlinksInPath)
        }
        if let lock = requirements ?? project.flatMap(ProjectWheelBuilder.projectLock(in:)) { rule.add(file: lock) }
        if let project { rule.add(file: "\(project)/pyproject.toml") }
        for path in wheel + staged.lockedWheels { rule.add(file: path) }
        if let source { rule.add(tree: source) }
        return rule
    }

    /// `--download`: the wheelhouse gets the locked wheels and the project's build requirements, and says so.
    func fetch(lock: String?, python: String, reporter: PythonBuildRun.Reporter) throws {
        guard let wheelhouse = interpreter.wheelhouse else {
            throw ValidationError("--download needs --wheelhouse DIR to download into.")
        }
        let buildRequires = try project.map { try ProjectWheelBuilder(directory: $0).read().buildRequires } ?? []
        let fetched = try WheelDownloader.download(
            lock: lock, buildRequires: buildRequires, python: python, wheelhouse: wheelhouse,
            progress: reporter.progress)
        let count = fetched.added.count
        reporter.line(
            count == 0
                ? "xarbuild: downloaded nothing into \(wheelhouse) with \(fetched.pip): every file was there"
                : "xarbuild: downloaded \(count) \(count == 1 ? "file" : "files") into \(wheelhouse) with "
                    + "\(fetched.pip): " + fetched.added.joined(separator: ", "))
    }
}
