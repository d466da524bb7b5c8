import Foundation
import XarSystem

/// `xarbuild python --download`: fills the wheelhouse with exactly the files the lock pins, for the bundled
/// interpreter's platform, ABI and Python version (not the host's), by running pip — the only step of
/// `xarbuild` that uses the network, and only when asked.
///
/// The locked packages are fetched with `pip download --no-deps --require-hashes --only-binary=:all:` and the
/// interpreter's tags (`--platform`, `--python-version`, `--implementation cp`, `--abi`), so pip refuses any
/// file whose hash the lock does not allow. A project's build requirements (`[build-system] requires`) are
/// not locked: they are fetched the same way but with their dependencies and without hashes, as `pip wheel`
/// would install them.
public enum WheelDownloader {
    /// What was fetched.
    public struct Summary: Sendable {
        /// The wheelhouse's wheels that were not there before, by file name.
        public var added: [String]
        /// The pip that ran: `/usr/bin/python3 -m pip`.
        public var pip: String
    }

    /// Downloads the lock's wheels (and `buildRequires`) for the interpreter `python` into `wheelhouse`.
    /// `pipPython` is the interpreter whose pip runs; by default `python` when it has pip, else `python3`.
    public static func download(
        lock: String?, buildRequires: [String] = [], python: String, pipPython: String? = nil, wheelhouse: String,
        progress: (String) -> Void = { _ in }
    ) throws -> Summary {
        let interpreter = try PythonInterpreter.probe(python)
        let pip = try pipPython ?? choosePip(python)
        do {
            try FileSystem.createDirectories(wheelhouse)
        } catch {
            throw PythonBuildError("Cannot create the wheelhouse directory \(wheelhouse).")
        }
        let before = Set((try? FileSystem.directoryEntries(wheelhouse)) ?? [])
        let scratch = "\(FileSystem.temporaryDirectory)/xarbuild-download-\(UUID().uuidString)"
        try FileSystem.createDirectories(scratch)
        defer { try? FileSystem.removeTree(scratch) }

        let tagArguments = Self.tagArguments(for: interpreter)
        var environment = ProcessInfo.processInfo.environment
        environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        environment["PIP_NO_INPUT"] = "1"
        func run(_ arguments: [String], what: String) throws {
            let argv =
                [pip, "-m", "pip", "download", "--only-binary=:all:", "-d", wheelhouse] + tagArguments + arguments
            progress("downloading \(what) with \(pip) -m pip")
            let output = try ToolRunner.run(argv, environment: environment)
            guard output.status == 0 else {
                let lines = (output.stdout + output.stderr).split(separator: "\n")
                    .map { String($0.reversed().drop { $0.isWhitespace }.reversed()) }.filter { !$0.isEmpty }
                throw PythonBuildError(
                    "`\(pip) -m pip download` failed to fetch \(what) (exit status \(output.status)); its last output:\n"
                        + lines.suffix(12).map { "    \($0)" }.joined(separator: "\n"))
            }
        }
        if let lock {
            let parsed = try RequirementsLock.read(path: lock, markers: interpreter.markers)
            var lines: [String] = []
            for pin in parsed.pins {
                if let marker = pin.marker,
                    !(try EnvironmentMarker.evaluate(marker, environment: interpreter.markers))
                {
                    continue
                }
                lines.append(
                    "\(pin.name)==\(pin.version) " + pin.hashes.map { "--hash=sha256:\($0)" }.joined(separator: " "))
            }
            if !lines.isEmpty {
                let requirements = "\(scratch)/requirements.txt"
                try FileSystem.write(lines.joined(separator: "\n") + "\n", to: requirements)
                try run(
                    ["--no-deps", "--require-hashes", "-r", requirements],
                    what: "the \(lines.count) \(lines.count == 1 ? "package" : "packages") locked in \(lock)")
            }
        }
        if !buildRequires.isEmpty {
            try run(buildRequires, what: "the build requirements \(buildRequires.joined(separator: ", "))")
        }
        let after = (try? FileSystem.directoryEntries(wheelhouse)) ?? []
        return Summary(added: after.filter { !before.contains($0) }.sorted(), pip: "\(pip) -m pip")
    }

    /// The interpreter whose pip runs: the bundled one when it has pip, else `python3` from PATH.
    static func choosePip(_ python: String) throws -> String {
        if (try? ToolRunner.run([python, "-m", "pip", "--version"]))?.status == 0 { return python }
        if let host = try? ToolRunner.which("python3"),
            (try? ToolRunner.run([host, "-m", "pip", "--version"]))?.status == 0
        {
            return host
        }
        throw PythonBuildError(
            "--download needs pip: neither \(python) nor python3 in PATH has it (`python3 -m ensurepip` installs it).")
    }

    /// pip's target options for the interpreter: every platform tag it accepts (newest glibc first), its
    /// version, implementation and ABIs.
    static func tagArguments(for interpreter: PythonInterpreter) -> [String] {
        var platforms: [String] = []
        for tag in WheelTags(interpreter: interpreter).ordered {
            let platform = String(tag.split(separator: "-").last ?? "")
            if platform != "any" && !platforms.contains(platform) { platforms.append(platform) }
        }
        let cp = "cp\(interpreter.version[0])\(interpreter.version[1])"
        var abis = ["\(cp)\(interpreter.abiFlags)"]
        if !interpreter.abiFlags.contains("t") { abis.append("abi3") }
        abis.append("none")
        return platforms.flatMap { ["--platform", $0] }
            + ["--python-version", "\(interpreter.version[0]).\(interpreter.version[1])", "--implementation", "cp"]
            + abis.flatMap { ["--abi", $0] }
    }
}
