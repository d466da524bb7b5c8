import Foundation
import XarSystem

/// Installs one wheel into the staged tree the way the wheel spec (PEP 427 / the "binary distribution format"
/// specification) says an installer must.
///
/// - Every member must be listed in `RECORD` with its hash, and is checked against it before it is written.
///   `RECORD`, `METADATA` and `entry_points.txt` may have CRLF line endings (many wheels on PyPI do).
/// - Root members go to site-packages (purelib and platlib are the same directory in our layout).
/// - `{name}-{version}.data/{scheme}/…` members go to the scheme's directory: `purelib`/`platlib` →
///   site-packages, `scripts` → `python/bin`, `headers` → `python/include/{name}`, `data` → `python`.
/// - `INSTALLER` says `xarbuild`; `RECORD` is rewritten to list what was installed, relative to site-packages.
struct WheelInstaller {
    /// What an installed wheel contributes to the image.
    struct Installed: Sendable {
        var name: String
        var normalizedName: String
        var version: String
        /// The wheel's file name.
        var wheel: String
        /// SHA-256 of the wheel file, lowercase hex.
        var sha256: String
        /// `console_scripts` (and `gui_scripts`) from `entry_points.txt`: name → `module:attr`, in file order.
        var consoleScripts: [(String, String)]
        /// `Requires-Dist` lines from `METADATA`: (normalized name, marker or nil).
        var requires: [(String, String?)]
        /// The files written, relative to the staging root.
        var files: [String] = []
    }

    /// The staging root (the image's `/`).
    let root: String
    /// The site-packages directory relative to `root`, e.g. `python/lib/python3.11/site-packages`.
    let sitePackages: String

    /// Installs the wheel at `path` whose bytes hash to `sha256`.
    func install(_ path: String, sha256: String) throws -> Installed {
        let fileName = (path as NSString).lastPathComponent
        guard let parsed = WheelFilename(fileName) else {
            throw PythonBuildError("\(path) is not named like a wheel (name-version-python-abi-platform.whl).")
        }
        let zip = try ZipArchive(path: path)
        let infoDirs = Set(
            zip.entries.compactMap { entry -> String? in
                let first = entry.name.split(separator: "/").first.map(String.init) ?? ""
                return first.hasSuffix(".dist-info") && entry.name.hasSuffix("/WHEEL") ? first : nil
            })
        guard infoDirs.count == 1, let infoDir = infoDirs.first else {
            throw PythonBuildError(
                "\(path) has \(infoDirs.count) .dist-info directories with a WHEEL file; a wheel has exactly one.")
        }
        let dataDir = String(infoDir.dropLast(".dist-info".count)) + ".data"
        var members: [String: ZipArchive.Entry] = [:]
        for entry in zip.entries where !entry.name.hasSuffix("/") { members[entry.name] = entry }

        let wheelMeta = try text(zip, members, "\(infoDir)/WHEEL")
        let wheelVersion = field(wheelMeta, "Wheel-Version") ?? ""
        guard wheelVersion.hasPrefix("1.") else {
            throw PythonBuildError(
                "\(path) is wheel format \(wheelVersion.isEmpty ? "(unknown)" : wheelVersion); only 1.x is supported.")
        }
        let metadata = try text(zip, members, "\(infoDir)/METADATA")
        let record = try text(zip, members, "\(infoDir)/RECORD")
        var expected: [String: String] = [:]
        for line in record.split(whereSeparator: \.isNewline) {
            let fields = Self.csvFields(String(line))
            if fields.count >= 2, fields[1].hasPrefix("sha256=") {
                expected[fields[0]] = String(fields[1].dropFirst(7))
            }
        }

        var installed: [(String, Data)] = []  // (path relative to site-packages, bytes)
        var written: [String] = []  // relative to the root
        for name in members.keys.sorted() {
            let entry = members[name]!
            guard !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
                throw PythonBuildError("\(path) has a member outside the install directory: \(name).")
            }
            if name == "\(infoDir)/RECORD" || name.hasPrefix("\(infoDir)/RECORD.") || name == "\(infoDir)/INSTALLER" {
                continue
            }
            guard let want = expected[name] else {
                throw PythonBuildError(
                    "\(path): the member \(name) has no hash in its RECORD; the wheel is corrupt or was altered.")
            }
            let member = try zip.contents(of: entry)
            if SHA256Digest.recordForm(of: member) != want {
                throw PythonBuildError(
                    "\(path): the member \(name) does not match the hash in its RECORD; the wheel is corrupt or was altered."
                )
            }
            let destination = try destinationPath(
                for: name, dataDir: dataDir, project: parsed.distribution, wheel: path)
            let data = destination.hasPrefix("python/bin/") ? Self.pointingShebang(of: member) : member
            let full = "\(root)/\(destination)"
            try FileSystem.createDirectories((full as NSString).deletingLastPathComponent)
            if FileSystem.exists(full) { try FileSystem.removeTree(full) }
            let executable = (entry.unixMode ?? 0) & 0o111 != 0 || destination.hasPrefix("python/bin/")
            do { try FileSystem.write(data, to: full, permissions: executable ? 0o755 : 0o644) } catch {
                throw PythonBuildError("Cannot write \(full) while installing \(fileName): \(error.reason).")
            }
            installed.append((Self.relative(destination, to: sitePackages), data))
            written.append(destination)
        }

