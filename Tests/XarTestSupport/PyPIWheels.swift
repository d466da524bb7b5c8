import Glibc

/// Real wheels from PyPI for tests, downloaded once (`pip download --only-binary=:all: --no-deps`) into
/// `${XDG_CACHE_HOME:-$HOME/.cache}/xar-tests/wheels` and reused by every later run. The one helper of the suite
/// that fetches from PyPI: a download goes to a private directory first and is renamed into the cache, so a
/// concurrent or interrupted run never sees half a wheel.
///
/// Pins are exact (`numpy==2.1.3`) and fetched for CPython 3.11 on manylinux x86-64, so the cache is stable and
/// a test states exactly what it installs. Nothing is fetched when every pinned file is already in the cache.
public enum PyPIWheels {
    /// Why a download could not be done.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The SHA-256 of the wheel some pins must fetch (the file PyPI serves for CPython 3.11 on manylinux x86-64),
    /// checked on every fetch: a cached file that differs (a damaged cache, another build of the same version)
    /// fails the test instead of testing something else.
    static let digests: [String: String] = [
        "clang-format==19.1.5": "a91ef7774c1b500d27ab7edf548689c6fdfdb63aa1e0dc2fc6549de1e37f7d4a",
        "ninja==1.11.1.2": "33d258809c8eda81f9d80e18a081a6eef3215e5fd1ba8902400d786641994e89",
        "pyzmq==26.2.0": "92a78853d7280bffb93df0a4a6a2498cba10ee793cc8076ef797ef2f74d107cf",
        "setuptools==75.8.0": "e3982f444617239225d675215d51f6ba05f845d4eec313da4418fdbb56fb27e3",
    ]

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
            let scratch = TemporaryDirectory(prefix: "xar-wheel-download")
            let result = try Process.run(
                [
                    python, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--python-version", "3.11",
                    "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-q", "-d",
                    scratch.path,
                ] + missing,
                environment: [
                    "PATH": "/usr/bin:/bin", "HOME": getenv("HOME").map { String(cString: $0) } ?? "/tmp",
                    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                ],
                timeout: 600)
            guard result.status == 0 else { throw Unavailable(description: "pip download \(missing): \(result)") }
            for file in try names(in: scratch.path) where rename(scratch(file), "\(cache)/\(file)") != 0 {
                throw Unavailable(description: "could not move \(file) into \(cache): errno \(errno)")
            }
            found = try pins.map { try cached($0) }
        }
        return try zip(pins, found).map { pin, path in
            guard let path else { throw Unavailable(description: "pip download did not leave a wheel for \(pin)") }
            if let pinned = digests[pin], case let digest = try sha256(path), digest != pinned {
                throw Unavailable(description: "\(path) has sha256 \(digest), not \(pinned) as pinned for \(pin)")
            }
            return path
        }
    }

    /// The cached wheel for `pin`, if any: its file name starts with the normalized name and the version.
    static func cached(_ pin: String) throws -> String? {
        let parts = pin.split(separator: "=", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw Unavailable(description: "\(pin) is not name==version") }
        let name = parts[0].lowercased().map { "-_.".contains($0) ? "_" : String($0) }.joined()
        let prefix = "\(name)-\(parts[1])-"
        return try names(in: cache).filter { $0.lowercased().hasPrefix(prefix) && $0.hasSuffix(".whl") }.sorted()
            .first.map { "\(cache)/\($0)" }
    }

    /// The SHA-256 of a file, in hex, as a hashed lock names it.
    public static func sha256(_ path: String) throws -> String {
        String(try Process.run(["sha256sum", path]).stdout.prefix(64))
    }

    /// The names in `directory` (none when it does not exist).
    static func names(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if file != "." && file != ".." { names.append(file) }
        }
        return names
    }
}
