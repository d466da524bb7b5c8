import Foundation

/// Lays out a Python application, its interpreter and its wheels in a directory, exactly as the image will hold
/// them; `PythonImageBuilder` then writes that directory as a `.xar`.
///
/// Layout (relative to the image root; see docs/python.md):
/// ```
/// python/bin/python3                  the interpreter (RUNPATH $ORIGIN/../lib)
/// python/python3                      sys.executable: a trampoline to the carried loader (portable) or a symlink
/// python/python3._pth                 the sys.path of processes started from sys.executable (3.11+)
/// python/lib/lib*.so*                 bundled shared libraries (libpython, libzstd, …; portable: glibc, ld.so)
/// python/lib/pythonX.Y/               the standard library, lib-dynload, site-packages
/// app/                                the application's source directory, if any
/// .xar/bootstrap.py, xar_runtime.py   the entry point runner and the metadata reader
/// .xar/_xar_importer.py               imports from the index below (PythonImportIndex)
/// .xar/import-index.marshal           every importable module, found at build time
/// .xar/metadata.json                  provenance
/// ```
public struct PythonStager {
    /// What staging produced, for the header and the summary.
    public struct Result: Sendable {
        /// The header keys that start the application.
        public var launch: PythonLaunch
        /// The entry points, default first.
        public var entryPoints: [PythonBuildOptions.EntryPoint]
        /// The bundled interpreter.
        public var interpreter: PythonInterpreter
        /// Installed distributions: (name, version), sorted.
        public var packages: [(String, String)]
        /// Sonames of the shared libraries copied into the image.
        public var bundledLibraries: [String]
        /// Where the C library comes from, and the oldest host the image runs on.
        public var layout: PythonLayout = .portable
        public var floor = ImageFloor()
        /// The build time recorded (seconds since the epoch).
        public var buildTime: Int
        /// The text of `/.xar/metadata.json`.
        public var metadataJSON: String
        /// Things the build did not do and the user should know, one sentence each (`xarbuild: note: …`).
        public var notes: [String] = []
        /// The wheelhouse files installed for the lock (for `--depfile`).
        public var lockedWheels: [String] = []
    }

    /// Standard-library entries left out unless asked for with `keepStdlib`.
    public static let omittedStdlib: [String] = [
        "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip", "lib2to3", "pydoc_data",
        "site-packages", "dist-packages",
    ]

    /// `lib-dynload` modules left out unless named in `keepStdlib`: Tk, and legacy Unix interfaces whose
    /// libraries are most of the bundled weight (`nis` pulls in Kerberos and libtirpc, `_dbm` Berkeley DB,
    /// `_crypt` libcrypt; all deprecated since 3.11, `dbm` falls back to `dbm.dumb`).
    public static let omittedExtensions: Set<String> = ["_tkinter", "nis", "_dbm", "_crypt", "spwd", "ossaudiodev"]

    /// CPython's own test extension modules.
    static func isTestExtension(_ module: String) -> Bool {
        module.hasPrefix("_test") || module.hasPrefix("xxlimited") || module == "_xxtestfuzz"
            || module == "_ctypes_test"
            || module == "xxsubtype"
    }

    let options: PythonBuildOptions
    /// Called with a short progress message (`installing black 24.1.0 (3/7)`).
    let progress: (String) -> Void

    /// A stager for `options`.
    public init(options: PythonBuildOptions, progress: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.progress = progress
    }

    /// Stages everything under `root` (an empty directory).
    public func stage(into root: String) throws -> Result {
        let fm = FileManager.default
        // Tools run with the staging directory as their working directory: every path handed out is absolute.
        let root = root.hasPrefix("/") ? root : fm.currentDirectoryPath + "/" + root
        progress("inspecting \(options.python)")
        let interpreter = try PythonInterpreter.probe(options.python)
        let hostLoader = options.layout == .portable ? try PythonLayout.loader(of: interpreter) : nil
        let tags = WheelTags(interpreter: interpreter)

        // Check the lock against the wheelhouse before any copying: a bad lock stops the build at once.
        var lock: RequirementsLock?
        var choices: [WheelhouseMatcher.Choice] = []
        if let requirements = options.requirements {
            let parsed = try RequirementsLock.read(path: requirements, markers: interpreter.markers)
            progress("checking \(parsed.pins.count) locked packages")
            choices = try WheelhouseMatcher(tags: tags, interpreter: interpreter).choose(
                parsed, wheelhouse: options.wheelhouse)
            lock = parsed
        }
        var appWheels: [(String, String)] = []
        for wheel in options.wheels {
            let name = (wheel as NSString).lastPathComponent
            guard let parsed = WheelFilename(name) else {
                throw PythonBuildError(
                    "\(wheel) is not a wheel (name-version-python-abi-platform.whl); sdists are not built here — run `pip wheel --no-deps` on it."
                )
            }
            guard tags.rank(of: parsed) != nil else {
                throw PythonBuildError(
                    "\(wheel) is for \(parsed.tags.first ?? "?"), which Python \(interpreter.fullVersion) on \(interpreter.platform) cannot use; build it with this interpreter."
                )
            }
            guard let data = fm.contents(atPath: wheel) else {
                throw PythonBuildError("Cannot read the wheel \(wheel).")
            }
            appWheels.append((wheel, SHA256Digest.hex(of: data)))
        }
        if let source = options.source {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PythonBuildError("The source directory \(source) does not exist or is not a directory.")
            }
        }

