import Foundation
import XarSystem

/// The steps of `stage(into:)` that choose the entry points, write the bootstrap and prove the result works.
extension PythonStager {
    /// The entry points, default first: the explicit ones (`--entry-point`, `--module`; `--entry-point NAME` is
    /// the console script NAME of any installed wheel, or of a wheel the runtime of a thin build provides), then the application wheels' console scripts, then, with
    /// `--all-scripts`, every other wheel's. A dependency's console scripts are never entry points unasked.
    ///
    /// The default: `--default`; else the first explicit entry point; else the first application wheel's console
    /// script named after its project, or its first one; else the only console script there is.
    func entryPoints(from installed: [(WheelInstaller.Installed, String)]) throws -> [PythonBuildOptions.EntryPoint] {
        var scripts: [String: String] = [:]
        for (dist, _) in installed {
            for (name, target) in dist.consoleScripts where scripts[name] == nil { scripts[name] = target }
        }
        for (name, target) in options.runtime?.consoleScripts ?? [:] where scripts[name] == nil {
            scripts[name] = target
        }
        var entries: [PythonBuildOptions.EntryPoint] = []
        for entry in options.entryPoints {
            guard case .function(let name, "") = entry else {
                entries.append(entry)
                continue
            }
            guard let target = scripts[name] else {
                let known = scripts.keys.sorted()
                // A wheel's plain script (`.data/scripts`, as awscli 1.x installs `aws`) is a file, not a function.
                let plain = installed.first { $0.0.files.contains("python/bin/\(name)") }.map {
                    " \($0.0.name) \($0.0.version) installs \(name) as a plain script (python/bin/\(name)), not a"
                        + " console script: pass --entry-point \(name)=module:function, the function that script calls."
                }
                throw PythonBuildError(
                    "--entry-point \(name): no installed wheel\(options.runtime == nil ? "" : " nor the runtime's")"
                        + " declares a console script \(name)"
                        + (known.isEmpty ? "." : " (they declare: \(known.joined(separator: ", "))).")
                        + (plain ?? " Pass NAME=module:function."))
            }
            entries.append(.function(name: name, target: target))
        }
        var seen = Set(entries.map(\.name))
        var fallback: String?
        for (dist, origin) in installed where origin == "app" || options.allScripts {
            if origin == "app", fallback == nil, let first = dist.consoleScripts.first {
                fallback =
                    dist.consoleScripts.first { WheelFilename.normalize($0.0) == dist.normalizedName }?.0 ?? first.0
            }
            for (name, target) in dist.consoleScripts where !seen.contains(name) {
                entries.append(.function(name: name, target: target))
                seen.insert(name)
            }
        }
        for entry in entries { try Self.validate(entry) }
        guard !entries.isEmpty else {
            throw PythonBuildError(
                "No entry point: pass --entry-point NAME=module:function, --entry-point NAME (a wheel's console "
                    + "script), --module NAME, an application --wheel that declares console scripts, or --all-scripts."
            )
        }
        let explicit = options.entryPoints.first?.name
        guard
            let defaultName = options.defaultEntry ?? explicit ?? fallback
                ?? (entries.count == 1 ? entries[0].name : nil)
        else {
            throw PythonBuildError(
                "No default entry point among \(entries.map(\.name).joined(separator: ", ")): pass --default NAME.")
        }
        guard let defaultEntry = entries.first(where: { $0.name == defaultName }) else {
            throw PythonBuildError(
                "The default entry point \(defaultName) is not one of: \(entries.map(\.name).joined(separator: ", ")).")
        }
        return [defaultEntry] + entries.filter { $0.name != defaultName }
    }

    /// Writes the interpreter's `._pth` (the search path, resolved now: `.pth` path lines become entries, import
    /// lines run in the bootstrap), the bootstrap and the runtime modules; returns the search path.
    func writeBootstrap(
        root: String, layout: Layout, interpreter: PythonInterpreter, entries: [PythonBuildOptions.EntryPoint]
    ) throws -> [String] {
        let (pthPaths, pthImports) = try Self.resolvePthFiles(root: root, sitePackages: layout.sitePackages)
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
        try FileSystem.createDirectories("\(root)/.xar")
        try self.write(
            PythonBootstrap.script(
                entries: entries, defaultEntry: entries.first?.name ?? "", pthImports: pthImports,
                searchPath: searchPath.map { PythonLayout.normalized("python/\($0)") }),
            to: "\(root)/.xar/bootstrap.py")
        try write(PythonBootstrap.runtimeModule, to: "\(root)/.xar/xar_runtime.py")
        try write(PythonImportIndex.importerModule, to: "\(root)/.xar/_xar_importer.py")
        return searchPath
    }

    /// Proves, with the staged interpreter (`interpreter`: the command that starts it as the launch does), that
    /// every ELF file the build changed still loads and every entry point imports. Failures stop the build, or
    /// with `--no-check` become notes (returned).
    func proveItWorks(root: String, interpreter: [String], changedELFFiles: [String]) throws -> [String] {
        progress("checking that the libraries load")
        let libraries = try BuildChecks.loadLibraries(root: root, interpreter: interpreter, files: changedELFFiles)
        if options.check, !libraries.isEmpty {
            throw PythonBuildError(problems: libraries + ["(--no-check builds the image anyway.)"])
        }
        progress("checking that the entry points import")
        let entries = try BuildChecks.importEntryPoints(root: root, interpreter: interpreter)
        if options.check, !entries.isEmpty {
            throw PythonBuildError(problems: entries + ["(--no-check builds the image anyway.)"])
        }
        return (libraries + entries).map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
    }
}
