import Foundation
import XarSystem

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

    /// Stages everything under `root` (an empty directory), in the order the steps below are named.
    public func stage(into root: String) throws -> Result {
        // Tools run with the staging directory as their working directory: every path handed out is absolute.
        let root = FileSystem.absolute(root)
        if let base = options.runtime { return try stageThin(into: root, base: base) }
        if options.isRuntime, options.layout != .portable {
            throw PythonBuildError("A runtime carries its C library (--layout portable): thin images run on any host.")
        }
        progress("inspecting \(options.python)")
        let interpreter = try PythonInterpreter.probe(options.python)
        let hostLoader = options.layout == .portable ? try PythonLayout.loader(of: interpreter) : nil
        let inputs = try checkInputs(for: interpreter)
        let layout = Layout(interpreter: interpreter)
        try copyInterpreter(interpreter, loader: hostLoader, into: root, layout: layout)
        let installed = try installWheels(inputs, into: root, layout: layout)
        try checkRequirements(installed.map(\.0), interpreter: interpreter)
        try copySource(into: root)
        // A runtime serves applications not written yet: it keeps the whole standard library (curses, readline,
        // sqlite3, …) that a standalone image leaves out when no code of its own mentions it.
        if !options.isRuntime { try leaveOutUnusedStdlib(root: root, layout: layout) }
        let entries = options.isRuntime ? [] : try entryPoints(from: installed)
        let searchPath = try writeBootstrap(root: root, layout: layout, interpreter: interpreter, entries: entries)

        progress("bundling shared libraries")
        var bundler = SharedLibraryBundler(
            root: root, libraryDirectory: "python/lib", stripDebugInfo: options.stripDebugInfo)
        bundler.carriedLoader = hostLoader
        bundler.forRuntime = options.isRuntime
        bundler.fromWheels = Set(installed.flatMap(\.0.files))
        try bundler.bundle()

        let loaderName = hostLoader.map { ($0 as NSString).lastPathComponent }
        let launch =
            options.isRuntime
            ? PythonLaunch.runtime(loader: loaderName ?? "", supportsArgv0: interpreter.loaderSupportsArgv0)
            : PythonLaunch.make(layout: options.layout, loader: loaderName, entries: entries.map(\.name))
        let command = launch.interpreterCommand(root: root)
        try PythonLayout.checkInstallScheme(root: root, interpreter: command)
        progress("compiling bytecode")
        try compile(
            root: root, directories: [layout.stdlib, ".xar"] + (options.source != nil ? ["app"] : []),
            python: "\(root)/\(PythonLayout.executablePath)")
        try placeBootstrapBytecode(root: root)
        progress("indexing modules")
        try PythonImportIndex.write(
            root: root, interpreter: "\(root)/python/python3",
            searchPath: searchPath.map { PythonLayout.normalized("python/\($0)") })
        var notes = try proveItWorks(root: root, interpreter: command, changedELFFiles: bundler.modified)
        if options.startupList, !options.isRuntime {
            progress("listing the files a start reads")
            if let stopped = try PythonStartupList.write(root: root, interpreter: command) {
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
            entries: entries, packages: installed, lock: inputs.lock, bundledLibraries: bundler.bundled.keys.sorted(),
            layout: options.layout, floor: floor, kind: options.isRuntime ? "runtime" : "application")
        let json = try metadata.json()
        try write(json, to: "\(root)/.xar/metadata.json")
        try Self.normalizeTimes(root: root, epoch: options.sourceDateEpoch ?? 0)

        return Result(
            launch: launch, entryPoints: entries, interpreter: interpreter,
            packages: installed.map { ($0.0.name, $0.0.version) }.sorted { $0.0.lowercased() < $1.0.lowercased() },
            bundledLibraries: bundler.bundled.keys.sorted(), layout: options.layout, floor: floor, buildTime: buildTime,
            metadataJSON: json, notes: notes, lockedWheels: inputs.choices.map(\.path))
    }

    /// Where the interpreter's parts go in the image.
    struct Layout {
        /// `python/lib/pythonX.Y`.
        var stdlib: String
        /// `python/lib/pythonX.Y/site-packages`.
        var sitePackages: String

        init(interpreter: PythonInterpreter) {
            stdlib = "python/lib/python\(interpreter.shortVersion)"
            sitePackages = "\(stdlib)/site-packages"
        }
    }

    /// What the build installs, checked before anything is copied.
    struct Inputs {
        var lock: RequirementsLock?
        /// The lock's wheels, chosen from the wheelhouse.
        var choices: [WheelhouseMatcher.Choice] = []
        /// The application's wheels: (path, SHA-256).
        var appWheels: [(String, String)] = []
    }
}