        // The interpreter, its standard library and lib-dynload.
        let stdlibRelative = "python/lib/python\(interpreter.shortVersion)"
        let sitePackages = "\(stdlibRelative)/site-packages"
        progress("copying Python \(interpreter.fullVersion)")
        try fm.createDirectory(atPath: "\(root)/python/lib", withIntermediateDirectories: true)
        try PythonLayout.placeInterpreter(interpreter, loader: hostLoader, root: root)
        var stdlibCopier = TreeCopier()
        let keep = Set(options.keepStdlib)
        stdlibCopier.skipPaths = Set(Self.omittedStdlib.filter { !keep.contains($0) })
        stdlibCopier.skipPaths.insert("EXTERNALLY-MANAGED")  // the image is no distribution's (docs/python.md)
        let dynloadInside = interpreter.libDynload.hasPrefix(interpreter.stdlib + "/")
        if dynloadInside {
            stdlibCopier.skipPaths.insert(String(interpreter.libDynload.dropFirst(interpreter.stdlib.count + 1)))
        }
        stdlibCopier.skip = { relative in
            let name = (relative as NSString).lastPathComponent
            if relative.hasPrefix("config-") { return true }  // the static libpython and Makefile: build-only
            let nestedTest = relative.contains("/") && ["test", "tests", "idle_test"].contains(name)
            return nestedTest && !keep.contains("test")
        }
        try stdlibCopier.copy(from: interpreter.stdlib, to: "\(root)/\(stdlibRelative)")
        if !interpreter.libDynload.isEmpty {
            var dynloadCopier = TreeCopier()
            dynloadCopier.skip = { file in
                let module = String(file.prefix { $0 != "." })
                let tkinter = module == "_tkinter" && keep.contains("tkinter")
                let test = Self.isTestExtension(module) && keep.contains("test")
                let omitted = Self.omittedExtensions.contains(module) || Self.isTestExtension(module)
                return omitted && !keep.contains(module) && !tkinter && !test
            }
            try dynloadCopier.copy(from: interpreter.libDynload, to: "\(root)/\(stdlibRelative)/lib-dynload")
        }
        try fm.createDirectory(atPath: "\(root)/\(sitePackages)", withIntermediateDirectories: true)
        try PythonLayout.useOwnInstallScheme(stdlib: "\(root)/\(stdlibRelative)")

        // Wheels: the application's first, then the lock's, each group in name order.
        let installer = WheelInstaller(root: root, sitePackages: sitePackages)
        var installed: [(WheelInstaller.Installed, String)] = []
        let queue =
            appWheels.map { ($0.0, $0.1, "app") }
            + choices.sorted { $0.pin.normalizedName < $1.pin.normalizedName }.map { ($0.path, $0.sha256, "lock") }
        for (index, (path, sha256, origin)) in queue.enumerated() {
            progress("installing \((path as NSString).lastPathComponent) (\(index + 1)/\(queue.count))")
            installed.append((try installer.install(path, sha256: sha256), origin))
        }
        try checkRequirements(installed.map(\.0), interpreter: interpreter)

        if let source = options.source {
            progress("copying the application")
            var copier = TreeCopier()
            copier.skipDirectories.formUnion([".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache"])
            try copier.copy(from: source, to: "\(root)/app")
        }

        // Interactive and deprecated standard-library parts that no code of the application mentions.
        let codeDirectories = ["\(root)/\(sitePackages)"] + (options.source != nil ? ["\(root)/app"] : [])
        let unused = OptionalStdlib.unused(keeping: keep, codeDirectories: codeDirectories)
        if !unused.isEmpty {
            progress("leaving out \(unused.map(\.name).joined(separator: ", ")): not imported by the application")
            try OptionalStdlib.remove(
                unused, stdlib: "\(root)/\(stdlibRelative)", libDynload: "\(root)/\(stdlibRelative)/lib-dynload")
        }

