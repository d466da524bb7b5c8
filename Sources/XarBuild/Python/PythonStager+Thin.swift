import Foundation
import XarSystem

/// A thin application (`xarbuild python --runtime RT.xar`, docs/runtimes.md): the image holds the application and
/// the locked wheels the runtime does not provide, and nothing else; the launcher runs it on the runtime's
/// interpreter.
///
/// Layout (relative to the image root):
/// ```
/// app/                                the application's source directory, if any
/// python/lib/pythonX.Y/site-packages  the wheels the runtime does not provide
/// .xar/                               bootstrap, import index, metadata, as in a standalone image
/// ```
extension PythonStager {
    /// Stages the thin image of `options` on `base` under `root`, running the runtime's interpreter (from its
    /// extracted tree) for the build-time steps.
    func stageThin(into root: String, base: PythonRuntimeBase) throws -> Result {
        progress("inspecting the runtime \(base.fileName)")
        let interpreter = try PythonInterpreter.probe(base.interpreter)
        let layout = Layout(interpreter: interpreter)
        let inputs = try checkThinInputs(for: interpreter, base: base)
        try FileSystem.createDirectories("\(root)/\(layout.sitePackages)")
        let installed = try installWheels(inputs, into: root, layout: layout)
        try checkRequirements(
            installed.map(\.0), interpreter: interpreter, providedElsewhere: Set(base.packages.keys))
        try copySource(into: root)
        let entries = try entryPoints(from: installed)

        // The application first: its source, its wheels (and their .pth paths), its /.xar; then the runtime's. The
        // .pth import lines: the runtime's (whose path lines its ._pth has), then the application's, in the order
        // of a child's site (bootstrap.py, _pth_imports).
        let (pthPaths, pthImports) = try Self.resolvePthFiles(root: root, sitePackages: layout.sitePackages)
        let (_, runtimePthImports) = try Self.resolvePthFiles(root: base.root, sitePackages: layout.sitePackages)
        var searchPath: [String] = options.source != nil ? ["app"] : []
        searchPath += [layout.sitePackages] + pthPaths + [".xar"]
        try FileSystem.createDirectories("\(root)/.xar")
        try self.write(
            PythonBootstrap.script(
                entries: entries, defaultEntry: entries[0].name, pthImports: pthImports, searchPath: searchPath,
                runtimePath: base.searchPath, runtimePthImports: runtimePthImports),
            to: "\(root)/.xar/bootstrap.py")
        // The same path for the processes started from sys.executable (the runtime's python3, whose sitecustomize
        // reads it when XAR_PYTHON_APP names this application: Scripts/sitecustomize.py).
        try self.write(searchPath.joined(separator: "\n") + "\n", to: "\(root)/.xar/search-path")
        try write(PythonBootstrap.runtimeModule, to: "\(root)/.xar/xar_runtime.py")
        try write(PythonImportIndex.importerModule, to: "\(root)/.xar/_xar_importer.py")

        progress("compiling bytecode")
        try compile(
            root: root, directories: [layout.sitePackages, ".xar"] + (options.source != nil ? ["app"] : []),
            python: base.interpreter)
        try placeBootstrapBytecode(root: root)
        progress("indexing modules")
        try PythonImportIndex.write(root: root, interpreter: base.interpreter, searchPath: searchPath)
        // The wheels' own ELF files are left as they come (FACTS: patched libraries break when rewritten); the
        // entry points import through the runtime's interpreter, which is the proof that they load.
        var notes = try proveItWorks(root: root, interpreter: [base.interpreter], changedELFFiles: [])
        if options.startupList {
            progress("listing the files a start reads")
            if let stopped = try PythonStartupList.write(root: root, interpreter: [base.interpreter]) {
                notes.append(
                    "importing the entry point's module at build time failed (\(stopped)); the start-up list has "
                        + "the files read until then (--no-startup-list leaves it out)")
            }
        }

        var floor = ImageFloor()
        floor.kernel = base.kernelFloor
        let buildTime = options.sourceDateEpoch ?? Int(Date().timeIntervalSince1970)
        var metadata = PythonImageMetadata(
            builder: options.builder, buildTime: buildTime, revision: options.revision ?? gitRevision(),
            interpreter: interpreter, entries: entries, packages: installed, lock: inputs.lock, bundledLibraries: [],
            layout: .portable, floor: floor)
        metadata.runtime = base.metadata
        let json = try metadata.json()
        try write(json, to: "\(root)/.xar/metadata.json")
        try Self.normalizeTimes(root: root, epoch: options.sourceDateEpoch ?? 0)
        return Result(
            launch: PythonLaunch.thin(runtimeTarget: base.target, entries: entries.map(\.name)), entryPoints: entries,
            interpreter: interpreter,
            packages: installed.map { ($0.0.name, $0.0.version) }.sorted { $0.0.lowercased() < $1.0.lowercased() },
            bundledLibraries: [], layout: .portable, floor: floor, buildTime: buildTime, metadataJSON: json,
            notes: notes, lockedWheels: inputs.choices.map(\.path))
    }

