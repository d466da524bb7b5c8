import Foundation

/// The wheel tags the bundled interpreter accepts, most preferred first, computed from what it says about
/// itself — the same list `packaging.tags.sys_tags()` gives for CPython on glibc Linux.
///
/// Rules (packaging's `cpython_tags`, `compatible_tags` and `_manylinux.platform_tags`):
/// `cpXY-cpXY{abiflags}`, `cpXY-abi3`, `cpXY-none` on every platform tag; `cpXW-abi3` for older minors W;
/// then `pyXY-none`, `py3-none`, `pyXW-none` on every platform; then `cpXY-none-any`, `pyXY-none-any`,
/// `py3-none-any`, `pyXW-none-any`. The platform tags are `manylinux_2_N_{arch}` for N from the interpreter's
/// glibc minor down to 5 (with the legacy aliases `manylinux2014` = 2.17, `manylinux2010` = 2.12,
/// `manylinux1` = 2.5), then `linux_{arch}`.
public struct WheelTags: Sendable {
    /// `python-abi-platform` triples in order of preference.
    public let ordered: [String]
    private let rank: [String: Int]

    /// The tags for `interpreter`.
    public init(interpreter: PythonInterpreter) {
        let major = interpreter.version[0], minor = interpreter.version[1]
        let arch = String(interpreter.platform.dropFirst("linux-".count)).replacingOccurrences(of: "-", with: "_")
        let glibcParts = interpreter.glibc.split(separator: ".").compactMap { Int($0) }
        let glibcMinor = glibcParts.count >= 2 && glibcParts[0] == 2 ? glibcParts[1] : 17
        var platforms: [String] = []
        if glibcMinor >= 5 {
            for n in stride(from: glibcMinor, through: 5, by: -1) {
                platforms.append("manylinux_2_\(n)_\(arch)")
                if n == 17 { platforms.append("manylinux2014_\(arch)") }
                if n == 12 { platforms.append("manylinux2010_\(arch)") }
                if n == 5 { platforms.append("manylinux1_\(arch)") }
            }
        }
        platforms.append("linux_\(arch)")

        let cp = "cp\(major)\(minor)"
        var tags: [String] = []
        for abi in ["\(cp)\(interpreter.abiFlags)", "abi3", "none"] {
            // Free-threaded builds have no stable ABI.
            if abi == "abi3" && interpreter.abiFlags.contains("t") { continue }
            tags += platforms.map { "\(cp)-\(abi)-\($0)" }
        }
        if !interpreter.abiFlags.contains("t") {
            for older in stride(from: minor - 1, through: 2, by: -1) {
                tags += platforms.map { "cp\(major)\(older)-abi3-\($0)" }
            }
        }
        let pyVersions =
            ["py\(major)\(minor)", "py\(major)"]
            + stride(from: minor - 1, through: 0, by: -1).map {
                "py\(major)\($0)"
            }
        for py in pyVersions { tags += platforms.map { "\(py)-none-\($0)" } }
        tags.append("\(cp)-none-any")
        tags += pyVersions.map { "\($0)-none-any" }
        ordered = tags
        var rank: [String: Int] = [:]
        for (i, tag) in tags.enumerated() where rank[tag] == nil { rank[tag] = i }
        self.rank = rank
    }

    /// The preference of the best tag `wheel` declares that we accept (lower is better), or nil when the
    /// interpreter cannot use it.
    public func rank(of wheel: WheelFilename) -> Int? {
        wheel.tags.compactMap { rank[$0] }.min()
    }
}
