import Foundation
import XarFormat
import XarSystem

/// The runtime a thin application is built against (`xarbuild python --runtime RT.xar`, docs/runtimes.md): what
/// the runtime image provides, read back from its tree (the command extracts the image with the SquashFS reader
/// into a scratch directory; nothing is mounted at build time).
///
/// The thin build runs the runtime's own interpreter from that tree to compile bytecode and check the entry
/// points, takes its wheel tags from it, and leaves out every package the runtime's metadata lists.
public struct PythonRuntimeBase: Sendable {
    /// A package the runtime provides: its name as installed and its version.
    public struct Package: Sendable, Equatable {
        public var name: String
        public var version: String
    }

    /// The runtime image's SHA-256 (`XAR_IMAGE_SHA256`, checked against its bytes): its identity.
    public var digest: String
    /// The runtime file's name (no directory): the launcher looks for it by this name first.
    public var fileName: String
    /// The runtime's `.xar`, as given on the command line (for `--depfile` and messages).
    public var path: String
    /// The extracted tree.
    public var root: String
    /// The runtime's `XAREXEC_TARGET`: its dynamic loader, relative to its root.
    public var target: String
    /// The runtime's `XAR_KERNEL_FLOOR`, which a thin image inherits.
    public var kernelFloor: String?
    /// The packages the runtime provides, by normalized name (PEP 503).
    public var packages: [String: Package]
    /// The runtime's part of a thin application's `sys.path`, relative to the runtime's root: its interpreter's
    /// search path (`python/python3._pth`) without the runtime's own `/.xar`.
    public var searchPath: [String]
    /// The console scripts of the runtime's wheels (name → `module:function`, from their `entry_points.txt`), so
    /// that `--entry-point NAME` of a thin build can name one, as a standalone build can name any installed wheel's.
    public var consoleScripts: [String: String] = [:]
    /// The runtime's `metadata.json` values a thin image records: interpreter and lock.
    public var interpreterVersion: String, lockFile: String?, lockDigest: String?

    /// The header's `DEPENDENCIES` word for this runtime: `FILE@sha256:HEX` (docs/header.md).
    public var dependency: String { "\(fileName)@sha256:\(digest)" }

    /// Reads what the runtime at `root` (extracted from `path`, whose image's real SHA-256 is `digest`) provides.
    public static func read(root: String, path: String, digest: String, target: String, kernelFloor: String?) throws
        -> PythonRuntimeBase
    {
        let fileName = (path as NSString).lastPathComponent
        guard !fileName.isEmpty,
            fileName.unicodeScalars.allSatisfy({
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._+-".unicodeScalars.contains($0)
            })
        else {
            throw PythonBuildError(
                "The runtime's file name \(fileName) must be ASCII letters, digits, `.`, `_`, `+` or `-`: the header "
                    + "names it; rename the file.")
        }
        let metadataPath = "\(root)/.xar/metadata.json"
        guard let data = try? FileSystem.data(metadataPath),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw PythonBuildError(
                "\(path) has no readable /.xar/metadata.json, so it is not a runtime made by xarbuild.")
        }
        guard object["kind"] as? String == "runtime" else {
            throw PythonBuildError(
                "\(path) is not a runtime (its metadata says kind \(object["kind"] as? String ?? "application")); "
                    + "build one with xarbuild runtime.")
        }
        var packages: [String: Package] = [:]
        for entry in object["packages"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String, let version = entry["version"] as? String else { continue }
            packages[WheelFilename.normalize(name)] = Package(name: name, version: version)
        }
        let pth = "\(root)/\(PythonLayout.executablePath)._pth"
        guard let text = FileSystem.utf8Text(pth) else {
            throw PythonBuildError("\(path) has no \(PythonLayout.executablePath)._pth, so it is not a runtime.")
        }
        var searchPath: [String] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("import ") { continue }
            let relative = PythonLayout.normalized("python/\(line)")
            if relative == ".xar" || relative.hasPrefix("..") { continue }
            searchPath.append(relative)
        }
        let interpreter = object["interpreter"] as? [String: Any]
        let lock = object["lock"] as? [String: Any]
        return PythonRuntimeBase(
            digest: digest, fileName: fileName, path: path, root: root, target: target, kernelFloor: kernelFloor,
            packages: packages, searchPath: searchPath,
            consoleScripts: consoleScripts(root: root, searchPath: searchPath),
            interpreterVersion: interpreter?["version"] as? String ?? "?", lockFile: lock?["file"] as? String,
            lockDigest: lock?["sha256"] as? String)
    }

    /// The console scripts declared by the `*.dist-info/entry_points.txt` files in the runtime's search path, the
    /// first declaration of a name winning (directories in path order, distributions by name).
    static func consoleScripts(root: String, searchPath: [String]) -> [String: String] {
        var scripts: [String: String] = [:]
        for directory in searchPath {
            let entries = (try? FileSystem.directoryEntries("\(root)/\(directory)")) ?? []
            for entry in entries.sorted() where entry.hasSuffix(".dist-info") {
                let file = "\(root)/\(directory)/\(entry)/entry_points.txt"
                guard let text = FileSystem.utf8Text(file) else { continue }
                for (name, target) in WheelInstaller.consoleScripts(in: text) where scripts[name] == nil {
                    scripts[name] = target
                }
            }
        }
        return scripts
    }

    /// The runtime's interpreter in the extracted tree, as build-time tools run it (`python/python3`: the
    /// trampoline to the runtime's own loader).
    public var interpreter: String { "\(root)/\(PythonLayout.executablePath)" }

    /// What `metadata.json` records about the runtime in a thin image: digest, file name, interpreter, lock.
    var metadata: [String: Any] {
        [
            "digest": digest, "file": fileName, "interpreter": interpreterVersion,
            "lock": lockFile.map { ["file": $0, "sha256": lockDigest ?? ""] as [String: Any] } ?? NSNull(),
        ]
    }
}