    /// The lock and the application's wheels, synchronized with the runtime: a pin of a package the runtime
    /// provides is left out when its version is the runtime's and is a conflict otherwise; a wheel the runtime's
    /// interpreter cannot use (another Python, ABI or platform) is a conflict. Every conflict is reported at
    /// once, after one line naming the lock and the runtime.
    func checkThinInputs(for interpreter: PythonInterpreter, base: PythonRuntimeBase) throws -> Inputs {
        let tags = WheelTags(interpreter: interpreter)
        var inputs = Inputs()
        var conflicts: [String] = []
        let runtimeName = "\(base.fileName) (sha256:\(base.digest.prefix(16))…)"
        if let requirements = options.requirements {
            var parsed = try RequirementsLock.read(path: requirements, markers: interpreter.markers)
            var own: [RequirementsLock.Pin] = []
            for pin in parsed.pins {
                guard let provided = base.packages[pin.normalizedName] else {
                    own.append(pin)
                    continue
                }
                if provided.version != pin.version {
                    conflicts.append(
                        "\(requirements):\(pin.line): \(pin.name)==\(pin.version), but the runtime provides "
                            + "\(provided.name) \(provided.version); pin \(provided.version) or drop the line.")
                }
            }
            parsed.pins = own
            progress("checking \(own.count) locked packages the runtime does not provide")
            do {
                inputs.choices = try WheelhouseMatcher(tags: tags, interpreter: interpreter).choose(
                    parsed, wheelhouse: options.wheelhouse)
            } catch let error as PythonBuildError {
                conflicts += error.problems
            }
            inputs.lock = parsed
        }
        for wheel in options.wheels {
            let name = (wheel as NSString).lastPathComponent
            guard let parsed = WheelFilename(name) else {
                conflicts.append("\(wheel) is not a wheel (name-version-python-abi-platform.whl).")
                continue
            }
            guard tags.rank(of: parsed) != nil else {
                conflicts.append(
                    "\(wheel) is for \(parsed.tags.first ?? "?"), which the runtime's Python \(interpreter.fullVersion) "
                        + "on \(interpreter.platform) cannot use; build it for that interpreter.")
                continue
            }
            if let provided = base.packages[parsed.normalizedName] {
                conflicts.append(
                    "\(wheel) is \(parsed.distribution) \(parsed.version), which the runtime provides "
                        + "(\(provided.name) \(provided.version)); an application cannot replace a runtime's package.")
                continue
            }
            guard let data = try? FileSystem.data(wheel) else {
                conflicts.append("Cannot read the wheel \(wheel).")
                continue
            }
            inputs.appWheels.append((wheel, SHA256Digest.hex(of: data)))
        }
        guard conflicts.isEmpty else {
            let what = options.requirements.map { "The lock \($0)" } ?? "The application's wheels"
            let count = conflicts.count == 1 ? "1 conflict" : "\(conflicts.count) conflicts"
            throw PythonBuildError(
                problems: ["\(what) does not agree with the runtime \(runtimeName): \(count)."] + conflicts)
        }
        try Self.refuseDuplicates(inputs)
        try checkSourceDirectory()
        return inputs
    }
}
