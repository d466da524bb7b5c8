"""Starts the entry point named by the launcher (see docs/python.md); xarbuild writes it into /.xar.

The launcher runs it from its bytecode: python3 -I -S /mount/.xar/bootstrap.pyc ARGV0 ENTRY args...
It sets sys.path (the launch reads no ._pth file and imports no site) and sys.executable, installs the import
index, restores sys.argv to [ARGV0, args...], runs the .pth import lines resolved at build time (as site would,
from its own frame, one file after another), then calls the entry point. Its work is guarded by
__name__ == '__main__', so multiprocessing's spawn, which re-runs the main script as __mp_main__ in each child,
does nothing twice.
"""
import sys

# xarbuild: begin generated values (these defaults are replaced in each image)
_ENTRIES = {}  # name: ('function', 'module:attr') or ('module', 'module')
_DEFAULT = ''
_PTH_IMPORTS = ()  # ((.pth file relative to the image root, ((line number, import line), ...)), ...)
_SEARCH_PATH = ()  # sys.path, relative to the image root
_RUNTIME_PATH = ()  # a thin image's: the runtime's part of sys.path, relative to the runtime's root
_RUNTIME_PTH_IMPORTS = ()  # a thin image's: its runtime's .pth import lines, files relative to the runtime's root
# xarbuild: end generated values

# The image root is two levels above /.xar/bootstrap.pyc.
_root = __file__.rpartition('/')[0].rpartition('/')[0]
if _RUNTIME_PATH:
    # A thin image (docs/runtimes.md) runs on a runtime's interpreter, whose base prefix is <runtime root>/python
    # (base: in a child started from sys.executable, the runtime's sitecustomize has already set the prefix).
    _base = sys.base_prefix.rpartition('/')[0]
    # This image is to its runtime what a venv is to its base interpreter (PEP 405): the prefix is its own
    # python/, where its wheels' scripts, data and headers are, so sysconfig's scripts, purelib and data paths
    # name them (ruff and ninja find their binaries there); the base prefix stays the runtime's (the standard
    # library, its include directory).
    sys.prefix = sys.exec_prefix = _root + '/python'
    # The application first, then the runtime. The interpreter (the process's executable) pins the runtime's
    # mount; nothing of this image stays open once the imports are done, so a descriptor on its root pins its
    # mount for as long as this process runs (the server sees it in /proc/PID/fd). Close-on-exec: a program
    # this one execs is not ours to keep alive.
    import posix
    _MOUNT_PIN = posix.open(_root, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    # What a child started from sys.executable (the runtime's python3) needs to see this application, as a child
    # of a standalone image does: the runtime's sitecustomize (Scripts/sitecustomize.py) puts the application's
    # path first when this names its own runtime root. A thin image started as a child sets its own; other
    # programs ignore it (docs/runtimes.md, "Children").
    _child = (_base + ':' + _root).encode('utf-8', 'surrogateescape')
    posix.putenv(b'XAR_PYTHON_APP', _child)
    posix.environ[b'XAR_PYTHON_APP'] = _child  # os.environ is made from this when os is first imported
    if 'os' in sys.modules:
        sys.modules['os'].environ['XAR_PYTHON_APP'] = _base + ':' + _root
    del posix, _child
else:
    _base = _root
sys.path[:] = [_root + '/' + _p for _p in _SEARCH_PATH] + [_base + '/' + _p for _p in _RUNTIME_PATH]
# What the application's children start: python/python3, which runs on any host the image runs on (in the
# portable layout a trampoline to the image's own loader), never the ELF file this process runs. A thin image's
# is its runtime's.
sys.executable = sys._base_executable = _base + '/python/python3'

import _xar_importer  # noqa: E402 (found through the search path set above)

_xar_importer.install()
if _RUNTIME_PATH:
    _xar_importer.install(_base)  # the runtime's own index: its standard library and packages


def _pth_imports():
    """The .pth import lines to run, as (absolute .pth file, line number, line): a runtime's, then the image's.

    The order of a child's site and sitecustomize, which process the interpreter's own site-packages first.
    """
    return [(top + '/' + name, number, line)
            for top, files in ((_base, _RUNTIME_PTH_IMPORTS if _RUNTIME_PATH else ()), (_root, _PTH_IMPORTS))
            for name, lines in files for number, line in lines]


def _exec_pth_line(sitedir, line):
    # site.addpackage runs each line in a frame with a local `sitedir`; namespace packages' -nspkg.pth lines read
    # it through sys._getframe(1).f_locals['sitedir'].
    exec(line)


def _run_pth_imports():
    """Runs the .pth import lines as site does: in order, a failing line reported and the rest of its file skipped."""
    failed = None
    for path, number, line in _pth_imports():
        if path == failed:
            continue
        try:
            _exec_pth_line(path.rpartition('/')[0], line)
        except Exception:
            import traceback
            print('Error processing line %d of %s:\n' % (number, path), file=sys.stderr)
            for record in traceback.format_exception(*sys.exc_info()):
                for text in record.splitlines():
                    print('  ' + text, file=sys.stderr)
            print('\nRemainder of file ignored', file=sys.stderr)
            failed = path


def _run():
    argv0 = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    name = sys.argv[2] if len(sys.argv) > 2 else ''
    if name not in _ENTRIES:
        base = argv0.rpartition('/')[2]
        name = base if base in _ENTRIES else _DEFAULT
    sys.argv[:3] = [argv0]
    _run_pth_imports()
    kind, target = _ENTRIES[name]
    if kind == 'module':
        import runpy
        runpy._run_module_as_main(target, alter_argv=False)
        return
    module, _, attr = target.partition(':')
    # No garbage collection while the entry module and its imports load: they allocate a great deal and
    # free little, and CPython would otherwise collect every 700 allocations. The application's own
    # threshold changes (or gc.disable) made during the import are kept.
    import gc
    threshold = gc.get_threshold()
    gc.set_threshold(0, *threshold[1:])
    try:
        __import__(module)
    finally:
        if gc.get_threshold() == (0, *threshold[1:]):
            gc.set_threshold(*threshold)
    obj = sys.modules[module]
    for part in attr.split('.'):
        obj = getattr(obj, part)
    sys.exit(obj())


if __name__ == '__main__':
    _run()
