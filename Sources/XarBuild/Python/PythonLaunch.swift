import Foundation

/// How the launcher starts a Python image: the header keys `XAREXEC_TARGET`, `XAREXEC_ARGS` and
/// `XAREXEC_TRAMPOLINE_NAMES`.
///
/// The launcher execs `target` (in the mount) with `argv[0]` set to its path in the mount — CPython derives
/// its prefix and finds its `._pth` file from there — followed by `arguments` with `$MOUNT`, `$ARGV0` and
/// `$ENTRY` substituted, then the user's arguments. No shell and no wrapper process sit in between, so exit
/// codes and signals are the interpreter's own.
public struct PythonLaunch: Sendable, Equatable {
    /// The program the launcher execs, relative to the image root: `python/bin/python3`, or the image's
    /// dynamic loader in the portable layout.
    public var target: String
    /// The interpreter flags, the bootstrap script, `$ARGV0` and `$ENTRY`.
    public var arguments: [String]
    /// The entry point names, the default first; a symlink to the `.xar` named after one runs it.
    public var trampolineNames: [String]

    /// The launch of the interpreter at `PythonLayout.interpreterPath` with the bootstrap, for `layout`.
    ///
    /// The interpreter runs with `-I -S` and the bootstrap sets `sys.path` (no `._pth` lookup, no `site`): the
    /// `python/python3._pth` next to `sys.executable` is for the processes the application starts from it. In the
    /// portable layout the target is the image's own dynamic loader (`loader`, its file name in
    /// `PythonLayout.libraryDirectory`), invoked explicitly: no wrapper, no environment variable.
    static func make(layout: PythonLayout, loader: String?, entries: [String]) -> PythonLaunch {
        let run = ["-I", "-S", "$MOUNT/.xar/bootstrap.pyc", "$ARGV0", "$ENTRY"]
        if layout == .portable, let loader {
            return PythonLaunch(
                target: "\(PythonLayout.libraryDirectory)/\(loader)",
                arguments: [
                    "--library-path", "$MOUNT/\(PythonLayout.libraryDirectory)",
                    "$MOUNT/\(PythonLayout.interpreterPath)",
                ] + run, trampolineNames: entries)
        }
        return PythonLaunch(target: PythonLayout.interpreterPath, arguments: run, trampolineNames: entries)
    }

    /// The launch of a runtime (`xarbuild runtime`): its interpreter through its loader with `argv[0]` the
    /// `python/python3` that `sys.executable` names (so the interpreter reads `python/python3._pth` and behaves
    /// like that `python3`), then the user's arguments.
    static func runtime(loader: String, supportsArgv0: Bool) -> PythonLaunch {
        let argv0 = supportsArgv0 ? ["--argv0", "$MOUNT/\(PythonLayout.executablePath)"] : []
        return PythonLaunch(
            target: "\(PythonLayout.libraryDirectory)/\(loader)",
            arguments: ["--library-path", "$MOUNT/\(PythonLayout.libraryDirectory)"] + argv0
                + ["$MOUNT/\(PythonLayout.interpreterPath)"],
            trampolineNames: [])
    }

    /// The launch of a thin image (docs/runtimes.md): `target` is the runtime's loader, relative to the runtime's
    /// mount (`$RUNTIME`), which starts the runtime's interpreter on this image's bootstrap.
    static func thin(runtimeTarget: String, entries: [String]) -> PythonLaunch {
        PythonLaunch(
            target: runtimeTarget,
            arguments: [
                "--library-path", "$RUNTIME/\(PythonLayout.libraryDirectory)",
                "$RUNTIME/\(PythonLayout.interpreterPath)", "-I", "-S", "$MOUNT/.xar/bootstrap.pyc", "$ARGV0", "$ENTRY",
            ], trampolineNames: entries)
    }

    /// The command line that runs the staged interpreter at `root` as the launch does (loader and all), for
    /// build-time runs.
    func interpreterCommand(root: String) -> [String] {
        let prefix = commandLine(mount: root, argv0: "", entry: "")
        guard let interpreter = prefix.firstIndex(of: "\(root)/\(PythonLayout.interpreterPath)") else { return prefix }
        return Array(prefix[...interpreter])
    }

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
