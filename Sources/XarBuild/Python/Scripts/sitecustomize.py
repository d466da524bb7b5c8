"""What site does for the image in a process started from sys.executable; xarbuild writes it into the standard library.

sys.executable (python/python3) reads python/python3._pth, which names the image's whole search path and says
`import site`; site then imports this module (a distribution's own sitecustomize, such as Debian's apport hook, is
replaced: the image is its own installation). It does what CPython's site does for the image's site-packages when
the interpreter's site leaves it out (Debian's names only dist-packages directories): the .pth files, path and
import lines, in sorted order. Then any other sitecustomize on sys.path (a wheel's) runs, as it would have without
this one. (In a standalone image's children, one in the application's source directory comes before the standard
library and is imported instead of this one.)
"""
import site
import sys


def _main():
    known = {site.makepath(path)[1] for path in sys.path}
    version = 'python%d.%d' % sys.version_info[:2]
    sitedir = sys.base_prefix + '/lib/' + version + '/site-packages'
    if sitedir not in site.getsitepackages():
        site.addsitedir(sitedir, known)


def _chain():
    # Any other sitecustomize on the path (a wheel's), once.
    here = __file__.rpartition('/')[0]
    others = [path for path in sys.path if path != here]
    import importlib.machinery
    import importlib.util
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules['sitecustomize'] = module
        spec.loader.exec_module(module)


_main()
_chain()
