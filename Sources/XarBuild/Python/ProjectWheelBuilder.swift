import Foundation
import XarSystem

/// Builds the wheel of the project in a directory — `xarbuild python --project DIR` — the way `pip wheel` or
/// `python -m build --wheel` would (PEP 517), but offline: the build backend and what it requires come from the
/// wheelhouse, installed by `WheelInstaller` into a temporary directory, and the backend runs in the bundled
/// interpreter with nothing of the host's site-packages on its path.
///
/// The project's name (PEP 621 `[project] name`) and console scripts (`[project.scripts]`, read from the built
/// wheel so that dynamic ones count too) become the image's entry points, its name the default one.
public struct ProjectWheelBuilder {
    /// What `pyproject.toml` says about building.
    public struct Project: Sendable {
        /// `[project] name`.
        public var name: String
        /// `[build-system] requires` (PEP 518), setuptools' default when the table is missing.
        public var buildRequires: [String]
        /// `[build-system] build-backend`: `module` or `module:object`.
        public var backend: String
        /// `[build-system] backend-path`: in-tree backends, relative to the project.
        public var backendPath: [String]
    }

    /// The built wheel and what the image takes from it.
    public struct Built: Sendable {
        public var project: Project
        /// The wheel, in the scratch directory given to `build`.
        public var wheel: String
        /// Its console scripts: name → `module:function`, in the order `entry_points.txt` lists them.
        public var scripts: [(String, String)]
    }

    /// The project directory.
    public let directory: String
    var pyproject: String { "\(directory)/pyproject.toml" }

