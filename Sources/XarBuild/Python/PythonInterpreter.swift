import Foundation
import XarFormat
import XarSystem

/// What the CPython installation being bundled says about itself, asked once at build time.
///
/// The interpreter is the authority on its own layout (where the standard library and `lib-dynload` live), its
/// wheel tags (version, ABI flags, platform, glibc version) and the PEP 508 marker environment, so we run it
/// with a small `-c` script instead of guessing from paths.
public struct PythonInterpreter: Sendable {
    /// The real path of the executable (symlinks resolved).
    public var executable: String
    /// `sys.implementation.name`; only `cpython` is supported.
    public var implementation: String
    /// `sys.version_info[:3]`.
    public var version: [Int]
    /// `sys.abiflags` (`""` for ordinary builds, `"t"` for free-threaded ones).
    public var abiFlags: String
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    public var platform: String
    /// The glibc version the interpreter runs against (`2.36`), empty when it is not glibc.
    public var glibc: String
    /// The standard library directory (`sysconfig.get_paths()["stdlib"]`).
    public var stdlib: String
    /// The directory of the interpreter's shared extension modules (`lib-dynload`).
    public var libDynload: String
    /// The values of the PEP 508 environment markers, for lock entries with `; python_version < "3.10"` etc.
    public var markers: [String: String]

    /// True when the interpreter's glibc (whose loader the portable layout carries) takes `--argv0` (2.33+).
    var loaderSupportsArgv0: Bool { !ELFFile.isOlder(ELFFile.parseVersion(glibc) ?? [], than: [2, 33]) }

    /// `major.minor`, e.g. `3.11`.
    public var shortVersion: String { "\(version[0]).\(version[1])" }
    /// `major.minor.micro`.
    public var fullVersion: String { version.map(String.init).joined(separator: ".") }

    /// The script the interpreter runs to describe itself; prints one JSON object.
    static let probeScript = EmbeddedPython.interpreterProbe

    /// Asks the interpreter at `path` to describe itself, and refuses anything but CPython ≥ 3.9 on glibc Linux.
    public static func probe(_ path: String) throws -> PythonInterpreter {
        guard FileSystem.isExecutable(path) else {
            throw PythonBuildError("The interpreter \(path) does not exist or is not executable; pass --python PATH.")
        }
        let output = try ToolRunner.run([path, "-I", "-S", "-c", probeScript], environment: [:])
        guard output.status == 0, let data = output.stdout.data(using: .utf8),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            // Only the first line, cut short: a program that is not Python may echo the whole probe script.
            let said = output.stderr.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            throw PythonBuildError(
                "The interpreter \(path) did not describe itself (is it a CPython ≥ 3.9?)"
                    + (said.isEmpty ? "." : ": " + (said.count > 100 ? String(said.prefix(100)) + "…" : said)))
        }
        let interpreter = PythonInterpreter(
            executable: json["executable"] as? String ?? path,
            implementation: json["implementation"] as? String ?? "",
            version: json["version"] as? [Int] ?? [0, 0, 0],
            abiFlags: json["abiflags"] as? String ?? "",
            platform: json["platform"] as? String ?? "",
            glibc: json["glibc"] as? String ?? "",
            stdlib: json["stdlib"] as? String ?? "",
            libDynload: json["lib_dynload"] as? String ?? "",
            markers: json["markers"] as? [String: String] ?? [:])
        guard interpreter.implementation == "cpython" else {
            throw PythonBuildError(
                "The interpreter \(path) is \(interpreter.implementation), not CPython; only CPython can be bundled.")
        }
        guard interpreter.version[0] == 3, interpreter.version[1] >= 9 else {
            throw PythonBuildError(
                "The interpreter \(path) is Python \(interpreter.fullVersion); CPython 3.9 or newer is required.")
        }
        guard interpreter.platform.hasPrefix("linux-"), !interpreter.glibc.isEmpty else {
            throw PythonBuildError(
                "The interpreter \(path) is built for \(interpreter.platform) without glibc; only glibc Linux builds can be bundled."
            )
        }
        guard FileSystem.exists("\(interpreter.stdlib)/os.py") else {
            throw PythonBuildError(
                "The interpreter \(path) reports its standard library at \(interpreter.stdlib), which has no os.py.")
        }
        return interpreter
    }
}
