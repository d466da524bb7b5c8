import Foundation
import XarSystem

/// The lock formats `xarbuild python` reads, chosen by file name: `pylock.toml` and `pylock.NAME.toml` (PEP 751),
/// `uv.lock` (uv's own), anything else a pip requirements file with hashes.
///
/// Every format becomes the same list of pins (name, exact version, allowed SHA-256 digests), checked against
/// the wheelhouse by `WheelhouseMatcher` as strictly as a requirements file: a wheel must match a locked hash.
/// The TOML formats are resolved here for the bundled interpreter (their markers evaluated, uv's dependency
/// graph walked from the project), so their pins carry no marker.
extension RequirementsLock {
    /// The lock formats.
    public enum Format: Sendable {
        case requirements, pylock, uvLock

        /// The format of the lock at `path`, by its file name.
        public init(path: String) {
            let name = (path as NSString).lastPathComponent
            if name == "uv.lock" {
                self = .uvLock
            } else if name == "pylock.toml" || (name.hasPrefix("pylock.") && name.hasSuffix(".toml")) {
                self = .pylock
            } else {
                self = .requirements
            }
        }
    }

    /// A lock made of pins already resolved.
    init(path: String, pins: [Pin], digest: String) {
        self.path = path
        self.pins = pins
        self.digest = digest
    }

    /// Reads the lock at `path` in the format its name says, for an interpreter with the PEP 508 marker values
    /// `markers`.
    public static func read(path: String, markers: [String: String]) throws -> RequirementsLock {
        let format = Format(path: path)
        if format == .requirements { return try RequirementsLock(path: path) }
        let data: Data
        do { data = try FileSystem.data(path) } catch {
            throw PythonBuildError("Cannot read the lock file \(path): \(error.reason).")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PythonBuildError("The lock file \(path) is not UTF-8 text.")
        }
        let document = try TOMLTable.parse(text, path: path)
        let pins =
            format == .pylock
            ? try PyLock.pins(document, path: path, markers: markers)
            : try UvLock.pins(document, path: path, markers: markers)
        return RequirementsLock(path: path, pins: pins, digest: SHA256Digest.hex(of: data))
    }

    /// The sha256 digest of a `sha256:HEX` value, nil for another algorithm.
    static func sha256(_ value: String) -> String? {
        guard value.hasPrefix("sha256:") else { return nil }
        let hex = value.dropFirst("sha256:".count).lowercased()
        return hex.count == 64 && hex.allSatisfy(\.isHexDigit) ? hex : nil
    }
}