    public init(directory: String) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        self.directory = FileSystem.absolute(directory)
    }

    /// Reads `pyproject.toml`.
    public func read() throws -> Project {
        guard FileSystem.isDirectory(directory) else {
            throw PythonBuildError("The project directory \(directory) does not exist or is not a directory.")
        }
        guard let data = try? FileSystem.data(pyproject) else {
            throw PythonBuildError(
                "\(pyproject) does not exist; --project needs a directory with a pyproject.toml (PEP 517 and 621).")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PythonBuildError("\(pyproject) is not UTF-8 text.")
        }
        let document = try TOMLTable.parse(text, path: pyproject)
        guard let name = document.table("project")?.string("name") else {
            throw PythonBuildError(
                "\(pyproject) has no [project] name; --project builds projects described by PEP 621 metadata.")
        }
        let system = document.table("build-system")
        var requires = ["setuptools>=40.8.0"]
        if let system {
            guard let list = system.array("requires"), list.allSatisfy({ $0.string != nil }) else {
                throw PythonBuildError("\(pyproject): [build-system] requires must be a list of strings.")
            }
            requires = list.compactMap(\.string)
        }
        let backendPath = (system?.array("backend-path") ?? []).compactMap(\.string)
        for path in backendPath where path.hasPrefix("/") || path.split(separator: "/").contains("..") {
            throw PythonBuildError("\(pyproject): backend-path `\(path)` must be inside the project.")
        }
        return Project(
            name: name, buildRequires: requires,
            backend: system?.string("build-backend") ?? "setuptools.build_meta:__legacy__", backendPath: backendPath)
    }

    /// Builds the project's wheel with `python` into `scratch` (an empty directory the caller removes), taking
    /// the backend from `wheelhouse`.
    public func build(
        python: String, wheelhouse: String?, scratch: String, progress: (String) -> Void = { _ in }
    ) throws -> Built {
        let project = try read()
        let interpreter = try PythonInterpreter.probe(python)
        let resolver = BuildRequirementResolver(
            tags: WheelTags(interpreter: interpreter), markers: interpreter.markers, wheelhouse: wheelhouse,
            pyproject: pyproject)
        let site = "\(scratch)/site-packages", out = "\(scratch)/wheel"
        for dir in [site, out] {
            try FileSystem.createDirectories(dir)
        }
        let installer = WheelInstaller(root: scratch, sitePackages: "site-packages")
        var installed = Set<String>()
        /// Installs what `requirements` need, and what those need, from the wheelhouse.
        func install(_ requirements: [String], from origin: String) throws {
            var queue = try resolver.choose(requirements, origin: origin)
            while !queue.isEmpty {
                let wheel = queue.removeFirst()
                guard installed.insert(wheel.normalizedName).inserted else { continue }
                progress("installing the build requirement \((wheel.path as NSString).lastPathComponent)")
                guard let data = try? FileSystem.data(wheel.path) else {
                    throw PythonBuildError("Cannot read the wheel \(wheel.path).")
                }
                let dist = try installer.install(wheel.path, sha256: SHA256Digest.hex(of: data))
                let needed = Self.requiresDist(site: site, name: dist.name)
                queue += try resolver.choose(needed, origin: "\(dist.name) \(dist.version)'s requirements")
            }
        }
        try install(project.buildRequires, from: "[build-system] requires")

        let driver = "\(scratch)/xar_pep517.py"
        try FileSystem.write(Self.driver, to: driver)
        func hook(_ name: String) throws -> Any {
            let result = "\(scratch)/\(name).json"
            var environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": scratch]
            if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
                environment["SOURCE_DATE_EPOCH"] = epoch
            }
            let output = try ToolRunner.run(
                [python, "-I", "-S", driver, name, site, out, result, project.backend] + project.backendPath,
                environment: environment, directory: directory)
            if output.status == 3, output.stderr.hasPrefix("xar-pep517: cannot import") {
                throw PythonBuildError(
                    "\(pyproject): the build backend \(project.backend) cannot be imported from the wheelhouse's "
                        + "build requirements (\(project.buildRequires.joined(separator: ", "))): "
                        + output.stderr.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("xar-pep517: ".count))
            }
            guard output.status == 0, let data = try? FileSystem.data(result),
                let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            else {
                // The backend's own words, indented under the one-line error, as it printed them.
                let lines = (output.stdout + output.stderr).split(separator: "\n")
                    .map { String($0.reversed().drop { $0.isWhitespace }.reversed()) }.filter { !$0.isEmpty }
                throw PythonBuildError(
                    "\(pyproject): the build backend \(project.backend) failed to build the wheel (exit status "
                        + "\(output.status)); its last output:\n"
                        + lines.suffix(15).map { "    \($0)" }.joined(separator: "\n"))
            }
            return value
        }
        progress("asking \(project.backend) what else it needs")
        let extra = (try hook("requires") as? [String]) ?? []
        try install(extra, from: "get_requires_for_build_wheel")
        progress("building the wheel of \(project.name) with \(project.backend)")
        guard let name = try hook("wheel") as? String, WheelFilename(name) != nil,
            FileSystem.exists("\(out)/\(name)")
        else {
            throw PythonBuildError("\(pyproject): the build backend \(project.backend) did not write a wheel.")
        }
        let wheel = "\(out)/\(name)"
        return Built(project: project, wheel: wheel, scripts: try Self.consoleScripts(of: wheel))
    }

    /// The `Requires-Dist` lines (PEP 508, with their version specifiers) of a distribution installed in `site`.
    static func requiresDist(site: String, name: String) -> [String] {
        let wanted = WheelFilename.normalize(name)
        let infoDirectory = ((try? FileSystem.directoryEntries(site)) ?? []).first { entry in
            guard entry.hasSuffix(".dist-info"), let dash = entry.dropLast(".dist-info".count).lastIndex(of: "-")
            else { return false }
            return WheelFilename.normalize(String(entry[..<dash])) == wanted
        }
        guard let infoDirectory,
            let data = try? FileSystem.data("\(site)/\(infoDirectory)/METADATA")
        else { return [] }
        var requirements: [String] = []
        // The headers end at the first empty line; the description follows.
        let lines = String(decoding: data, as: UTF8.self).split(
            omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for text in lines {
            if text.isEmpty { break }
            if text.lowercased().hasPrefix("requires-dist:") {
                requirements.append(text.dropFirst("requires-dist:".count).trimmingCharacters(in: .whitespaces))
            }
        }
        return requirements
    }

    /// The console scripts a wheel declares in its `entry_points.txt`.
    static func consoleScripts(of wheel: String) throws -> [(String, String)] {
        let zip = try ZipArchive(path: wheel)
        guard
            let entry = zip.entries.first(where: {
                $0.name.hasSuffix(".dist-info/entry_points.txt") && $0.name.split(separator: "/").count == 2
            })
        else { return [] }
        let text = String(decoding: try zip.contents(of: entry), as: UTF8.self)
        // Only `console_scripts`: GUI scripts are not commands a .xar runs.
        var scripts: [(String, String)] = []
        var section = ""
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                section = line
                continue
            }
            guard section == "[console_scripts]", let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            let target = line[line.index(after: eq)...].split(separator: "[")[0].trimmingCharacters(in: .whitespaces)
            scripts.append((name, target))
        }
        return scripts
    }

    /// The PEP 517 front end's half that runs inside the interpreter: imports the backend with only the
    /// temporary site-packages (and `backend-path`) on the path and calls one hook, writing its result as JSON
    /// to a file (a backend's own prints go to stdout, which is shown if it fails).
    /// Arguments: hook (`requires` or `wheel`), site-packages, wheel directory, result file, backend,
    /// backend-path entries.
    static let driver = """
        import importlib, json, os, site, sys
        hook, site_dir, wheel_dir, result, backend = sys.argv[1:6]
        site.addsitedir(site_dir)
        sys.path[:0] = [os.path.abspath(p) for p in sys.argv[6:]]
        module_name, _, attribute = backend.partition(":")
        try:
            backend_object = importlib.import_module(module_name)
        except ImportError as error:
            sys.stderr.write("xar-pep517: cannot import %s: %s\\n" % (module_name, error))
            sys.exit(3)
        for part in filter(None, attribute.split(".")):
            backend_object = getattr(backend_object, part)
        if hook == "requires":
            function = getattr(backend_object, "get_requires_for_build_wheel", None)
            value = list(function(None)) if function else []
        else:
            value = backend_object.build_wheel(wheel_dir, None)
        with open(result, "w") as f:
            json.dump(value, f)
        """
}

