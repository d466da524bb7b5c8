/// A size given on the command line: `4096`, `4K`, `128K`, `1M` (binary units; `KiB`, `k`, `KB` also accepted).
///
/// Block sizes are powers of two, so the binary reading is the only useful one.
public struct ByteSize: Sendable, Hashable, CustomStringConvertible {
    /// The size in bytes.
    public var bytes: Int

    /// A size of `bytes` bytes.
    public init(bytes: Int) { self.bytes = bytes }

    /// Parses `text`; nil when it is not a number with an optional K or M suffix.
    public init?(parsing text: String) {
        var digits = Substring(text)
        var unit = 1
        let lowered = text.lowercased()
        let suffixes = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("kb", 1 << 10), ("mb", 1 << 20), ("k", 1 << 10), ("m", 1 << 20),
            ("b", 1),
        ]
        for (suffix, multiplier) in suffixes where lowered.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            unit = multiplier
            break
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = Int(digits), n >= 0, n <= Int.max / unit
        else { return nil }
        bytes = n * unit
    }

    /// `4K`, `128K`, `1M`, or the number of bytes when it is not a whole number of KiB.
    public var description: String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }

    /// A human size for summaries: `512 B`, `13.7 MB` (decimal units, as `ls -h --si` and most reports use).
    public static func human(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = (value * 10).rounded() / 10
        return "\(tenths) \(units[unit])"
    }
}
