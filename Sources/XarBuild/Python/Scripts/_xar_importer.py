"""Imports the image's modules from the index xarbuild wrote, without searching (see docs/python.md).

install() puts a path entry hook in front of sys.path_hooks. For a directory of the image it returns a
finder that answers from /.xar/import-index.marshal what FileFinder answered at build time; every other
directory gets the standard finders. XAR_IMPORT_INDEX=0 in the environment leaves imports alone.
"""
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
    """A SourceFileLoader that reads the bytecode compiled at build time in one open and one read.

    The image is read-only and its bytecode unchecked-hash, so there is no source to stat and nothing to
    validate; anything unexpected falls back to SourceFileLoader.
    """

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


class Finder(_external.FileFinder):
    """The path entry finder of one directory of the image.

    A FileFinder subclass, because code outside the import system picks what to do with a sys.path entry by
    its finder's class: pkg_resources finds distributions (get_distribution, iter_entry_points) and extends
    declare_namespace() packages only on FileFinder entries, and pkgutil lists FileFinder directories. The
    directory is a plain directory, so their FileFinder ways are right for it. FileFinder.__init__ is not
    called: it would set up the directory listing cache this finder replaces.
    """

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


def install(root=ROOT):
    """Serves the directories of the image at root (default: this one) from its index; does nothing without one.

    A thin image calls it a second time for its runtime's root: the runtime's own index answers for the standard
    library and the runtime's packages.
    """
    if _environ.get(b'XAR_IMPORT_INDEX') == b'0':
        return
    try:
        fd = _open(root + '/.xar/import-index.marshal', O_RDONLY | O_CLOEXEC)
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
    prefix = root + '/'

    def hook(path):
        entries = index.get(path[len(prefix):]) if path.startswith(prefix) else None
        if entries is None:
            raise ImportError('not a directory of the image', path=path)
        return Finder(path, entries)

    sys.path_hooks.insert(0, hook)
    for path in [path for path in sys.path_importer_cache if path and path.startswith(prefix)]:
        del sys.path_importer_cache[path]