/// PEP 751 `pylock.toml`: `lock-version = "1.0"`, one `[[packages]]` table per package with its `version`, an
/// optional `marker`, and `wheels` with `hashes = { sha256 = … }`.
enum PyLock {
    static func pins(_ document: TOMLTable, path: String, markers: [String: String]) throws -> [RequirementsLock.Pin] {
        guard let lockVersion = document.string("lock-version") else {
            throw PythonBuildError("\(path): `lock-version` is missing; is this a PEP 751 pylock.toml?")
        }
        guard lockVersion.split(separator: ".").first == "1" else {
            throw PythonBuildError("\(path): lock-version \(lockVersion) is not supported (only 1.x).")
        }
        var environment = markers
        environment["extra"] = ""
        // PEP 751 markers may test `'name' in extras` and `'name' in dependency_groups`: no extras are asked
        // for, and the default groups are installed.
        environment["extras"] = ""
        environment["dependency_groups"] = (document.array("default-groups") ?? []).compactMap(\.string)
            .joined(separator: " ")
        if let requires = document.string("requires-python"),
            let holds = PythonRequirement.holds(requires, version: markers["python_full_version"] ?? ""), !holds
        {
            throw PythonBuildError(
                "\(path): the lock requires Python \(requires); the bundled interpreter is \(markers["python_full_version"] ?? "?")."
            )
        }
        var pins: [RequirementsLock.Pin] = []
        var problems: [String] = []
        var seen: [String: Int] = [:]
        for package in document.tables("packages") {
            let at = "\(path):\(package.line)"
            guard let name = package.string("name") else {
                problems.append("\(at): a package has no `name`.")
                continue
            }
            if let marker = package.string("marker") {
                do {
                    if !(try EnvironmentMarker.evaluate(marker, environment: environment)) { continue }
                } catch let error as PythonBuildError {
                    problems += error.problems.map { "\(at): \(name): \($0)" }
                    continue
                }
            }
            // The lock's own project (`directory = { path = "." }`) is built with --project, not installed.
            if let directory = package.table("directory")?.string("path"),
                ["", ".", "./"].contains(directory)
            {
                continue
            }
            let wheels = package.tables("wheels")
            guard !wheels.isEmpty else {
                let kinds = [
                    ("vcs", "a VCS checkout"), ("directory", "a directory"), ("archive", "an archive"),
                    ("sdist", "a source distribution only"),
                ]
                let kind = kinds.first { package[$0.0] != nil }?.1 ?? "a package with no wheels"
                problems.append(
                    "\(at): \(name) is locked as \(kind); only wheels are bundled: lock a wheel of it "
                        + "(or build one and pass it with --wheel).")
                continue
            }
            guard let version = package.string("version") else {
                problems.append("\(at): \(name) has no `version`; the lock must pin exact versions.")
                continue
            }
            var hashes: [String] = []
            for wheel in wheels {
                let label =
                    wheel.string("name") ?? wheel.string("url").map { ($0 as NSString).lastPathComponent } ?? name
                guard let sha = wheel.table("hashes")?.string("sha256") else {
                    problems.append(
                        "\(path):\(wheel.line): \(label) has no sha256 in `hashes`; lock it with sha256 hashes.")
                    continue
                }
                guard let digest = RequirementsLock.sha256("sha256:" + sha) else {
                    problems.append("\(path):\(wheel.line): \(label): `\(sha)` is not a sha256 digest.")
                    continue
                }
                hashes.append(digest)
            }
            let normalized = WheelFilename.normalize(name)
            if let earlier = seen[normalized] {
                problems.append(
                    "\(at): \(name) is locked twice for this interpreter (also at line \(earlier)); a lock must pin one version."
                )
                continue
            }
            seen[normalized] = package.line
            guard !hashes.isEmpty else { continue }
            pins.append(
                .init(
                    name: name, normalizedName: normalized, version: version, hashes: hashes, marker: nil,
                    line: package.line))
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems) }
        return pins
    }
}

/// uv's `uv.lock`: every `[[package]]` of a universal resolution with its `source`, `wheels` (each with
/// `hash = "sha256:…"`) and `dependencies` (edges with optional `marker`, `extra` and, when a name has several
/// versions, `version`). What the bundled interpreter installs is what `uv sync --no-dev` would: the project's
/// dependencies and theirs, markers evaluated on the edges, without the project itself (built with --project)
/// and without development groups.
enum UvLock {
    struct Package {
        var table: TOMLTable
        var name: String
        var normalized: String
        var version: String?
        var isProject: Bool
    }

