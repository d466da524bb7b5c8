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

    @Option(name: .long, help: "The CPython (3.9 or newer) to bundle, e.g. /usr/bin/python3.11.")
    var python: String = "python3"

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

    @Option(name: .long, help: "The directory holding the locked wheels.")
    var wheelhouse: String?

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

    @Option(name: .customLong("keep-stdlib"), help: "A standard-library part to keep (test, tkinter, idlelib, …).")
    var keepStdlib: [String] = []

    @Flag(name: .customLong("no-strip"), help: "Keep debug information in the bundled ELF files.")
    var noStrip = false

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

    @Option(help: "Absolute path of xarexec for the shebang (default: #!/usr/bin/env xarexec, found on PATH).")
    var launcher: String?

    @Option(name: .customLong("staging-dir"), help: "Stage the layout here (must be empty) and keep it.")
    var stagingDirectory: String?

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
        var options = PythonBuildOptions(python: runtime == nil ? try Self.resolve(python) : python)
        // --runtime: the runtime's tree, extracted for the build's own runs of its interpreter, removed after.
        let runtimeScratch = runtime.map { _ in
            FileManager.default.temporaryDirectory.appendingPathComponent("xarbuild-runtime-\(UUID().uuidString)").path
        }
        defer { if let runtimeScratch { try? FileManager.default.removeItem(atPath: runtimeScratch) } }
        if let runtime, let runtimeScratch {
            try FileManager.default.createDirectory(atPath: runtimeScratch, withIntermediateDirectories: true)
            do {
                options.runtime = try RuntimeImage.read(runtime, scratch: runtimeScratch)
            } catch let error as PythonBuildError {
                for line in error.problems { StandardError.writeLine("xarbuild: error: \(line)") }
                throw ExitCode(1)
            }
        }
        options.source = source
        options.wheels = wheel
        let lock = requirements ?? project.flatMap(ProjectWheelBuilder.projectLock(in:))
        options.project = project
        options.requirements = lock
        options.wheelhouse = wheelhouse
        options.defaultEntry = defaultEntry
        options.revision = revision
        options.keepStdlib = keepStdlib
        options.stripDebugInfo = !noStrip
        options.startupList = !noStartupList
        guard let chosenLayout = PythonLayout(rawValue: layout) else {
            throw ValidationError("--layout must be portable or host, not \(layout).")
        }
        options.layout = chosenLayout
        options.allScripts = allScripts
        options.check = !noCheck
        if let launcher {
            do {
                options.shebang = try XarHeader.shebang(launcher: launcher)
            } catch {
                throw ValidationError("--launcher: \(error)")
            }
        }
        options.builder = "xarbuild \(XarVersion.current)"
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let value = Int(epoch), value >= 0 else {
                throw ValidationError("SOURCE_DATE_EPOCH=\(epoch) is not a number of seconds.")
            }
            options.sourceDateEpoch = value
        }
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
        let summary: PythonImageBuilder.Summary
        let previous = Depfile.PreviousOutput(of: output)
        do {
            if download {
                let interpreter = options.runtime?.interpreter ?? options.python
                try fetch(lock: lock, python: interpreter, progress: progress, erase: bar.finish)
            }
            summary = try PythonImageBuilder.build(
                options,
                imageOptions: XarImageOptions(
                    compression: image.choice(zstdLevel: BuildOptions.Defaults.pythonZstdLevel),
                    blockSize: image.blockSize.bytes,
                    threads: image.threads ?? XarImageOptions.allCores),
                output: output, stagingDirectory: stagingDirectory,
                progress: progress, writeProgress: { bar.update(done: $0, total: $1) })
        } catch let error as PythonBuildError {
            bar.finish()
            for line in error.problems { StandardError.writeLine("xarbuild: error: \(line)") }
            throw ExitCode(1)
        }
        bar.finish()
        let staged = summary.staged
        if let depfile {
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
        var rule = Depfile(output: output)
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
    func fetch(lock: String?, python: String, progress: @escaping (String) -> Void, erase: () -> Void) throws {
        guard let wheelhouse else { throw ValidationError("--download needs --wheelhouse DIR to download into.") }
        let buildRequires = try project.map { try ProjectWheelBuilder(directory: $0).read().buildRequires } ?? []
        let fetched = try WheelDownloader.download(
            lock: lock, buildRequires: buildRequires, python: python, wheelhouse: wheelhouse, progress: progress)
        erase()
        let count = fetched.added.count
        let message =
            count == 0
            ? "xarbuild: downloaded nothing into \(wheelhouse) with \(fetched.pip): every file was there\n"
            : "xarbuild: downloaded \(count) \(count == 1 ? "file" : "files") into \(wheelhouse) with \(fetched.pip): "
                + fetched.added.joined(separator: ", ") + "\n"
        FileHandle.standardError.write(Data(message.utf8))
    }

    /// `--python python3.11` may name a program in PATH.
    static func resolve(_ python: String) throws -> String {
        if python.contains("/") { return python }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(python)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ValidationError("--python \(python) is not found in PATH; pass the interpreter's path.")
    }
}
