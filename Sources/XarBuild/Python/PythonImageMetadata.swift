import Foundation

/// The provenance an image records in `/.xar/metadata.json`: what `xarctl inspect` shows and what the
/// application reads at run time through `xar_runtime.metadata()`.
///
/// Keys are sorted and no host path is recorded, so the file is the same for the same inputs on any machine.
struct PythonImageMetadata {
    var builder: String
    var buildTime: Int
    var revision: String?
    var interpreter: PythonInterpreter
    var entries: [PythonBuildOptions.EntryPoint]
    var packages: [(WheelInstaller.Installed, String)]
    var lock: RequirementsLock?
    var bundledLibraries: [String]
    var layout: PythonLayout = .portable
    var floor = ImageFloor()
    /// `application`, or `runtime` for `xarbuild runtime`'s images (a thin build reads it back).
    var kind = "application"
    /// A thin image's runtime (`PythonRuntimeBase.metadata`); nil for a standalone image.
    var runtime: [String: Any]?

    /// The JSON text, keys sorted, two-space indented, ending with a newline.
    func json() throws -> String {
        var entryTable: [String: Any] = [:]
        for entry in entries {
            switch entry {
            case .function(let name, let target): entryTable[name] = ["function": target]
            case .module(let name, let module): entryTable[name] = ["module": module]
            }
        }
        let packageList: [[String: Any]] = packages.map { dist, origin in
            ["name": dist.name, "version": dist.version, "wheel": dist.wheel, "sha256": dist.sha256, "from": origin]
        }.sorted { ($0["name"] as! String).lowercased() < ($1["name"] as! String).lowercased() }
        let object: [String: Any] = [
            "format": 1,
            "kind": kind,
            "runtime": runtime ?? NSNull(),
            "builder": builder,
            "build_time": buildTime,
            "revision": revision ?? NSNull(),
            "interpreter": [
                "implementation": interpreter.implementation, "version": interpreter.fullVersion,
                "platform": interpreter.platform, "abiflags": interpreter.abiFlags,
            ],
            "entry_points": entryTable,
            "default_entry_point": entries.first?.name ?? NSNull(),
            "packages": packageList,
            "lock": lock.map {
                ["file": ($0.path as NSString).lastPathComponent, "sha256": $0.digest] as [String: Any]
            } ?? NSNull(),
            "bundled_libraries": bundledLibraries,
            // Which hosts the image runs on (docs/python.md): with a carried C library only the kernel matters.
            "layout": layout.rawValue,
            "host_floor": [
                "glibc": floor.headerGlibcFloor ?? NSNull(),
                "kernel": floor.kernel ?? NSNull(),
                "glibc_needed": floor.glibc ?? NSNull(),
                "glibc_carried": floor.carriedGlibc ?? NSNull(),
            ] as [String: Any],
        ]
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