    static func pins(_ document: TOMLTable, path: String, markers: [String: String]) throws -> [RequirementsLock.Pin] {
        guard case .integer(let version) = document["version"] else {
            throw PythonBuildError("\(path): `version` is missing; is this a uv.lock?")
        }
        guard version == 1 else {
            throw PythonBuildError("\(path): uv.lock version \(version) is not supported (only version 1).")
        }
        var environment = markers
        environment["extra"] = ""
        var packages: [Package] = []
        for table in document.tables("package") {
            guard let name = table.string("name") else {
                throw PythonBuildError("\(path):\(table.line): a package has no `name`.")
            }
            let source = table.table("source")
            let isProject = [source?.string("editable"), source?.string("virtual")].contains(".")
            packages.append(
                Package(
                    table: table, name: name, normalized: WheelFilename.normalize(name),
                    version: table.string("version"),
                    isProject: isProject))
        }
        let byName = Dictionary(grouping: packages.indices, by: { packages[$0].normalized })
        let roots = packages.indices.filter { packages[$0].isProject }
        guard !roots.isEmpty else {
            throw PythonBuildError(
                "\(path): no package is the project itself (source = { editable = \".\" } or { virtual = \".\" }); "
                    + "run `uv lock` in the project's directory.")
        }
        var problems: [String] = []
        // (package index, extra) pairs to visit: the extra's optional dependencies, or "" for the main ones.
        var queue: [(Int, String)] = roots.map { ($0, "") }
        var visited = Set<String>()
        var chosen: [String: Int] = [:]
        while let (index, extra) = queue.popLast() {
            let package = packages[index]
            guard visited.insert("\(index)[\(extra)]").inserted else { continue }
            let edges =
                extra.isEmpty
                ? package.table.tables("dependencies")
                : package.table.table("optional-dependencies")?.tables(extra) ?? []
            if !extra.isEmpty && package.table.table("optional-dependencies")?[extra] == nil {
                problems.append("\(path):\(package.table.line): \(package.name) has no extra `\(extra)`.")
            }
            if !extra.isEmpty { queue.append((index, "")) }
            for edge in edges {
                guard let name = edge.string("name") else {
                    problems.append("\(path):\(edge.line): a dependency of \(package.name) has no `name`.")
                    continue
                }
                if let marker = edge.string("marker") {
                    do {
                        if !(try EnvironmentMarker.evaluate(marker, environment: environment)) { continue }
                    } catch let error as PythonBuildError {
                        problems += error.problems.map { "\(path):\(edge.line): \(package.name) → \(name): \($0)" }
                        continue
                    }
                }
                var candidates = byName[WheelFilename.normalize(name)] ?? []
                if let wanted = edge.string("version") {
                    candidates = candidates.filter { packages[$0].version == wanted }
                }
                if candidates.count > 1 {
                    // A forked resolution: the version whose resolution markers hold here.
                    candidates = candidates.filter { candidate in
                        let forks = (packages[candidate].table.array("resolution-markers") ?? []).compactMap(\.string)
                        return forks.isEmpty
                            || forks.contains {
                                (try? EnvironmentMarker.evaluate($0, environment: environment)) == true
                            }
                    }
                }
                guard candidates.count == 1, let target = candidates.first else {
                    problems.append(
                        "\(path):\(edge.line): \(package.name) depends on \(name), which the lock has "
                            + (candidates.isEmpty ? "no package for." : "several versions of for this interpreter."))
                    continue
                }
                if let earlier = chosen[packages[target].normalized], earlier != target {
                    problems.append(
                        "\(path):\(packages[target].table.line): \(name) is needed in two versions "
                            + "(\(packages[earlier].version ?? "?") and \(packages[target].version ?? "?")) for this interpreter."
                    )
                    continue
                }
                chosen[packages[target].normalized] = target
                queue.append((target, ""))
                for extra in (edge.array("extra") ?? []).compactMap(\.string) { queue.append((target, extra)) }
            }
        }
        var pins: [RequirementsLock.Pin] = []
        for index in chosen.values.sorted() where !packages[index].isProject {
            let package = packages[index]
            let at = "\(path):\(package.table.line)"
            let wheels = package.table.tables("wheels")
            guard !wheels.isEmpty else {
                let source = package.table.table("source")
                let kind = ["git", "path", "directory", "editable", "virtual", "url"].first { source?[$0] != nil }
                problems.append(
                    "\(at): \(package.name) is locked "
                        + (kind.map { "from a \($0) source" } ?? "as a source distribution only")
                        + "; only wheels are bundled: lock a wheel of it (or build one and pass it with --wheel).")
                continue
            }
            guard let version = package.version else {
                problems.append("\(at): \(package.name) has no `version`; the lock must pin exact versions.")
                continue
            }
            var hashes: [String] = []
            for wheel in wheels {
                let label = wheel.string("url").map { ($0 as NSString).lastPathComponent } ?? package.name
                guard let value = wheel.string("hash") else {
                    problems.append("\(path):\(wheel.line): \(label) has no `hash`; lock it with sha256 hashes.")
                    continue
                }
                guard let digest = RequirementsLock.sha256(value) else {
                    problems.append("\(path):\(wheel.line): \(label): `\(value)` is not a sha256 hash.")
                    continue
                }
                hashes.append(digest)
            }
            guard !hashes.isEmpty else { continue }
            pins.append(
                .init(
                    name: package.name, normalizedName: package.normalized, version: version, hashes: hashes,
                    marker: nil, line: package.table.line))
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems) }
        return pins.sorted { $0.line < $1.line }
    }
}

/// `requires-python` specifiers (`>=3.9`, `>=3.9,<4`, `~=3.10`, `==3.11.*`).
enum PythonRequirement {
    /// Whether `version` satisfies every clause of `specifier`; nil when a clause cannot be read.
    static func holds(_ specifier: String, version: String) -> Bool? {
        for clause in specifier.split(separator: ",") {
            let text = clause.trimmingCharacters(in: .whitespaces)
            let op = String(text.prefix { "<>=!~".contains($0) })
            let operand = text.dropFirst(op.count).trimmingCharacters(in: .whitespaces)
            guard !op.isEmpty, !operand.isEmpty, let result = VersionOrder.compare(version, op, operand) else {
                return nil
            }
            if !result { return false }
        }
        return true
    }
}
