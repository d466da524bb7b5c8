import Foundation
import XarSystem

/// Runs the external tools the Python builder relies on (the interpreter being bundled, `ldd`, `patchelf`,
/// `git`) and captures what they print.
///
/// Output goes to temporary files rather than pipes so a chatty tool can never dead-lock us.
enum ToolRunner {
    /// What a finished tool printed and how it ended.
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The last three lines of stderr on one line: what an error message quotes of a failed tool.
        var stderrTail: String { stderr.split(whereSeparator: \.isNewline).suffix(3).joined(separator: " ") }
    }

    /// Runs `argv` (argv[0] is an absolute path or a name looked up in `PATH`) with `environment` replacing the
    /// whole environment when given, and waits for it.
    static func run(
        _ argv: [String], environment: [String: String]? = nil, directory: String? = nil
    ) throws -> Output {
        let process = Foundation.Process()
        let tool = argv[0].contains("/") ? argv[0] : try which(argv[0])
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = Array(argv.dropFirst())
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let scratch = FileSystem.temporaryDirectory
        let outPath = "\(scratch)/xarbuild-\(UUID().uuidString).out"
        let errPath = "\(scratch)/xarbuild-\(UUID().uuidString).err"
        let cleanups = [BuildCleanup.register(path: outPath), BuildCleanup.register(path: errPath)]
        defer {
            try? FileSystem.removeFile(outPath)
            try? FileSystem.removeFile(errPath)
            cleanups.forEach(BuildCleanup.unregister)
        }
        // Foundation's Process takes its standard output and error as FileHandles: ours, handed over.
        let outHandle = FileHandle(fileDescriptor: try createOutputFile(outPath), closeOnDealloc: true)
        let errHandle = FileHandle(fileDescriptor: try createOutputFile(errPath), closeOnDealloc: true)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw PythonBuildError("Cannot run \(tool): \(error.localizedDescription).")
        }
        let running = BuildCleanup.register(process: process.processIdentifier)
        process.waitUntilExit()
        BuildCleanup.unregister(running)
        try? outHandle.close()
        try? errHandle.close()
        let out = FileSystem.utf8Text(outPath) ?? ""
        let err = FileSystem.utf8Text(errPath) ?? ""
        return Output(status: process.terminationStatus, stdout: out, stderr: err)
    }

    /// Creates the empty file `path` (mode 0600, never through a symbolic link) for a tool's output; returns its
    /// descriptor for the caller to own.
    private static func createOutputFile(_ path: String) throws -> Int32 {
        do {
            return try FileDescriptor.open(
                path, .writeOnly, options: [.create, .exclusive, .noFollow], permissions: 0o600
            ).release()
        } catch {
            throw SystemError(error, "create", path: path)
        }
    }

    /// Runs `argv` and returns its standard output, or throws `failure` followed by what the tool printed.
    static func check(_ argv: [String], environment: [String: String]? = nil, failure: String) throws -> String {
        let output = try run(argv, environment: environment)
        guard output.status == 0 else {
            let detail = output.stderr.split(whereSeparator: \.isNewline).suffix(8).joined(separator: "\n")
            throw PythonBuildError(
                "\(failure) (`\(argv.joined(separator: " "))` exited with \(output.status)): \(detail)")
        }
        return output.stdout
    }

    /// The full path of `name` in `PATH`.
    static func which(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileSystem.isExecutable(candidate) { return candidate }
        }
        throw PythonBuildError("The tool `\(name)` is not installed (not found in PATH); install it and retry.")
    }
}
