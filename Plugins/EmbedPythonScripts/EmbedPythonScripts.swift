import Foundation
import PackagePlugin

/// Turns the `.py` files in a target's `Python/Scripts` directory into Swift string constants
/// (`EmbeddedPython.bootstrap` for `bootstrap.py`), so the Python that `xarbuild` writes into images or runs at
/// build time lives in real files a Python linter and the tests read, and `xarbuild` stays one binary.
@main
struct EmbedPythonScripts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let directory = module.directoryURL.appending(path: "Python/Scripts")
        let scripts = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "py" }.sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPython.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(scripts.count) Python scripts of \(target.name)",
                executable: try context.tool(named: "embed-python-scripts").url,
                arguments: [output.path] + scripts.map(\.path),
                inputFiles: scripts,
                outputFiles: [output])
        ]
    }
}
