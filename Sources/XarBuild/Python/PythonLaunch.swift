import Foundation

/// How the launcher starts a Python image: the header keys `XAREXEC_TARGET`, `XAREXEC_ARGS` and
/// `XAREXEC_TRAMPOLINE_NAMES`.
///
/// The launcher execs `target` (in the mount) with `argv[0]` set to its path in the mount — CPython derives
/// its prefix and finds its `._pth` file from there — followed by `arguments` with `$MOUNT`, `$ARGV0` and
/// `$ENTRY` substituted, then the user's arguments. No shell and no wrapper process sit in between, so exit
/// codes and signals are the interpreter's own.
public struct PythonLaunch: Sendable, Equatable {
    /// The interpreter's path relative to the image root: `python/python3`.
    public var target: String
    /// The interpreter flags, the bootstrap script, `$ARGV0` and `$ENTRY`.
    public var arguments: [String]
    /// The entry point names, the default first; a symlink to the `.xar` named after one runs it.
    public var trampolineNames: [String]

    /// `XAREXEC_ARGS` as the header stores it (space-separated; no argument contains a space).
    public var argumentsValue: String { arguments.joined(separator: " ") }

    /// The command line the launcher would exec for a mount at `mount`, invoked as `argv0` under `entry`.
    public func commandLine(mount: String, argv0: String, entry: String, userArguments: [String] = []) -> [String] {
        let substituted = arguments.map {
            $0.replacingMarker("$MOUNT", with: mount).replacingMarker("$ARGV0", with: argv0)
                .replacingMarker("$ENTRY", with: entry)
        }
        return ["\(mount)/\(target)"] + substituted + userArguments
    }
}

extension String {
    fileprivate func replacingMarker(_ marker: String, with value: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: marker) {
            out += rest[..<range.lowerBound] + value
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
