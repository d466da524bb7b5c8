/// The `argv` the target gets, built from the header and how the launcher was invoked.
///
/// - Our images without `XAREXEC_ARGS`: `argv[0]` is the invoked path (the `.xar`, or a symlink's own name), so
///   the program sees what the user typed, as if it were native.
/// - With `XAREXEC_ARGS`: `argv[0]` is the target's path in the mount (interpreters find their prefix from it),
///   then the header's arguments with `$MOUNT`, `$ARGV0` and `$ENTRY` replaced, then the user's arguments.
/// - Facebook's images: the target is a bootstrap script that takes the `.xar` path first:
///   `[target, xarPath, userArguments...]`, as their `xarexec_fuse` passes it.
struct TargetArguments {
    /// The target's path: the mount (or extraction) directory joined with `XAREXEC_TARGET`.
    var path: String
    /// The complete `argv`.
    var argv: [String]

    /// Builds the arguments for `header`, run from `root`, invoked as `invokedPath` with `userArguments`. A thin
    /// image's target is in its runtime's mount, `runtimeRoot`, which `$RUNTIME` names.
    init(
        header: LaunchHeader, root: String, runtimeRoot: String? = nil, invokedPath: String,
        userArguments: ArraySlice<String>
    ) {
        path = (runtimeRoot ?? root) + "/" + header.target
        if header.isFacebookImage {
            argv = [path, invokedPath] + userArguments
        } else if let extra = header.execArguments {
            let entry = Self.entry(header: header, invokedPath: invokedPath)
            argv = [path]
            for word in extra {
                argv.append(
                    Self.substitute(word, mount: root, argv0: invokedPath, entry: entry, runtime: runtimeRoot ?? root))
            }
            argv += userArguments
        } else {
            argv = [invokedPath] + userArguments
        }
    }

    /// The entry point name: the invoked basename when it is one of the trampoline names, else the first name
    /// (Facebook lists the default entry first), else empty.
    static func entry(header: LaunchHeader, invokedPath: String) -> String {
        let base = invokedPath.split(separator: "/").last.map(String.init) ?? invokedPath
        if header.trampolineNames.contains(base) { return base }
        return header.trampolineNames.first ?? ""
    }

    /// `word` with each `$MOUNT`, `$ARGV0`, `$ENTRY` and `$RUNTIME` replaced.
    static func substitute(_ word: String, mount: String, argv0: String, entry: String, runtime: String = "") -> String
    {
        guard word.utf8.contains(UInt8(ascii: "$")) else { return word }
        var result = ""
        var rest = Substring(word)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("MOUNT") {
                result += mount
                rest = after.dropFirst(5)
            } else if after.hasPrefix("ARGV0") {
                result += argv0
                rest = after.dropFirst(5)
            } else if after.hasPrefix("ENTRY") {
                result += entry
                rest = after.dropFirst(5)
            } else if after.hasPrefix("RUNTIME") {
                result += runtime
                rest = after.dropFirst(7)
            } else {
                result += "$"
                rest = after
            }
        }
        return result + rest
    }
}
