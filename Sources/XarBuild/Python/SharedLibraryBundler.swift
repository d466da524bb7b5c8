import Foundation
import XarFormat
import XarSystem

/// Copies into the image the shared libraries the interpreter, `lib-dynload` and the wheels' extension modules
/// need, and points every ELF file at them with an `$ORIGIN`-relative `RUNPATH`, so nothing needs
/// `LD_LIBRARY_PATH` (which would leak into every process the application starts).
///
/// `ldd` gives each file's whole dependency closure as the host resolves it; libraries already inside the
/// staged tree (a wheel's own `.libs` directory) and the base set every glibc system has are left alone.
/// `RUNPATH` is not inherited by dependencies, so each bundled library gets `$ORIGIN` too.
///
/// For the portable layout (`carriedLoader` set) the glibc family is bundled as well, with the dynamic loader and
/// the NSS modules, and left byte for byte as the build host has them (no strip, no `RUNPATH`): the launcher
/// starts the interpreter through that loader with `--library-path`.
///
/// Files a wheel installed are left as they are: never stripped (`strip` breaks libraries that auditwheel's
/// patchelf rewrote, such as numpy's OpenBLAS), and their search path is rewritten only when they need a library
/// bundled from the host. Every file that is changed is listed in `modified`, for `ELFLoadCheck` to prove it still
/// loads.
struct SharedLibraryBundler {
    /// Sonames never bundled: the glibc family and the GCC runtime every glibc system has (the base of the
    /// manylinux policies), and the dynamic loader.
    static let baseLibraries: Set<String> = [
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
        "libresolv.so.2", "libnsl.so.1", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1",
        "libgcc_s.so.1", "linux-vdso.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
    ]

    /// The staging root.
    let root: String
    /// Where bundled libraries go, relative to the root (`python/lib`).
    let libraryDirectory: String
    /// Run `strip --strip-debug` over every ELF file before rewriting search paths.
    var stripDebugInfo = true
    /// Files (relative to the root) installed from wheels: never stripped, their `RUNPATH` rewritten only when
    /// they need a bundled library.
    var fromWheels: Set<String> = []

    /// Files (relative to the root) this bundler stripped or rewrote, sorted.
    private(set) var modified: [String] = []

    /// The build host's dynamic loader (the interpreter's `PT_INTERP`), to carry with the C library; nil for the
    /// host layout.
    var carriedLoader: String?

    /// A runtime's: its thin applications bring no library from the host, so besides the C library it carries
    /// `libmvec.so.1` and the C++ runtime (`libstdc++.so.6`, `libgcc_s.so.1`: the base of the manylinux policies
    /// beyond glibc, which wheels link without bundling) even when no file of its own needs them.
    var forRuntime = false

    /// What was bundled: soname → the host file it came from.
    private(set) var bundled: [String: String] = [:]

    /// The glibc family: what the portable layout carries unchanged.
    static func isCLibrary(_ soname: String) -> Bool {
        (baseLibraries.contains(soname) && soname != "libgcc_s.so.1") || soname.hasPrefix("ld-linux")
            || soname.hasPrefix("libnss_")
    }