        // Entry points: explicit ones, then console scripts the wheels declare.
        var entries = options.entryPoints
        var seen = Set(entries.map(\.name))
        for (dist, _) in installed {
            for (name, target) in dist.consoleScripts where !seen.contains(name) {
                entries.append(.function(name: name, target: target))
                seen.insert(name)
            }
        }
        for entry in entries { try Self.validate(entry) }
        guard !entries.isEmpty else {
            throw PythonBuildError(
                "No entry point: pass --entry-point NAME=module:function or --module NAME, or a wheel that declares console scripts."
            )
        }
        let defaultName = options.defaultEntry ?? entries[0].name
        guard let defaultEntry = entries.first(where: { $0.name == defaultName }) else {
            throw PythonBuildError(
                "The default entry point \(defaultName) is not one of: \(entries.map(\.name).joined(separator: ", ")).")
        }
        entries = [defaultEntry] + entries.filter { $0.name != defaultName }

        // The search path, resolved now: .pth path lines become _pth entries, import lines run in the bootstrap.
        let (pthPaths, pthImports) = try resolvePthFiles(root: root, sitePackages: sitePackages)
        var searchPath: [String] = []
        if options.source != nil { searchPath.append("../app") }
        searchPath += [
            "lib/python\(interpreter.shortVersion)", "lib/python\(interpreter.shortVersion)/lib-dynload",
            "lib/python\(interpreter.shortVersion)/site-packages",
        ]
        searchPath += pthPaths.map { WheelInstaller.relative("\($0)", to: "python") }
        searchPath.append("../.xar")
        let pthText =
            "# Generated by xarbuild: the interpreter's whole sys.path (see docs/python.md).\n"
            + searchPath.joined(separator: "\n") + "\nimport site\n"
        try write(pthText, to: "\(root)/python/python3._pth")
        try fm.createDirectory(atPath: "\(root)/.xar", withIntermediateDirectories: true)
        try write(
            PythonBootstrap.script(
                entries: entries, defaultEntry: defaultName, pthImports: pthImports,
                searchPath: searchPath.map { PythonLayout.normalized("python/\($0)") }),
            to: "\(root)/.xar/bootstrap.py")
        try write(PythonBootstrap.runtimeModule, to: "\(root)/.xar/xar_runtime.py")
        try write(PythonImportIndex.importerModule, to: "\(root)/.xar/_xar_importer.py")

        progress("bundling shared libraries")
        var bundler = SharedLibraryBundler(
            root: root, libraryDirectory: "python/lib", stripDebugInfo: options.stripDebugInfo)
        bundler.carriedLoader = hostLoader
        try bundler.bundle()

        let launch = PythonLaunch.make(
            layout: options.layout, loader: hostLoader.map { ($0 as NSString).lastPathComponent },
            entries: entries.map(\.name))
        try PythonLayout.checkInstallScheme(root: root, interpreter: launch.interpreterCommand(root: root))
        progress("compiling bytecode")
        try compile(root: root, stdlib: stdlibRelative)
        try placeBootstrapBytecode(root: root)
        progress("indexing modules")
        try PythonImportIndex.write(
            root: root, interpreter: "\(root)/python/python3",
            searchPath: searchPath.map { PythonLayout.normalized("python/\($0)") })
        var notes: [String] = []
        if options.startupList {
            progress("listing the files a start reads")
            if let stopped = try PythonStartupList.write(root: root, interpreter: launch.interpreterCommand(root: root))
            {
                notes.append(
                    "importing the entry point's module at build time failed (\(stopped)); the start-up list has "
                        + "the files read until then (--no-startup-list leaves it out)")
            }
        }

        let floor = try ImageFloor.measure(
            root: root, carriedLibc: hostLoader == nil ? nil : "\(PythonLayout.libraryDirectory)/libc.so.6")
        let revision = options.revision ?? gitRevision()
        let buildTime = options.sourceDateEpoch ?? Int(Date().timeIntervalSince1970)
        let metadata = PythonImageMetadata(
            builder: options.builder, buildTime: buildTime, revision: revision, interpreter: interpreter,
            entries: entries, packages: installed, lock: lock, bundledLibraries: bundler.bundled.keys.sorted(),
            layout: options.layout, floor: floor)
        let json = try metadata.json()
        try write(json, to: "\(root)/.xar/metadata.json")
        try Self.normalizeTimes(root: root, epoch: options.sourceDateEpoch ?? 0)

        return Result(
            launch: launch, entryPoints: entries, interpreter: interpreter,
            packages: installed.map { ($0.0.name, $0.0.version) }.sorted { $0.0.lowercased() < $1.0.lowercased() },
            bundledLibraries: bundler.bundled.keys.sorted(), layout: options.layout, floor: floor, buildTime: buildTime,
            metadataJSON: json, notes: notes, lockedWheels: choices.map(\.path))
    }
}
