import Foundation

/// A wheel's file name taken apart: `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
///
/// The wheel spec (PEP 427, "File name convention") puts everything an installer needs to choose a wheel in
/// its name; each tag field may be a compressed set joined by `.` (`py2.py3-none-any`).
public struct WheelFilename: Sendable, Hashable {
    /// The distribution name as written in the file name.
    public var distribution: String
    /// The version as written.
    public var version: String
    /// The Python tags (`cp311`, `py3`).
    public var pythonTags: [String]
    /// The ABI tags (`cp311`, `abi3`, `none`).
    public var abiTags: [String]
    /// The platform tags (`manylinux_2_17_x86_64`, `any`).
    public var platformTags: [String]

    /// The distribution name normalized per PEP 503 (lowercase, runs of `-_.` become `-`).
    public var normalizedName: String { Self.normalize(distribution) }

    /// Parses a wheel file name; nil when it is not one.
    public init?(_ fileName: String) {
        guard fileName.hasSuffix(".whl") else { return nil }
        let parts = fileName.dropLast(4).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5 || parts.count == 6, !parts.contains(where: \.isEmpty) else { return nil }
        distribution = parts[0]
        version = parts[1]
        pythonTags = parts[parts.count - 3].split(separator: ".").map(String.init)
        abiTags = parts[parts.count - 2].split(separator: ".").map(String.init)
        platformTags = parts[parts.count - 1].split(separator: ".").map(String.init)
    }

    /// Every `python-abi-platform` triple the name declares.
    public var tags: [String] {
        pythonTags.flatMap { py in abiTags.flatMap { abi in platformTags.map { "\(py)-\(abi)-\($0)" } } }
    }

    /// PEP 503 normalization: `Foo_Bar.baz` and `foo-bar-baz` name the same project.
    public static func normalize(_ name: String) -> String {
        var out = ""
        var lastWasSeparator = false
        for ch in name.lowercased() {
            if ch == "-" || ch == "_" || ch == "." {
                if !lastWasSeparator { out.append("-") }
                lastWasSeparator = true
            } else {
                out.append(ch)
                lastWasSeparator = false
            }
        }
        return out
    }

    /// A version normalized enough to compare a lock's pin with a file name (`1.0.0` vs `1.0.0`, case, `_`/`-`).
    public static func normalizeVersion(_ version: String) -> String {
        var v = version.lowercased().replacingOccurrences(of: "_", with: "-")
        if v.hasPrefix("v") { v.removeFirst() }
        return v
    }
}
