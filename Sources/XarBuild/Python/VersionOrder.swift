/// Enough PEP 440 ordering for markers and `Requires-Python`-style checks: release segments compared
/// numerically (`3.9 < 3.10`), `==X.*` prefix matches, and `~=` compatible releases.
///
/// Pre-, post- and dev-release suffixes are compared as strings after the release segment; markers compare
/// interpreter versions, which are plain releases.
enum VersionOrder {
    /// `lhs op rhs`, or nil when `op` is not a version operator.
    static func compare(_ lhs: String, _ op: String, _ rhs: String) -> Bool? {
        if op == "==" || op == "!=", rhs.hasSuffix(".*") {
            let prefix = release(String(rhs.dropLast(2)))
            let match = Array(release(lhs).prefix(prefix.count)) == prefix
            return op == "==" ? match : !match
        }
        let order = ordering(lhs, rhs)
        switch op {
        case "==": return order == 0
        case "!=": return order != 0
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        case ">=": return order >= 0
        case "~=":
            let r = release(rhs)
            guard r.count >= 2 else { return order >= 0 }
            return order >= 0 && Array(release(lhs).prefix(r.count - 1)) == Array(r.dropLast())
        default: return nil
        }
    }

    /// -1, 0 or 1.
    static func ordering(_ a: String, _ b: String) -> Int {
        let ra = release(a), rb = release(b)
        for i in 0..<max(ra.count, rb.count) {
            let x = i < ra.count ? ra[i] : 0, y = i < rb.count ? rb[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        let sa = suffix(a), sb = suffix(b)
        if sa == sb { return 0 }
        // A final release sorts after its pre-releases.
        if sa.isEmpty { return 1 }
        if sb.isEmpty { return -1 }
        return sa < sb ? -1 : 1
    }

    /// The numeric release segment: `3.11.2rc1` → [3, 11, 2].
    static func release(_ v: String) -> [Int] {
        var parts: [Int] = []
        for piece in v.split(separator: ".") {
            let digits = piece.prefix { $0.isNumber }
            guard let n = Int(digits) else { break }
            parts.append(n)
            if digits.count != piece.count { break }
        }
        return parts
    }

    private static func suffix(_ v: String) -> String {
        String(v.drop { $0.isNumber || $0 == "." })
    }
}
