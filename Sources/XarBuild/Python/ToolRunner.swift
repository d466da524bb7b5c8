import Foundation

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
        let scratch = FileManager.default.temporaryDirectory
        let outURL = scratch.appendingPathComponent("xarbuild-\(UUID().uuidString).out")
        let errURL = scratch.appendingPathComponent("xarbuild-\(UUID().uuidString).err")
        let cleanups = [BuildCleanup.register(path: outURL.path), BuildCleanup.register(path: errURL.path)]
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
            cleanups.forEach(BuildCleanup.unregister)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
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
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Output(status: process.terminationStatus, stdout: out, stderr: err)
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
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw PythonBuildError("The tool `\(name)` is not installed (not found in PATH); install it and retry.")
    }
}
