import Foundation

/// The import index: every module of the image, found at build time, so that a run imports without searching.
///
/// CPython's path-based import looks for each module in each `sys.path` directory with `FileFinder`: a `stat`
/// of the directory, one per candidate file name, another of the source before the bytecode is read through a
/// file object (`open`, `fstat`, `ioctl`, `read`, `read`, `close`), and a good deal of Python code around them.
/// For an application like black that is several thousand system calls and most of the gap to a native venv.
/// The image never changes, so `xarbuild` asks the bundled interpreter's own `FileFinder` once, at build time,
/// what every name in every importable directory resolves to, and writes the answers to
/// `/.xar/import-index.marshal`. At run time `/.xar/_xar_importer.py` (installed by the bootstrap) answers
/// from that index as a path entry hook for the image's directories: same specs, same loaders (a subclass of
/// `SourceFileLoader` that reads the bytecode in one `open` and one `read`), same order of `sys.path`, and
/// directories outside the image untouched. `XAR_IMPORT_INDEX=0` in the environment turns it off.
///
/// The index is `{directory relative to the image root: {name: (kind, file, bytecode size, is package)}}`,
/// marshalled in format version 2 (no back references, so the bytes depend only on the tree).
enum PythonImportIndex {
    /// Where the index lives, relative to the image root.
    static let path = ".xar/import-index.marshal"

    /// Writes the index for the directories of `searchPath` (relative to `root`), running `interpreter`.
    static func write(root: String, interpreter: String, searchPath: [String]) throws {
        let output = try ToolRunner.run(
            [interpreter, "-I", "-S", "-c", generator, root, "\(root)/\(path)"] + searchPath, environment: [:],
            directory: root)
        guard output.status == 0 else {
            throw PythonBuildError("Cannot index the image's modules with \(interpreter): \(output.stderrTail)")
        }
    }

    /// Run by the interpreter being bundled: argv = root, output, search path directories (relative to root).
    static let generator = """
        import marshal, os, sys
        from importlib.machinery import (BYTECODE_SUFFIXES, EXTENSION_SUFFIXES, SOURCE_SUFFIXES,
            ExtensionFileLoader, FileFinder, SourceFileLoader, SourcelessFileLoader)
        from importlib.util import MAGIC_NUMBER, cache_from_source
        from importlib._bootstrap_external import _get_supported_file_loaders

        SOURCE, SOURCE_ONLY, SOURCELESS, EXTENSION, NAMESPACE = range(5)
        root, output, search_path = sys.argv[1], sys.argv[2], sys.argv[3:]
        details = _get_supported_file_loaders()
        suffixes = EXTENSION_SUFFIXES + SOURCE_SUFFIXES + BYTECODE_SUFFIXES
        index = {}

        def bytecode_size(source):
            # Only unchecked hash-based bytecode (flags 0b01) of this interpreter is read as it is at run time.
            path = cache_from_source(source)
            try:
                with open(path, 'rb') as f:
                    header = f.read(16)
                size = os.path.getsize(path)
            except OSError:
                return 0
            if len(header) < 16 or header[:4] != MAGIC_NUMBER or int.from_bytes(header[4:8], 'little') != 1:
                return 0
            return size

        def visit(directory, depth):
            relative = os.path.relpath(directory, root)
            if relative in index or relative.startswith('..') or depth > 64:
                return
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                return
            candidates = set()
            for name in names:
                if name == '__pycache__':
                    continue
                if os.path.isdir(os.path.join(directory, name)):
                    candidates.add(name)
                    continue
                for suffix in suffixes:
                    if name.endswith(suffix) and len(name) > len(suffix):
                        candidates.add(name[:-len(suffix)])
            entries = index[relative] = {}
            finder = FileFinder(directory, *details)
            for name in sorted(candidates):
                if '.' in name:
                    continue
                spec = finder.find_spec(name)
                if spec is None:
                    continue
                if spec.loader is None:
                    entries[name] = (NAMESPACE, name, 0, True)
                    visit(os.path.join(directory, name), depth + 1)
                    continue
                file = os.path.relpath(spec.origin, directory)
                package = spec.submodule_search_locations is not None
                kind = type(spec.loader)
                if kind is SourceFileLoader:
                    size = bytecode_size(spec.origin)
                    entries[name] = (SOURCE, file, size, package) if size else (SOURCE_ONLY, file, 0, package)
                elif kind is SourcelessFileLoader:
                    entries[name] = (SOURCELESS, file, 0, package)
                elif kind is ExtensionFileLoader:
                    entries[name] = (EXTENSION, file, 0, package)
                else:
                    continue
                if package:
                    visit(os.path.join(directory, name), depth + 1)

        for entry in search_path:
            visit(os.path.normpath(os.path.join(root, entry)), 0)
        with open(output, 'wb') as f:
            f.write(marshal.dumps(index, 2))
        """

