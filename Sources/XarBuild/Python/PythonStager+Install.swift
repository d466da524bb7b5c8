import Foundation
import XarSystem

/// The steps of `stage(into:)` that check the inputs and copy the interpreter, the wheels and the source.
extension PythonStager {
    /// Reads the lock and matches it against the wheelhouse, and checks the application's wheels and source
    /// directory, before any copying: a bad input stops the build at once.
    func checkInputs(for interpreter: PythonInterpreter) throws -> Inputs {
        let tags = WheelTags(interpreter: interpreter)
        var inputs = Inputs()
        if let requirements = options.requirements {
            let parsed = try RequirementsLock.read(path: requirements, markers: interpreter.markers)
            progress("checking \(parsed.pins.count) locked packages")
            inputs.choices = try WheelhouseMatcher(tags: tags, interpreter: interpreter).choose(
                parsed, wheelhouse: options.wheelhouse)
            inputs.lock = parsed
        }
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
            guard let data = try? FileSystem.data(wheel) else {
                throw PythonBuildError("Cannot read the wheel \(wheel).")
            }
            inputs.appWheels.append((wheel, SHA256Digest.hex(of: data)))
        }
        try Self.refuseDuplicates(inputs)
        try checkSourceDirectory()
        return inputs
    }

    /// The `--source` directory, when given, exists and is a directory.
    func checkSourceDirectory() throws {
        guard let source = options.source else { return }
        guard FileSystem.isDirectory(source) else {
            throw PythonBuildError("The source directory \(source) does not exist or is not a directory.")
        }
    }

    /// A package is installed once: two versions of it (in the lock, or an application wheel that the lock also
    /// pins) or the same wheel given twice would install over each other. All of them are named in one error.
    static func refuseDuplicates(_ inputs: Inputs) throws {
        var sources: [String: [String]] = [:]
        var order: [String] = []
        func add(_ name: String, _ source: String) {
            if sources[name] == nil { order.append(name) }
            sources[name, default: []].append(source)
        }
        for (path, _) in inputs.appWheels {
            let wheel = WheelFilename((path as NSString).lastPathComponent)!
            add(wheel.normalizedName, "--wheel \(path)")
        }
        for choice in inputs.choices {
            let lock = inputs.lock.map { "\($0.path):\(choice.pin.line): " } ?? ""
            add(choice.pin.normalizedName, "\(lock)\(choice.pin.name)==\(choice.pin.version)")
        }
        let repeated = order.filter { sources[$0]!.count > 1 }
        guard !repeated.isEmpty else { return }
        throw PythonBuildError(
            "Each package is installed once, but "
                + repeated.map {
                    "\($0) is given \(sources[$0]!.count) times (\(sources[$0]!.joined(separator: ", ")))"
                }
                .joined(separator: "; ") + "; keep one of each.")
    }

    /// Copies the interpreter (placed for the layout: `loader` is the host's dynamic loader to carry, nil for the
    /// host layout), its standard library (less what is left out) and `lib-dynload`, and makes the staged
    /// `sysconfig` use CPython's own install scheme.
    func copyInterpreter(_ interpreter: PythonInterpreter, loader: String?, into root: String, layout: Layout) throws {
        progress("copying Python \(interpreter.fullVersion)")
        try FileSystem.createDirectories("\(root)/python/lib")
        try PythonLayout.placeInterpreter(interpreter, loader: loader, root: root)
        var stdlibCopier = TreeCopier()
        let keep = Set(options.keepStdlib)
        stdlibCopier.skipPaths = Set(Self.omittedStdlib.filter { !keep.contains($0) })
        stdlibCopier.skipPaths.insert("EXTERNALLY-MANAGED")  // the image is no distribution's (docs/python.md)
        if interpreter.libDynload.hasPrefix(interpreter.stdlib + "/") {
            stdlibCopier.skipPaths.insert(String(interpreter.libDynload.dropFirst(interpreter.stdlib.count + 1)))
        }
        stdlibCopier.skip = { relative in
            let name = (relative as NSString).lastPathComponent
            if relative.hasPrefix("config-") { return true }  // the static libpython and Makefile: build-only
            let nestedTest = relative.contains("/") && ["test", "tests", "idle_test"].contains(name)
            return nestedTest && !keep.contains("test")
        }
        try stdlibCopier.copy(from: interpreter.stdlib, to: "\(root)/\(layout.stdlib)")
        if !interpreter.libDynload.isEmpty {
            var dynloadCopier = TreeCopier()
            dynloadCopier.skip = { file in
                let module = String(file.prefix { $0 != "." })
                let tkinter = module == "_tkinter" && keep.contains("tkinter")
                let test = Self.isTestExtension(module) && keep.contains("test")
                let omitted = Self.omittedExtensions.contains(module) || Self.isTestExtension(module)
                return omitted && !keep.contains(module) && !tkinter && !test
            }
            try dynloadCopier.copy(from: interpreter.libDynload, to: "\(root)/\(layout.stdlib)/lib-dynload")
        }
        try FileSystem.createDirectories("\(root)/\(layout.sitePackages)")
        try PythonLayout.useOwnInstallScheme(stdlib: "\(root)/\(layout.stdlib)")
        // Replaces the distribution's (Debian's links to /etc/python3.X/sitecustomize.py, its apport hook): what
        // site does for the image's site-packages and a thin application's path in sys.executable's children.
        let sitecustomize = "\(root)/\(layout.stdlib)/sitecustomize.py"
        if FileSystem.exists(sitecustomize, followSymlinks: false) { try FileSystem.removeTree(sitecustomize) }
        try write(EmbeddedPython.sitecustomize, to: sitecustomize)
    }

    /// Installs the application's wheels first, then the lock's, each group in name order; returns each
    /// installed distribution with where it came from (`app` or `lock`).
    func installWheels(_ inputs: Inputs, into root: String, layout: Layout) throws -> [(
        WheelInstaller.Installed, String
    )] {
        let installer = WheelInstaller(root: root, sitePackages: layout.sitePackages)
        let queue =
            inputs.appWheels.map { ($0.0, $0.1, "app") }
            + inputs.choices.sorted { $0.pin.normalizedName < $1.pin.normalizedName }.map {
                ($0.path, $0.sha256, "lock")
            }
        var installed: [(WheelInstaller.Installed, String)] = []
        for (index, (path, sha256, origin)) in queue.enumerated() {
            progress("installing \((path as NSString).lastPathComponent) (\(index + 1)/\(queue.count))")
            installed.append((try installer.install(path, sha256: sha256), origin))
        }
        return installed
    }

    /// Copies the application's source directory to `/app`, without virtual environments and tool caches.
    func copySource(into root: String) throws {
        guard let source = options.source else { return }
        progress("copying the application")
        var copier = TreeCopier()
        copier.skipDirectories.formUnion([".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache"])
        try copier.copy(from: source, to: "\(root)/app")
    }

    /// Leaves out the interactive and deprecated standard-library parts that no code of the application mentions.
    func leaveOutUnusedStdlib(root: String, layout: Layout) throws {
        let codeDirectories = ["\(root)/\(layout.sitePackages)"] + (options.source != nil ? ["\(root)/app"] : [])
        let unused = OptionalStdlib.unused(keeping: Set(options.keepStdlib), codeDirectories: codeDirectories)
        guard !unused.isEmpty else { return }
        progress("leaving out \(unused.map(\.name).joined(separator: ", ")): not imported by the application")
        try OptionalStdlib.remove(
            unused, stdlib: "\(root)/\(layout.stdlib)", libDynload: "\(root)/\(layout.stdlib)/lib-dynload")
    }
}
