"""What site does for the image in a process started from sys.executable; xarbuild writes it into the standard library.

sys.executable (python/python3) reads python/python3._pth, which names the image's whole search path and says
`import site`; site then imports this module (a distribution's own sitecustomize, such as Debian's apport hook, is
replaced: the image is its own installation). It does what CPython's site does for the image's site-packages when
the interpreter's site leaves it out (Debian's names only dist-packages directories): the .pth files, path and
import lines, in sorted order. In a process started from a thin application (docs/runtimes.md, "Children"), whose
bootstrap sets XAR_PYTHON_APP to "<runtime root>:<application root>", it then puts the application's part of the
search path first, as the application's own process has it, and processes its site-packages' .pth files; a value
naming another root (another runtime's, a standalone image's) is ignored. Then any other sitecustomize on sys.path
(a wheel's, or a thin application's) runs, as it would have without this one. (In a standalone image's children,
one in the application's source directory comes before the standard library and is imported instead of this one.)
"""
import os
import site
import sys


def _main():
    known = {site.makepath(path)[1] for path in sys.path}
    version = 'python%d.%d' % sys.version_info[:2]
    sitedir = sys.base_prefix + '/lib/' + version + '/site-packages'
    if sitedir not in site.getsitepackages():
        site.addsitedir(sitedir, known)
    runtime = sys.base_prefix.rpartition('/')[0] + ':'
    application = os.environ.get('XAR_PYTHON_APP', '')
    if application.startswith(runtime) and len(application) > len(runtime):
        root = application[len(runtime):]
        try:
            # The application's part of the search path its bootstrap sets, relative to its root.
            with open(root + '/.xar/search-path', encoding='utf-8') as file:
                paths = [root + '/' + entry for entry in file.read().splitlines() if entry]
        except OSError:
            paths = []
        sys.path[:0] = [path for path in paths if site.makepath(path)[1] not in known]
        known.update(site.makepath(path)[1] for path in paths)
        appdir = root + '/python/lib/' + version + '/site-packages'
        if appdir in paths:
            site.addsitedir(appdir, known)
        if sys.prefix == sys.base_prefix:
            # The application's prefix, as its own process has it (bootstrap.py); not in a venv, whose own it is.
            sys.prefix = sys.exec_prefix = root + '/python'


def _chain():
    # Any other sitecustomize on the path (a wheel's, or a thin application's, which now comes first), once.
    here = __file__.rpartition('/')[0]
    others = [path for path in sys.path if path != here]
    # The import system's own modules, loaded at start: importlib.util would import contextlib, collections and
    # functools (~4 ms) into every child.
    import _frozen_importlib
    import _frozen_importlib_external
    spec = _frozen_importlib_external.PathFinder.find_spec('sitecustomize', others)
    if spec is not None and spec.loader is not None:
        module = _frozen_importlib.module_from_spec(spec)
        sys.modules['sitecustomize'] = module
        spec.loader.exec_module(module)


_main()
_chain()