    /// The text of `/.xar/_xar_importer.py`.
    static let importerModule = """
        \"\"\"Imports the image's modules from the index xarbuild wrote, without searching (see docs/python.md).

        install() puts a path entry hook in front of sys.path_hooks. For a directory of the image it returns a
        finder that answers from /.xar/import-index.marshal what FileFinder answered at build time; every other
        directory gets the standard finders. XAR_IMPORT_INDEX=0 in the environment leaves imports alone.
        \"\"\"
        import _imp
        import marshal
        import sys
        import _frozen_importlib as _bootstrap
        import _frozen_importlib_external as _external
        from posix import O_CLOEXEC, O_RDONLY, close as _close, environ as _environ, fstat as _fstat
        from posix import open as _open, read as _read

        _SOURCE, _SOURCE_ONLY, _SOURCELESS, _EXTENSION, _NAMESPACE = range(5)
        #: The image's root directory: the parent of /.xar.
        ROOT = __file__.rpartition('/')[0].rpartition('/')[0]


        class BytecodeLoader(_external.SourceFileLoader):
            \"\"\"A SourceFileLoader that reads the bytecode compiled at build time in one open and one read.

            The image is read-only and its bytecode unchecked-hash, so there is no source to stat and nothing to
            validate; anything unexpected falls back to SourceFileLoader.
            \"\"\"

            def __init__(self, fullname, path, size):
                super().__init__(fullname, path)
                self._size = size

            def get_code(self, fullname):
                try:
                    fd = _open(_external.cache_from_source(self.path), O_RDONLY | O_CLOEXEC)
                    try:
                        data = _read(fd, self._size)
                    finally:
                        _close(fd)
                except (OSError, NotImplementedError):
                    data = b''
                if len(data) != self._size:
                    return super().get_code(fullname)
                code = marshal.loads(memoryview(data)[16:])
                _imp._fix_co_filename(code, self.path)
                return code


        class Finder:
            \"\"\"The path entry finder of one directory of the image.\"\"\"

            def __init__(self, path, entries):
                self.path = path
                self._entries = entries

            def __repr__(self):
                return f'Finder({self.path!r})'

            def find_spec(self, fullname, target=None):
                entry = self._entries.get(fullname.rpartition('.')[2])
                if entry is None:
                    return None
                kind, name, size, package = entry
                path = self.path + '/' + name
                if kind == _NAMESPACE:
                    spec = _bootstrap.ModuleSpec(fullname, None)
                    spec.submodule_search_locations = [path]
                    return spec
                if kind == _SOURCE:
                    loader = BytecodeLoader(fullname, path, size)
                elif kind == _SOURCE_ONLY:
                    loader = _external.SourceFileLoader(fullname, path)
                elif kind == _SOURCELESS:
                    loader = _external.SourcelessFileLoader(fullname, path)
                else:
                    loader = _external.ExtensionFileLoader(fullname, path)
                locations = [path.rpartition('/')[0]] if package else None
                return _external.spec_from_file_location(
                    fullname, path, loader=loader, submodule_search_locations=locations)

            def invalidate_caches(self):
                pass

            def iter_modules(self, prefix=''):
                \"\"\"What pkgutil.iter_modules lists: the modules and regular packages here.\"\"\"
                for name in sorted(self._entries):
                    kind, _, _, package = self._entries[name]
                    if kind != _NAMESPACE and name != '__init__':
                        yield prefix + name, package


        def install():
            \"\"\"Serves the image's directories from the index; does nothing without one.\"\"\"
            if _environ.get(b'XAR_IMPORT_INDEX') == b'0':
                return
            try:
                fd = _open(ROOT + '/.xar/import-index.marshal', O_RDONLY | O_CLOEXEC)
                try:
                    size = _fstat(fd).st_size
                    data = _read(fd, size)
                finally:
                    _close(fd)
            except OSError:
                return
            if len(data) != size:
                return
            index = marshal.loads(data)
            prefix = ROOT + '/'

            def hook(path):
                entries = index.get(path[len(prefix):]) if path.startswith(prefix) else None
                if entries is None:
                    raise ImportError('not a directory of the image', path=path)
                return Finder(path, entries)

            sys.path_hooks.insert(0, hook)
            for path in [path for path in sys.path_importer_cache if path and path.startswith(prefix)]:
                del sys.path_importer_cache[path]

        """
}