        // INSTALLER and the rewritten RECORD (PEP 376 / the "recording installed projects" spec).
        let installer = Data("xarbuild\n".utf8)
        let infoFull = "\(root)/\(sitePackages)/\(infoDir)"
        try FileSystem.createDirectories(infoFull)
        try FileSystem.write(installer, to: "\(infoFull)/INSTALLER", permissions: 0o644)
        installed.append(("\(infoDir)/INSTALLER", installer))
        var lines = installed.map { "\(Self.csvQuote($0.0)),sha256=\(SHA256Digest.recordForm(of: $0.1)),\($0.1.count)" }
        lines.append("\(infoDir)/RECORD,,")
        lines.sort()
        try FileSystem.write(lines.joined(separator: "\n") + "\n", to: "\(infoFull)/RECORD", permissions: 0o644)

        var scripts: [(String, String)] = []
        if let entryPoints = members["\(infoDir)/entry_points.txt"] {
            let text = String(decoding: try zip.contents(of: entryPoints), as: UTF8.self)
            scripts = Self.consoleScripts(in: text)
        }
        let requires = Self.headerLines(metadata).compactMap { line -> (String, String?)? in
            guard line.hasPrefix("Requires-Dist:") else { return nil }
            let spec = line.dropFirst("Requires-Dist:".count).trimmingCharacters(in: .whitespaces)
            let parts = spec.split(separator: ";", maxSplits: 1)
            let name = parts[0].prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) }
            return (
                WheelFilename.normalize(String(name)),
                parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
            )
        }
        let name = field(metadata, "Name") ?? parsed.distribution
        return Installed(
            name: name, normalizedName: WheelFilename.normalize(name),
            version: field(metadata, "Version") ?? parsed.version,
            wheel: fileName, sha256: sha256, consoleScripts: scripts, requires: requires, files: written)
    }

    /// A script whose first line is `#!python` or `#!pythonw` (the wheel spec: "rewrite to point to the correct
    /// interpreter"), with that line made a `/bin/sh` line that runs `python/python3` beside the script's
    /// `python/bin` wherever the image is mounted, or else (a thin application's `python/bin`) its runtime's, named
    /// by `XAR_PYTHON_APP` (docs/runtimes.md, "Children"); the line's flags are kept. The second line is both shell
    /// and a Python string, as pip writes for long interpreter paths; like `python/python3`, it needs no program
    /// from `PATH` unless the script is reached through a symlink. Any other file is returned as it is.
    static func pointingShebang(of data: Data) -> Data {
        let bytes = [UInt8](data)
        guard bytes.starts(with: Array("#!python".utf8)) else { return data }
        let end = bytes.firstIndex(of: 0x0a) ?? bytes.endIndex
        var rest = String(decoding: bytes[8..<end], as: UTF8.self)
        if rest.hasSuffix("\r") { rest.removeLast() }
        if rest.hasPrefix("w") { rest.removeFirst() }
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return data }
        let flags = rest.trimmingCharacters(in: .whitespaces)
        let header =
            #"#!/bin/sh"# + "\n" + #"'''true'; p=$0; case $p in */*) ;; *) p=./$p ;; esac; "#
            + #"[ -L "$p" ] && p=$(readlink -f -- "$p"); p=${p%/*}/../python3; "#
            + #"[ -x "$p" ] || p=${XAR_PYTHON_APP%%:*}/python/python3; "#
            + #"exec "$p" "# + (flags.isEmpty ? "" : flags + " ") + #""$0" "$@""# + "\n" + #"' '''"#
        return Data(header.utf8) + Data(bytes[end...])
    }

    /// Where a wheel member goes, relative to the staging root.
    private func destinationPath(for name: String, dataDir: String, project: String, wheel: String) throws -> String {
        guard name.hasPrefix(dataDir + "/") else { return "\(sitePackages)/\(name)" }
        let rest = name.dropFirst(dataDir.count + 1)
        let scheme = rest.prefix { $0 != "/" }
        let tail = rest.dropFirst(scheme.count + 1)
        switch scheme {
        case "purelib", "platlib": return "\(sitePackages)/\(tail)"
        case "scripts": return "python/bin/\(tail)"
        case "headers": return "python/include/\(project)/\(tail)"
        case "data": return "python/\(tail)"
        default:
            throw PythonBuildError("\(wheel) installs into the unknown scheme `\(scheme)` (member \(name)).")
        }
    }

    private func text(_ zip: ZipArchive, _ members: [String: ZipArchive.Entry], _ name: String) throws -> String {
        guard let entry = members[name] else {
            throw PythonBuildError("\(zip.path) has no \(name); it is not a valid wheel.")
        }
        return String(decoding: try zip.contents(of: entry), as: UTF8.self)
    }

    /// The header lines of an email-style file (`METADATA`, `WHEEL`): up to the first empty line, CR or LF.
    static func headerLines(_ text: String) -> [Substring] {
        Array(text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).prefix { !$0.isEmpty })
    }

    private func field(_ text: String, _ key: String) -> String? {
        for line in Self.headerLines(text) {
            if line.hasPrefix("\(key):") { return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// `[console_scripts]` and `[gui_scripts]` entries of an `entry_points.txt` (an INI file).
    static func consoleScripts(in text: String) -> [(String, String)] {
        var section = ""
        var out: [(String, String)] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") { section = line.trimmingCharacters(in: CharacterSet(charactersIn: "[]")); continue }
            guard section == "console_scripts" || section == "gui_scripts", let eq = line.firstIndex(of: "=") else {
                continue
            }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            var target = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let bracket = target.firstIndex(of: "[") {
                target = target[..<bracket].trimmingCharacters(in: .whitespaces)
            }
            out.append((name, target))
        }
        return out
    }

    /// `path` (relative to the root) as seen from `base` (also relative to the root).
    static func relative(_ path: String, to base: String) -> String {
        let p = path.split(separator: "/"), b = base.split(separator: "/")
        var common = 0
        while common < min(p.count, b.count), p[common] == b[common] { common += 1 }
        return (Array(repeating: "..", count: b.count - common) + p[common...].map(String.init)).joined(separator: "/")
    }

    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(current); current = ""
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }

    static func csvQuote(_ field: String) -> String {
        field.contains(",") || field.contains("\"")
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