    /// Bundles the dependencies of every ELF file under the root and rewrites their `RUNPATH`s.
    mutating func bundle() throws {
        let patchelf = try ToolRunner.which("patchelf")
        let elfFiles = try Self.elfFiles(under: root)
        guard !elfFiles.isEmpty else { return }
        // A wheel's `.libs` libraries may need each other with no search path of their own (pillow's libbrotlidec
        // needs libbrotlicommon): the extension module that loads them first points at the directory.
        var inTree: [String: String] = [:]  // file name → its directory, relative to the root
        for file in elfFiles where inTree[(file as NSString).lastPathComponent] == nil {
            inTree[(file as NSString).lastPathComponent] = (file as NSString).deletingLastPathComponent
        }
        // The closure of every file, as the host's loader resolves it.
        var closure: [String: [(String, String)]] = [:]
        for batch in stride(from: 0, to: elfFiles.count, by: 64).map({
            Array(elfFiles[$0..<min($0 + 64, elfFiles.count)])
        }) {
            let output = try ToolRunner.run(["ldd"] + batch.map { "\(root)/\($0)" })
            var current = batch.count == 1 ? batch[0] : ""
            for line in output.stdout.split(whereSeparator: \.isNewline) {
                if !line.hasPrefix("\t") && line.hasSuffix(":") {
                    current = String(line.dropLast().dropFirst(root.count + 1))
                    continue
                }
                let text = line.trimmingCharacters(in: .whitespaces)
                guard let arrow = text.range(of: " => ") else { continue }
                let soname = String(text[..<arrow.lowerBound])
                let target = text[arrow.upperBound...].split(separator: " ").first.map(String.init) ?? ""
                if soname == "linux-vdso.so.1" || soname.hasPrefix("ld-linux") { continue }
                if carriedLoader == nil, Self.baseLibraries.contains(soname) { continue }
                if target == "not" && inTree[soname] == nil {
                    throw PythonBuildError(
                        "\(root)/\(current) needs \(soname), which is not installed on this machine; install it or "
                            + "use a wheel that bundles it.")
                }
                if target == "not" { continue }
                closure[current, default: []].append((soname, target))
            }
        }
        let resolvedRoot = Self.realPath(root)
        for file in elfFiles.sorted() {
            for (soname, hostPath) in closure[file] ?? [] {
                let real = Self.realPath(hostPath)
                if real.hasPrefix(resolvedRoot + "/") { continue }
                if bundled[soname] == nil {
                    let destination = "\(root)/\(libraryDirectory)/\(soname)"
                    if !FileSystem.exists(destination) {
                        try FileSystem.createDirectories("\(root)/\(libraryDirectory)")
                        try FileSystem.copyFile(real, to: destination, permissions: 0o755)
                    }
                    bundled[soname] = real
                }
            }
        }
        if let carriedLoader { try carryLoader(carriedLoader) }
        let all = (elfFiles + bundled.keys.filter { !Self.isCLibrary($0) }.map { "\(libraryDirectory)/\($0)" })
            .sorted()
        var changed = Set<String>()
        if stripDebugInfo {
            let strip = try ToolRunner.which("strip")
            let stripped = all.filter { !fromWheels.contains($0) }
            changed.formUnion(stripped)
            for batch in stride(from: 0, to: stripped.count, by: 64).map({
                Array(stripped[$0..<min($0 + 64, stripped.count)])
            }) {
                _ = try ToolRunner.check(
                    [strip, "--strip-debug", "--preserve-dates"] + batch.map { "\(root)/\($0)" },
                    failure: "Cannot strip debug information under \(root)")
            }
        }
        // Every ELF file whose own needs include a bundled library, or that carries an absolute search path
        // (pyenv's interpreter points at its build prefix), gets a relative RUNPATH.
        for file in Set(all).sorted() {
            let full = "\(root)/\(file)"
            let needed = try ToolRunner.check([patchelf, "--print-needed", full], failure: "Cannot read \(full)")
                .split(whereSeparator: \.isNewline).map(String.init)
            let current = try ToolRunner.check([patchelf, "--print-rpath", full], failure: "Cannot read \(full)")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let kept = current.split(separator: ":").map(String.init).filter { $0.hasPrefix("$ORIGIN") }
            let needsBundled = needed.contains { bundled[$0] != nil && !Self.isCLibrary($0) }
            let hasAbsolute = current.split(separator: ":").contains { !$0.hasPrefix("$ORIGIN") }
            guard needsBundled || (hasAbsolute && !fromWheels.contains(file)) else { continue }
            // A wheel's executable (cmake's `cmake/data/bin/cmake`: it has a PT_INTERP) runs under the host's loader,
            // not the image's: in the portable layout a search path into the library directory would make that
            // loader take the carried libc.so.6 (`version GLIBC_2.35 not found` on an older host). It keeps its
            // bytes and takes the host's libraries, as when pip installs it.
            if carriedLoader != nil, fromWheels.contains(file), try ImageFloor.read(full)?.interpreter != nil {
                continue
            }
            changed.insert(file)
            let directory = (file as NSString).deletingLastPathComponent
            let relative = WheelInstaller.relative(libraryDirectory, to: directory)
            let mine = relative.isEmpty ? "$ORIGIN" : "$ORIGIN/\(relative)"
            // A rewritten file also finds the libraries of the tree it needs by itself (pillow's libfreetype needs
            // libpng16 beside it, which it found through the RPATH of the module that loads it).
            let siblings = needed.compactMap { inTree[$0] }.map { dir -> String in
                let relative = WheelInstaller.relative(dir, to: directory)
                return relative.isEmpty ? "$ORIGIN" : "$ORIGIN/\(relative)"
            }
            var runpath: [String] = []
            for entry in [needsBundled ? mine : nil].compactMap({ $0 }) + kept + siblings
            where !runpath.contains(entry) {
                runpath.append(entry)
            }
            // A wheel's file gets a DT_RPATH unless it had a DT_RUNPATH: a DT_RUNPATH would stop the loader from
            // using the DT_RPATH of the file that loads it, which auditwheel relies on (pillow's libtiff finds its
            // liblzma through _imaging's RPATH, and needs a bundled libz).
            let kind = try fromWheels.contains(file) && !Self.hasRUNPATH(full) ? ["--force-rpath"] : []
            if runpath.isEmpty {
                _ = try ToolRunner.check([patchelf, "--remove-rpath", full], failure: "Cannot rewrite \(full)")
            } else {
                _ = try ToolRunner.check(
                    [patchelf] + kind + ["--set-rpath", runpath.joined(separator: ":"), full],
                    failure: "Cannot rewrite \(full)")
            }
        }
        modified = changed.sorted()
    }

