import XarFormat

/// Everything `xarbuild python` is asked to put in an image.
public struct PythonBuildOptions: Sendable {
    /// An entry point: what a command name runs.
    public enum EntryPoint: Sendable, Hashable {
        /// `NAME=module:function` — import `module`, call `function()`, exit with what it returns (console-script
        /// semantics). An empty target means the console script `NAME` of an installed wheel (`--entry-point NAME`).
        case function(name: String, target: String)
        /// `NAME=module` — run `module` as `python -m module` would.
        case module(name: String, module: String)

        /// The command name.
        public var name: String {
            switch self {
            case .function(let name, _), .module(let name, _): return name
            }
        }
    }

    /// The CPython installation to bundle: its executable (`/usr/bin/python3.11`, a pyenv `bin/python3`).
    public var python: String
    /// The application's source directory, copied to `/app` and put first on `sys.path`.
    public var source: String?
    /// The application's own wheels: installed without a lock entry (their hashes are recorded).
    public var wheels: [String] = []
    /// A project directory with a `pyproject.toml` whose wheel is built (PEP 517) and installed as the
    /// application's own (`ProjectWheelBuilder`); its console scripts become entry points.
    public var project: String?
    /// The lock of third-party dependencies (`-r`): a requirements file, `pylock.toml` or `uv.lock`.
    public var requirements: String?
    /// The directory holding the locked wheels.
    public var wheelhouse: String?
    /// Explicit entry points, in order; the first is the default unless `defaultEntry` says otherwise.
    public var entryPoints: [EntryPoint] = []
    /// The entry point run when the image is invoked under a name that is not an entry point.
    public var defaultEntry: String?
    /// Make every console script of every installed wheel an entry point (`--all-scripts`), not only the
    /// application wheels' ones.
    public var allScripts = false
    /// Prove at build time that every entry point imports and every changed ELF file loads, and fail the build
    /// when one does not (`--no-check` turns the failures into notes).
    public var check = true
    /// The source revision to record; from git (the source directory's checkout) when nil.
    public var revision: String?
    /// Standard-library parts kept although they are left out by default (`tkinter`, `test`, …).
    public var keepStdlib: [String] = []
    /// Remove debug information (`strip --strip-debug`) from the ELF files in the image: a pyenv build's
    /// libpython carries ~15 MB of it. Symbol tables stay, so tracebacks from native crashes keep their names.
    public var stripDebugInfo = true
    /// Where the interpreter's C library comes from: carried in the image (`portable`, runs on older hosts) or the
    /// host's (`host`, the build host's glibc or newer).
    public var layout: PythonLayout = .portable
    /// Write `/.xar/startup-files` (the files the default entry point starts with, found by importing its module
    /// at build time) so that an image's first cold start on a host reads ahead (`PythonStartupList`).
    public var startupList = true
    /// The build time and the time stamp of every file: `SOURCE_DATE_EPOCH` when set.
    public var sourceDateEpoch: Int?
    /// The header's first line: `#!/usr/bin/env xarexec` unless a fixed launcher path is wanted
    /// (`XarHeader.shebang(launcher:)`).
    public var shebang: String = XarHeader.defaultShebang
    /// Build a runtime image (`xarbuild runtime`, docs/runtimes.md): the interpreter and the lock's wheels, no
    /// application and no entry points; run, it behaves like `python3`.
    public var isRuntime = false
    /// The runtime a thin application is built against (`xarbuild python --runtime`): the image then holds no
    /// interpreter and none of the runtime's packages, and its header names the runtime by digest.
    public var runtime: PythonRuntimeBase?
    /// The builder's name and version, recorded in the metadata (`xarbuild 0.1.0`).
    public var builder: String = "xarbuild 0.1.0"

    /// Options for bundling the interpreter at `python`.
    public init(python: String) { self.python = python }
}
