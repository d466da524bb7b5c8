import Glibc

/// Real wheels from PyPI for tests, downloaded once (`pip download --only-binary=:all: --no-deps`) into
/// `${XDG_CACHE_HOME:-$HOME/.cache}/xar-tests/wheels` and reused by every later run.
///
/// Pins are exact (`numpy==2.1.3`) and fetched for CPython 3.11 on manylinux x86-64, so the cache is stable and
/// a test states exactly what it installs. Nothing is fetched when every pinned file is already in the cache.
public enum PyPIWheels {
    /// Why a download could not be done.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The cache directory (made on first use).
    public static var cache: String {
        let base: String
        if let xdg = getenv("XDG_CACHE_HOME"), xdg.pointee != 0 {
            base = String(cString: xdg)
        } else {
            base = (getenv("HOME").map { String(cString: $0) } ?? "/tmp") + "/.cache"
        }
        return base + "/xar-tests/wheels"
    }

    /// The paths of the wheels for `pins` (`name==version`), in the order given, downloading what the cache lacks
    /// with `python -m pip` (`python` needs pip; Debian's `/usr/bin/python3` has it).
    public static func fetch(_ pins: [String], python: String = "/usr/bin/python3") throws -> [String] {
        _ = try Process.run(["/bin/mkdir", "-p", cache])
        var found = try pins.map { try cached($0) }
        let missing = zip(pins, found).filter { $0.1 == nil }.map(\.0)
        if !missing.isEmpty {
            let result = try Process.run(
                [
                    python, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--python-version", "3.11",
                    "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-q", "-d", cache,
                ] + missing,
                environment: [
                    "PATH": "/usr/bin:/bin", "HOME": getenv("HOME").map { String(cString: $0) } ?? "/tmp",
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                ],
                timeout: 600)
            guard result.status == 0 else { throw Unavailable(description: "pip download \(missing): \(result)") }
            found = try pins.map { try cached($0) }
        }
        return try zip(pins, found).map { pin, path in
            guard let path else { throw Unavailable(description: "pip download did not leave a wheel for \(pin)") }
            return path
        }
    }

    /// The cached wheel for `pin`, if any: its file name starts with the normalized name and the version.
    static func cached(_ pin: String) throws -> String? {
        let parts = pin.split(separator: "=", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw Unavailable(description: "\(pin) is not name==version") }
        let name = parts[0].lowercased().map { "-_.".contains($0) ? "_" : String($0) }.joined()
        let prefix = "\(name)-\(parts[1])-"
        guard let dir = opendir(cache) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if file.lowercased().hasPrefix(prefix), file.hasSuffix(".whl") { names.append(file) }
        }
        return names.sorted().first.map { "\(cache)/\($0)" }
    }
}