    /// True when the dynamic section of the ELF file at `path` has a `DT_RUNPATH` (`readelf -d` says `(RUNPATH)`).
    static func hasRUNPATH(_ path: String) throws -> Bool {
        let output = try ToolRunner.check(["readelf", "-d", path], failure: "Cannot read \(path)")
        return output.split(whereSeparator: \.isNewline).contains { $0.contains("(RUNPATH)") }
    }

    /// Copies the loader, the rest of the glibc family and the NSS modules next to the bundled `libc.so.6`.
    ///
    /// The whole family, not only what this tree's `ldd` closure names: a library of it that the carried loader
    /// does not find in `--library-path` comes from the host, and on an older host that copy does not work with
    /// the carried `libc.so.6` (`libdl.so.2: undefined symbol: _dl_vsym, version GLIBC_PRIVATE`). The wheels of a
    /// thin application on a runtime (manylinux2014 ones link `libdl`, `librt`, `libpthread` separately) and
    /// `ctypes.CDLL("librt.so.1")` need what the runtime's own files did not. `libmvec.so.1` (1 MB; 250 KB
    /// compressed, three times the rest of the family) only in a runtime or when the closure has it: a standalone
    /// image's closure covers its wheels, and only a `ctypes` load by name would miss it. A runtime also carries
    /// the C++ runtime (`forRuntime`): without it a thin application's C++ wheel (pyzmq's libzmq) fails on a host
    /// with no `libstdc++.so.6`, where the same application built standalone runs.
    mutating func carryLoader(_ loader: String) throws {
        guard let libc = bundled["libc.so.6"] else {
            throw PythonBuildError("The interpreter does not link libc.so.6, so its C library cannot be carried.")
        }
        let hostDirectory = (libc as NSString).deletingLastPathComponent
        var files = [((loader as NSString).lastPathComponent, Self.realPath(loader))]
        let family = Self.baseLibraries.filter {
            Self.isCLibrary($0) && !$0.hasPrefix("ld-linux") && (forRuntime || $0 != "libmvec.so.1")
        }.sorted()
        for module in family + PythonLayout.carriedNSSModules where FileSystem.exists("\(hostDirectory)/\(module)") {
            files.append((module, Self.realPath("\(hostDirectory)/\(module)")))
        }
        // Where the distribution keeps the C++ runtime: beside libc, or under /usr when /lib is not merged.
        for soname in forRuntime ? ["libgcc_s.so.1", "libstdc++.so.6"] : [] {
            if let found = [hostDirectory, "/usr" + hostDirectory].first(where: {
                FileSystem.exists("\($0)/\(soname)")
            }) {
                files.append((soname, Self.realPath("\(found)/\(soname)")))
            }
        }
        for (soname, real) in files where bundled[soname] == nil {
            let destination = "\(root)/\(libraryDirectory)/\(soname)"
            try FileSystem.copyFile(real, to: destination, permissions: 0o755)
            bundled[soname] = real
        }
    }

    /// The path with every symlink resolved (`realpath(3)`); Foundation's `resolvingSymlinksInPath` stops early
    /// on Linux when a leading directory (`/lib` → `usr/lib`) is itself a link.
    static func realPath(_ path: String) -> String {
        FileSystem.resolvedPath(path) ?? path
    }

    /// Paths, relative to `root`, of the regular files that start with the ELF magic.
    static func elfFiles(under root: String) throws -> [String] {
        var found: [String] = []
        guard let entries = try? FileSystem.walk(root) else { return [] }
        for entry in entries where entry.kind == .regular {
            guard let file = try? ReadOnlyFile(opening: "\(root)/\(entry.path)") else { continue }
            if try file.bytes(at: 0, count: 4) == [0x7f, 0x45, 0x4c, 0x46] { found.append(entry.path) }
        }
        return found.sorted()
    }
}