/// Chooses wheels from the wheelhouse for PEP 508 requirements (`flit_core >=3.2,<4`, `packaging; python_version
/// < "3.11"`): the newest version the specifiers allow whose tags the interpreter accepts. Build requirements
/// are not locked, so this is the one place `xarbuild` chooses a version — only among the wheels it was given.
struct BuildRequirementResolver {
    struct Choice {
        var normalizedName: String
        var path: String
    }

    let tags: WheelTags
    let markers: [String: String]
    let wheelhouse: String?
    let pyproject: String

    func choose(_ requirements: [String], origin: String) throws -> [Choice] {
        var environment = markers
        environment["extra"] = ""
        let files = wheelhouse.flatMap { try? FileSystem.directoryEntries($0) } ?? []
        var choices: [Choice] = []
        var problems: [String] = []
        for requirement in requirements {
            var text = requirement
            if let semi = text.firstIndex(of: ";") {
                let marker = text[text.index(after: semi)...].trimmingCharacters(in: .whitespaces)
                text = String(text[..<semi])
                if !(try EnvironmentMarker.evaluate(marker, environment: environment)) { continue }
            }
            if text.contains("@") {
                problems.append(
                    "\(pyproject): the build requirement `\(requirement)` (\(origin)) is a URL; only wheels from the wheelhouse are used."
                )
                continue
            }
            let nameEnd = text.firstIndex { !($0.isLetter || $0.isNumber || "-_.".contains($0)) } ?? text.endIndex
            let name = WheelFilename.normalize(text[..<nameEnd].trimmingCharacters(in: .whitespaces))
            var rest = text[nameEnd...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                rest = rest[rest.index(after: close)...].trimmingCharacters(in: .whitespaces)
            }
            if rest.hasPrefix("("), rest.hasSuffix(")") { rest = String(rest.dropFirst().dropLast()) }
            let specifier = rest.replacingOccurrences(of: " ", with: "")
            let candidates = files.compactMap { file -> (String, WheelFilename, Int)? in
                guard let wheel = WheelFilename(file), wheel.normalizedName == name, let rank = tags.rank(of: wheel),
                    specifier.isEmpty || PythonRequirement.holds(specifier, version: wheel.version) == true
                else { return nil }
                return (file, wheel, rank)
            }
            let best = candidates.min { a, b in
                let order = VersionOrder.ordering(a.1.version, b.1.version)
                return order != 0 ? order > 0 : (a.2 != b.2 ? a.2 < b.2 : a.0 < b.0)
            }
            guard let best, let wheelhouse else {
                problems.append(
                    "\(pyproject): the build requirement `\(requirement)` (\(origin)) has no wheel in "
                        + (wheelhouse.map { "the wheelhouse \($0)" } ?? "the wheelhouse (no --wheelhouse given)")
                        + "; put one there (`xarbuild python --project … --download`, or `pip download --no-deps "
                        + "--only-binary=:all: '\(text.trimmingCharacters(in: .whitespaces))'`).")
                continue
            }
            choices.append(Choice(normalizedName: name, path: "\(wheelhouse)/\(best.0)"))
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems) }
        return choices
    }
}

extension PythonBuildOptions {
    /// Takes a built project in: its wheel is the application's first, its console scripts are entry points
    /// after any given explicitly, and — unless `--default` or `--entry-point` says otherwise — the script named
    /// like the project (else its first) is the default. With no lock given, the project's own `pylock.toml` or
    /// `uv.lock` is the lock.
    mutating func adopt(_ built: ProjectWheelBuilder.Built) {
        wheels.insert(built.wheel, at: 0)
        let explicit = entryPoints
        let names = Set(explicit.map(\.name))
        entryPoints += built.scripts.filter { !names.contains($0.0) }.map { .function(name: $0.0, target: $0.1) }
        if defaultEntry == nil, explicit.isEmpty {
            let project = WheelFilename.normalize(built.project.name)
            defaultEntry = (built.scripts.first { WheelFilename.normalize($0.0) == project } ?? built.scripts.first)?.0
        }
    }
}

extension ProjectWheelBuilder {
    /// The lock a project directory holds, when exactly one of `pylock.toml` and `uv.lock` is there.
    public static func projectLock(in directory: String) -> String? {
        let found = ["pylock.toml", "uv.lock"].map { "\(directory)/\($0)" }.filter {
            FileSystem.exists($0)
        }
        return found.count == 1 ? found[0] : nil
    }
}
