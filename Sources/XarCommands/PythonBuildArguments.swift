import ArgumentParser
import Foundation
import XarBuild
import XarFormat
import XarSystem

/// The options `xarbuild python` and `xarbuild runtime` share about the interpreter: which one to bundle, where
/// its wheels are, what of it is kept, and the shebang. Each command declares its own lock option, since the lock
/// means something else to each (the application's, or what the runtime offers).
struct InterpreterArguments: ParsableArguments {
    @Option(name: .long, help: "The CPython (3.9 or newer) to bundle, e.g. /usr/bin/python3.11.")
    var python: String = "python3"

    @Option(name: .long, help: "The directory holding the locked wheels.")
    var wheelhouse: String?

    @Option(name: .customLong("keep-stdlib"), help: "A standard-library part to keep (test, tkinter, idlelib, …).")
    var keepStdlib: [String] = []

    @Flag(name: .customLong("no-strip"), help: "Keep debug information in the bundled ELF files.")
    var noStrip = false

    @Option(help: "Absolute path of xarexec for the shebang (default: #!/usr/bin/env xarexec, found on PATH).")
    var launcher: String?

    init() {}

    /// `-r LOCK` without `--wheelhouse` is a usage error for both commands.
    func validate(lock: String?) throws {
        if lock != nil, wheelhouse == nil {
            throw ValidationError("-r/--requirements needs --wheelhouse DIR, the directory holding the locked wheels.")
        }
    }

    /// Sets what these options decide in `options`: the wheelhouse, the kept standard library, stripping, the
    /// shebang, the builder's name and `SOURCE_DATE_EPOCH`.
    func apply(to options: inout PythonBuildOptions) throws {
        options.wheelhouse = wheelhouse
        options.keepStdlib = keepStdlib
        options.stripDebugInfo = !noStrip
        options.builder = "xarbuild \(XarVersion.current)"
        if let launcher {
            do {
                options.shebang = try XarHeader.shebang(launcher: launcher)
            } catch {
                throw ValidationError("--launcher: \(error)")
            }
        }
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let value = Int(epoch), value >= 0 else {
                throw ValidationError("SOURCE_DATE_EPOCH=\(epoch) is not a number of seconds.")
            }
            options.sourceDateEpoch = value
        }
    }

    /// `--python python3.11` may name a program in PATH.
    static func resolve(_ python: String) throws -> String {
        if python.contains("/") { return python }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(python)"
            if FileSystem.isExecutable(candidate) { return candidate }
        }
        throw ValidationError("--python \(python) is not found in PATH; pass the interpreter's path.")
    }
}

/// The output of `xarbuild python` and `xarbuild runtime`, and the Makefile rule naming what built it.
struct OutputArguments: ParsableArguments {
    @Option(name: .shortAndLong, help: "The .xar to write.")
    var output: String

    @Option(
        name: .customLong("depfile"),
        help: "Also write FILE: a Makefile rule naming every input, for Make, Ninja and CMake (docs/building.md).")
    var depfile: String?

    init() {}
}

/// The terminal side of a Python build, the same for `xarbuild python` and `xarbuild runtime`: one progress line
/// (warnings and other lines printed above it), and a failed build's problems printed one per line, exit status 1.
enum PythonBuildRun {
    /// What a build reports through: its steps (`progress`; a `warning:` message is printed as a line), the
    /// writer's bytes (`writeProgress`), and whole lines for standard error (`line`, the progress line erased first).
    struct Reporter {
        let progress: (String) -> Void
        let writeProgress: (Int64, Int64) -> Void
        let line: (String) -> Void
    }

    /// Runs `build` with a reporter; returns its summary once the progress line is erased. A `PythonBuildError` or
    /// a `SystemError` is printed (`report`) and becomes exit status 1.
    static func run(_ build: (Reporter) throws -> PythonImageBuilder.Summary) throws -> PythonImageBuilder.Summary {
        let bar = BuildProgress(delay: 0)
        BuildCleanup.removeOnSignal { bar.finish() }
        let reporter = Reporter(
            progress: { message in
                if message.hasPrefix("warning:") {
                    bar.finish()
                    StandardError.writeLine("xarbuild: \(message)")
                } else {
                    bar.status(message)
                }
            },
            writeProgress: { bar.update(done: $0, total: $1) },
            line: { text in
                bar.finish()
                StandardError.writeLine(text)
            })
        defer { bar.finish() }
        do {
            return try build(reporter)
        } catch let error as PythonBuildError {
            bar.finish()
            throw report(error)
        } catch let error as SystemError {
            // A file or directory of the build that could not be read or written: one line naming it.
            bar.finish()
            throw report(PythonBuildError(error.description))
        }
    }

    /// Prints every problem of `error` on a line of its own; returns exit status 1 to throw, so that the
    /// command's own clean-up (`defer`) still runs.
    static func report(_ error: PythonBuildError) -> ExitCode {
        for line in error.problems { StandardError.writeLine("xarbuild: error: \(line)") }
        return ExitCode(1)
    }

    /// The image options of a Python build: the compression chosen (zstd at the Python level by default), the
    /// block size and the threads.
    static func imageOptions(_ image: BuildOptions) -> XarImageOptions {
        XarImageOptions(
            compression: image.choice(zstdLevel: BuildOptions.Defaults.pythonZstdLevel),
            blockSize: image.blockSize.bytes, threads: image.threads ?? XarImageOptions.allCores)
    }
}
